"""SBOM attestations: a CycloneDX document about an artifact, as an in-toto predicate.

The predicate type is ``https://cyclonedx.org/bom`` and the predicate *is* the CycloneDX JSON
document.  turbosec either builds it (with cyclonedx-python-lib, from the packages the
project's lockfiles pin, the artifact itself as ``metadata.component`` with its SHA-256) or
takes one another tool produced (``--sbom FILE``), after checking that it is a CycloneDX JSON
document of a supported version.

Built documents are deterministic for the same inputs: the serial number is derived from the
artifact's digest and the package list, and the timestamp is the one given.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from turbosec.integrity.errors import FormatError, SigningError
from turbosec.integrity.intoto import Statement, statement_for

PREDICATE_TYPE = "https://cyclonedx.org/bom"
SPEC_VERSIONS = ("1.2", "1.3", "1.4", "1.5", "1.6")
MAX_SBOM_BYTES = 32 * 1024 * 1024

_PURL_TYPES = {"PyPI": "pypi", "npm": "npm"}


@dataclass(frozen=True, order=True)
class Package:
    ecosystem: str  # "PyPI" or "npm"
    name: str
    version: str

    @property
    def purl(self) -> str:
        from packageurl import PackageURL

        kind = _PURL_TYPES.get(self.ecosystem)
        if kind is None:
            raise SigningError(f"no package URL type for ecosystem {self.ecosystem!r}")
        name = self.name.lower().replace("_", "-") if kind == "pypi" else self.name
        namespace = None
        if kind == "npm" and name.startswith("@") and "/" in name:
            namespace, name = name.split("/", 1)
        return str(PackageURL(type=kind, namespace=namespace, name=name, version=self.version))


def build_sbom(
    packages: Sequence[Package],
    *,
    artifact_name: str,
    artifact_sha256: str,
    timestamp: datetime,
    tool_version: str,
) -> dict[str, Any]:
    """A CycloneDX 1.6 JSON document: the artifact and the packages it is built from."""
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output import make_outputter
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from packageurl import PackageURL

    unique = sorted(set(packages))
    seed = artifact_sha256 + "\n" + "\n".join(p.purl for p in unique)
    bom = Bom(serial_number=uuid.uuid5(uuid.NAMESPACE_URL, "turbosec-sbom:" + seed))
    bom.metadata.timestamp = timestamp
    root = Component(
        name=artifact_name,
        type=ComponentType.FILE,
        bom_ref=f"artifact:{artifact_name}",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=artifact_sha256)],
    )
    bom.metadata.component = root
    members = []
    for package in unique:
        purl = package.purl
        component = Component(
            name=package.name,
            version=package.version,
            type=ComponentType.LIBRARY,
            purl=PackageURL.from_string(purl),
            bom_ref=purl,
        )
        bom.components.add(component)
        members.append(component)
    bom.register_dependency(root, members)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the library warns about incomplete graphs
        text = make_outputter(bom, OutputFormat.JSON, SchemaVersion.V1_6).output_as_string()
    document: dict[str, Any] = orjson.loads(text)
    # Name the tool that made the document: us, not only the library.
    metadata = document.setdefault("metadata", {})
    tools = metadata.get("tools")
    entry = {"type": "application", "name": "turbosec", "version": tool_version}
    if isinstance(tools, dict):
        tools.setdefault("components", []).insert(0, entry)
    else:
        metadata["tools"] = {"components": [entry]}
    return document


def check_document(data: object, *, source: str) -> dict[str, Any]:
    """Check that ``data`` is a CycloneDX JSON document turbosec can attest; returns it."""
    if not isinstance(data, dict):
        raise FormatError("the SBOM is not a JSON object", where=source)
    if data.get("bomFormat") != "CycloneDX":
        raise FormatError(
            f"bomFormat is {data.get('bomFormat')!r}, not 'CycloneDX'",
            where=source,
            hint="attest a CycloneDX JSON SBOM (SPDX is not supported)",
        )
    spec = data.get("specVersion")
    if spec not in SPEC_VERSIONS:
        raise FormatError(
            f"specVersion {spec!r} is not one of {', '.join(SPEC_VERSIONS)}", where=source
        )
    components = data.get("components", [])
    if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
        raise FormatError("components must be a list of objects", where=source)
    return data


def load_document(path: Path) -> dict[str, Any]:
    """Read a CycloneDX JSON file made by another tool, bounded and checked."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_SBOM_BYTES:
            raise SigningError(
                f"the SBOM is {size} bytes, larger than {MAX_SBOM_BYTES}", where=source
            )
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise SigningError("SBOM file not found", where=source, hint="check --sbom") from exc
    except OSError as exc:
        raise SigningError(f"cannot read the SBOM: {exc.strerror}", where=source) from exc
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FormatError(
            f"the SBOM is not valid JSON ({exc})",
            where=source,
            hint="turbosec attests CycloneDX JSON; XML SBOMs are not supported",
        ) from exc
    return check_document(data, source=source)


def sbom_statement(
    artifact_name: str, artifact_sha256: str, document: Mapping[str, Any]
) -> Statement:
    return statement_for([(artifact_name, artifact_sha256)], PREDICATE_TYPE, document)


def summary(document: Mapping[str, Any]) -> str:
    """A one-line description for verification output."""
    components = document.get("components") or []
    return f"CycloneDX {document.get('specVersion')} SBOM with {len(components)} component(s)"
