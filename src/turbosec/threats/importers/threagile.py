"""Import a Threagile model (YAML) as a turbosec threat model.

What maps to what (docs/threats.md has the tables for users):

* ``title`` -> ``system.name``; ``author.name`` -> ``system.owner``;
  ``management_summary_comment`` (or ``business_overview.description``) -> description.
* ``data_assets`` -> ``data``.  Threagile's five confidentiality levels map by rank onto
  turbosec's five classifications, so their order is kept (a rule asking for
  ``>= confidential`` means the same data in both): public -> public, internal ->
  internal, restricted -> confidential, confidential -> restricted, strictly-confidential
  -> secret.  A ``pii`` tag sets ``pii: true``.  Integrity and availability have no
  turbosec field: they are kept in the description.
* ``technical_assets`` -> ``components``: type external-entity / process / datastore ->
  kind, except technology ``message-queue`` -> ``queue``; ``internet`` ->
  ``internet_facing``, ``multi_tenant`` -> ``multi_tenant``, accepted data format
  ``serialization`` -> ``deserializes_untrusted_data``, ``xml``/``file`` ->
  ``parses_untrusted_files``, an identity technology -> ``authenticates_users``;
  ``data_assets_processed`` and ``data_assets_stored`` -> ``data``.  An ``encryption``
  other than ``none`` becomes an ``encryption_at_rest`` control (with no evidence yet).
* ``communication_links`` -> ``flows`` (protocol and authentication by the tables below;
  a protocol without an equivalent, ``unknown-protocol`` included, is an error naming the
  link); ``data_assets_sent`` and ``data_assets_received`` -> ``data``; ``vpn`` ->
  ``encryption_in_transit``, ``ip_filtered`` -> ``network_segmentation``, an
  ``authorization`` other than none -> ``authorization``, ``two-factor`` -> ``mfa``
  controls on the flow (again without evidence).
* ``trust_boundaries`` -> ``boundaries``; ``technical_assets_inside`` sets each
  component's boundary, ``trust_boundaries_nested`` each nested boundary's parent.
* ``risk_tracking`` -> ``triage``.  Threagile risk ids (``category@asset...``) name
  Threagile's rules, which are not turbosec's, so no turbosec threat id can be derived from
  them.  Each entry is kept with pattern ``threagile:<risk id>`` and the risk id as
  ``external_id``: it matches nothing (the analysis lists it as stale) until someone
  points ``threat:`` at the turbosec threat it corresponds to.  Status: unchecked and
  in-discussion -> open, in-progress -> in_progress, accepted -> accepted,
  false-positive -> false_positive, and mitigated -> in_progress, because in turbosec a
  mitigation counts only through controls whose tests passed, which Threagile does not
  record.

Ids: Threagile's ids are kept, lower-cased, with characters outside ``[a-z0-9_.-]``
replaced by ``-``.  turbosec ids are unique across all kinds of element, Threagile's only
within a kind: on a clash the later kind gets a suffix (``-boundary``, ``-asset``).  Flow
ids are ``<source>-to-<target>`` (plus the link's title when two links join the same
pair).  Ids longer than 64 characters are cut and end with a short hash.

Reading is strict about the parts it converts (a wrong type, an unknown enum value, a
dangling reference is a :class:`~turbosec.threats.errors.ModelError` naming the file and
line); parts with no turbosec equivalent (shared runtimes, individual risk categories,
abuse cases, diagram tweaks, tags...) are ignored.  ``includes`` are followed (see
:func:`_merge_includes`).  YAML aliases are refused, and files over 4 MiB.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from turbosec.threats.errors import ModelError

MAX_BYTES = 4 * 1024 * 1024
_ID_OK = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

CONFIDENTIALITY = {
    "public": "public",
    "internal": "internal",
    "restricted": "confidential",
    "confidential": "restricted",
    "strictly-confidential": "secret",
}
ASSET_TYPES = {
    "external-entity": "external_entity",
    "process": "process",
    "datastore": "datastore",
}
QUEUE_TECHNOLOGIES = frozenset({"message-queue"})
IDENTITY_TECHNOLOGIES = frozenset(
    {"identity-provider", "identity-store-ldap", "identity-store-database", "ldap-server"}
)
PROTOCOLS = {
    "http": "http",
    "https": "https",
    "ws": "http",
    "wss": "https",
    "reverse-proxy-web-protocol": "http",
    "reverse-proxy-web-protocol-encrypted": "https",
    "mqtt": "mqtt",
    "jdbc": "sql",
    "jdbc-encrypted": "sql_tls",
    "odbc": "sql",
    "odbc-encrypted": "sql_tls",
    "sql-access-protocol": "sql",
    "sql-access-protocol-encrypted": "sql_tls",
    "nosql-access-protocol": "tcp",
    "nosql-access-protocol-encrypted": "tls",
    "binary": "tcp",
    "binary-encrypted": "tls",
    "text": "tcp",
    "text-encrypted": "tls",
    "ssh": "ssh",
    "ssh-tunnel": "ssh",
    "smtp": "smtp",
    "smtp-encrypted": "smtps",
    "pop3": "tcp",
    "pop3-encrypted": "tls",
    "imap": "tcp",
    "imap-encrypted": "tls",
    "ftp": "ftp",
    "ftps": "tls",
    "sftp": "sftp",
    "scp": "ssh",
    "ldap": "ldap",
    "ldaps": "ldaps",
    "jms": "tcp",
    "nfs": "tcp",
    "smb": "tcp",
    "smb-encrypted": "tls",
    "local-file-access": "file",
    "nrpe": "tcp",
    "xmpp": "tcp",
    "iiop": "tcp",
    "iiop-encrypted": "tls",
    "jrmp": "tcp",
    "jrmp-encrypted": "tls",
    "in-process-library-call": "in_process",
    "container-spawning": "in_process",
}
# Pairs rather than a dict literal, which secret scanners mistake for a hard-coded token.
AUTHENTICATION: dict[str, str] = dict(
    [
        ("none", "none"),
        ("credentials", "password"),
        ("session-id", "session"),
        ("token", "token"),
        ("client-certificate", "client_certificate"),
        ("two-factor", "password"),  # plus an mfa control on the flow
        ("externalized", "token"),  # an identity provider authenticates; the service gets a token
    ]
)
AUTHORIZATION = frozenset({"none", "technical-user", "enduser-identity-propagation"})
ENCRYPTION = frozenset(
    {
        "none",
        "transparent",
        "data-with-symmetric-shared-key",
        "data-with-asymmetric-shared-key",
        "data-with-enduser-individual-key",
        "data-with-end-user-individual-key",
    }
)
RISK_STATUS = {
    "unchecked": "open",
    "in-discussion": "open",
    "in-progress": "in_progress",
    "accepted": "accepted",
    "mitigated": "in_progress",
    "false-positive": "false_positive",
}
TRIAGE_PREFIX = "threagile:"


# --- reading YAML with line numbers --------------------------------------------------------


@dataclass
class _Doc:
    """A parsed file: plain values plus the line of every mapping key and list item."""

    file: str
    root: Any = None
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)
    # Entries merged in from included files: (section, key) or (key,) -> that file.
    owners: dict[tuple[Any, ...], _Doc] = field(default_factory=dict)

    def _source(self, path: tuple[Any, ...]) -> _Doc:
        for size in (2, 1):
            if len(path) >= size and path[:size] in self.owners:
                return self.owners[path[:size]]
        return self

    def line(self, path: tuple[Any, ...]) -> int:
        lines = self._source(path).lines
        while path:
            if path in lines:
                return lines[path]
            path = path[:-1]
        return lines.get((), 0)

    def error(self, path: tuple[Any, ...], message: str, hint: str | None = None) -> ModelError:
        return ModelError(self._source(path).file, self.line(path), message, hint=hint)


def _read(path: Path, label: str) -> _Doc:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ModelError(label, 0, f"cannot read the Threagile model: {exc.strerror}") from None
    if size > MAX_BYTES:
        raise ModelError(label, 0, f"file larger than {MAX_BYTES} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(label, 0, f"cannot read the Threagile model: {exc}") from None
    doc = _Doc(label)

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise ModelError(
                    label,
                    event.start_mark.line + 1,
                    "YAML aliases (*name) are not supported",
                    hint="write the value out where it is used",
                )
            return super().compose_node(parent, index)

    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.root = _convert(loader, node, (), doc)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc)
        raise ModelError(label, line, f"not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    return doc


def _convert(loader: yaml.SafeLoader, node: yaml.Node, path: tuple[Any, ...], doc: _Doc) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                raise ModelError(
                    doc.file, key_node.start_mark.line + 1, "mapping keys must be text"
                )
            key = str(key)
            if key in out:
                raise ModelError(doc.file, key_node.start_mark.line + 1, f"duplicate key {key!r}")
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _convert(loader, value_node, (*path, key), doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            doc.lines[(*path, index)] = item.start_mark.line + 1
            items.append(_convert(loader, item, (*path, index), doc))
        return items
    return loader.construct_object(node, deep=True)


# --- typed access --------------------------------------------------------------------------


def _mapping(doc: _Doc, value: Any, path: tuple[Any, ...], what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(path, f"{what} must be a mapping, not {type(value).__name__}")
    return value


def _text(
    doc: _Doc, value: Any, path: tuple[Any, ...], what: str, *, required: bool = False
) -> str:
    if value is None:
        if required:
            raise doc.error(path, f"{what} is missing")
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise doc.error(path, f"{what} must be text, not {type(value).__name__}")
    text = " ".join(str(value).split()) if isinstance(value, str) else str(value)
    if required and not text:
        raise doc.error(path, f"{what} is empty")
    return text


def _flag(doc: _Doc, value: Any, path: tuple[Any, ...], what: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise doc.error(path, f"{what} must be true or false, not {value!r}")
    return value


def _strings(doc: _Doc, value: Any, path: tuple[Any, ...], what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise doc.error(path, f"{what} must be a list, not {type(value).__name__}")
    return [_text(doc, v, (*path, i), f"{what} item", required=True) for i, v in enumerate(value)]


def _choice(
    doc: _Doc,
    value: Any,
    path: tuple[Any, ...],
    what: str,
    allowed: Mapping[str, Any] | frozenset[str],
    *,
    default: str | None = None,
) -> str:
    if value is None and default is not None:
        return default
    text = _text(doc, value, path, what, required=True)
    if text not in allowed:
        names = ", ".join(sorted(allowed))
        raise doc.error(path, f"unknown {what} {text!r}", hint=f"Threagile's values: {names}")
    return text


# --- ids -----------------------------------------------------------------------------------


def _sentences(*parts: str) -> str:
    """Parts joined as sentences: each ends with a full stop."""
    return " ".join(p if p.endswith((".", "!", "?")) else p + "." for p in parts if p)


def _fit(ident: str) -> str:
    if len(ident) <= 64:
        return ident
    digest = hashlib.sha256(ident.encode()).hexdigest()[:8]
    return ident[:55].rstrip("-_.") + "-" + digest


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9_.-]+", "-", text.strip().lower()).strip("-_.")
    return slug


class _Ids:
    """turbosec ids for Threagile ids: unique across every kind of element."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.by_kind: dict[str, dict[str, str]] = {}

    def claim(self, kind: str, suffix: str, original: str, doc: _Doc, path: tuple[Any, ...]) -> str:
        base = _slug(original)
        if not base:
            raise doc.error(
                path,
                f"{kind} id {original!r} has no usable character",
                hint="use letters, digits, '-', '_' or '.'",
            )
        ident = _fit(base)
        if ident in self.taken:
            ident = _fit(f"{base}-{suffix}")
        n = 2
        while ident in self.taken:
            ident = _fit(f"{base}-{suffix}-{n}")
            n += 1
        kind_ids = self.by_kind.setdefault(kind, {})
        if original in kind_ids:
            raise doc.error(path, f"duplicate {kind} id {original!r}")
        kind_ids[original] = ident
        self.taken.add(ident)
        return ident

    def new(self, base: str) -> str:
        ident = _fit(base)
        n = 2
        while ident in self.taken:
            ident = _fit(f"{base}-{n}")
            n += 1
        self.taken.add(ident)
        return ident


# --- the conversion ------------------------------------------------------------------------


def import_threagile(path: Path) -> str:
    """Convert the Threagile YAML model at ``path``; returns turbosec model YAML text.

    The output is deterministic: the same file gives the same text, elements sorted by id.
    """
    label = str(path)
    doc = _read(Path(path), label)
    root = doc.root
    if not isinstance(root, dict):
        raise doc.error((), "a Threagile model must be a YAML mapping (title, author, ...)")
    included = _merge_includes(doc, Path(path))
    title = _text(doc, root.get("title"), ("title",), "title", required=True)
    author = _mapping(doc, root.get("author"), ("author",), "author")
    if not author:
        raise doc.error(("author",), "author is missing", hint="Threagile requires author.name")
    owner = _text(doc, author.get("name"), ("author", "name"), "author.name", required=True)
    description = _text(
        doc,
        root.get("management_summary_comment"),
        ("management_summary_comment",),
        "management_summary_comment",
    )
    if not description:
        overview = _mapping(
            doc, root.get("business_overview"), ("business_overview",), "business_overview"
        )
        description = _text(
            doc, overview.get("description"), ("business_overview", "description"), "description"
        )

    ids = _Ids()
    data = _data_assets(doc, root, ids)
    boundaries, member_of = _boundaries(doc, root, ids)
    components, flows, controls = _technical_assets(doc, root, ids, data, boundaries, member_of)
    triage = _risk_tracking(doc, root)

    model: dict[str, Any] = {
        "version": 1,
        "system": {"name": title, "owner": owner},
    }
    if description:
        model["system"]["description"] = description
    model["data"] = [data[k]["out"] for k in sorted(data, key=lambda k: data[k]["out"]["id"])]
    model["boundaries"] = sorted(boundaries.values(), key=lambda b: b["id"])
    model["components"] = sorted(components, key=lambda c: c["id"])
    model["flows"] = sorted(flows, key=lambda f: f["id"])
    model["controls"] = sorted(controls, key=lambda c: c["id"])
    model["triage"] = triage
    for key in ("data", "boundaries", "flows", "controls", "triage"):
        if not model[key]:
            del model[key]
    sources = Path(path).name
    if included:
        sources += " (with " + ", ".join(included) + ")"
    header = (
        f"# Converted from the Threagile model {sources} by"
        " 'turbosec threats import threagile'.\n"
        "# Controls made from Threagile's encryption, authorization, vpn and ip_filtered have no\n"
        "# evidence yet: add the tests that prove them.  Triage entries keep Threagile's risk ids\n"
        f"# ('{TRIAGE_PREFIX}<risk id>'): point 'threat:' at turbosec threat ids to use them.\n"
    )
    body = yaml.safe_dump(
        model, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    return header + body


MAX_INCLUDES = 50


def _merge_includes(doc: _Doc, main: Path) -> list[str]:
    """Merge the files named by ``includes`` (recursively) into ``doc.root``.

    Paths are relative to the including file and must stay inside the main file's
    directory.  Mapping sections (technical_assets, data_assets...) are merged, a key
    defined twice is an error naming both files; other keys are taken from an included
    file only when no file before it set them.  Returns the included files' names,
    relative to the main file's directory, in merge order.
    """
    base = main.resolve().parent
    root: dict[str, Any] = doc.root
    merged: list[str] = []
    seen = {main.resolve()}
    where: dict[tuple[Any, ...], str] = {}
    pending: list[tuple[_Doc, Path]] = [(doc, main.resolve())]
    while pending:
        current, current_path = pending.pop(0)
        includes = _strings(current, current.root.get("includes"), ("includes",), "includes")
        for i, name in enumerate(includes):
            target = (current_path.parent / name).resolve()
            if not target.is_relative_to(base):
                raise current.error(
                    ("includes", i), f"include {name!r} leaves the model's directory"
                )
            if target in seen:
                raise current.error(
                    ("includes", i), f"include {name!r} is included twice (or in a cycle)"
                )
            seen.add(target)
            if len(seen) > MAX_INCLUDES:
                raise current.error(("includes", i), f"more than {MAX_INCLUDES} files")
            rel = target.relative_to(base).as_posix()
            part = _read(target, str(target) if main.is_absolute() else str(main.parent / rel))
            if not isinstance(part.root, dict):
                raise part.error((), "an included Threagile file must be a YAML mapping")
            for key, value in part.root.items():
                if key == "includes":
                    continue
                if isinstance(value, dict) and isinstance(root.get(key, {}), dict):
                    section = root.setdefault(key, {})
                    for item, content in value.items():
                        if item in section:
                            first = where.get((key, item), doc.file)
                            raise part.error(
                                (key, item), f"{key} entry {item!r} is also defined in {first}"
                            )
                        section[item] = content
                        where[(key, item)] = part.file
                        doc.owners[(key, item)] = part
                elif key in root and root[key] not in (None, [], {}):
                    if isinstance(value, list) and isinstance(root[key], list):
                        root[key] = [*root[key], *value]
                        continue
                    raise part.error(
                        (key,), f"{key!r} is also set in {where.get((key,), doc.file)}"
                    )
                else:
                    root[key] = value
                    where[(key,)] = part.file
                    doc.owners[(key,)] = part
            merged.append(rel)
            pending.append((part, target))
    return merged


def _data_assets(doc: _Doc, root: dict[str, Any], ids: _Ids) -> dict[str, dict[str, Any]]:
    """Threagile data asset id -> {"id": our id, "out": our YAML mapping}."""
    section = _mapping(doc, root.get("data_assets"), ("data_assets",), "data_assets")
    out: dict[str, dict[str, Any]] = {}
    for title, raw in section.items():
        p: tuple[Any, ...] = ("data_assets", title)
        item = _mapping(doc, raw, p, f"data asset {title!r}")
        original = _text(
            doc, item.get("id"), (*p, "id"), f"id of data asset {title!r}", required=True
        )
        ident = ids.claim("data asset", "data", original, doc, (*p, "id"))
        conf = _choice(
            doc,
            item.get("confidentiality"),
            (*p, "confidentiality"),
            "confidentiality",
            CONFIDENTIALITY,
        )
        integrity = _text(doc, item.get("integrity"), (*p, "integrity"), "integrity")
        availability = _text(doc, item.get("availability"), (*p, "availability"), "availability")
        tags = _strings(doc, item.get("tags"), (*p, "tags"), "tags")
        desc = _text(doc, item.get("description"), (*p, "description"), "description")
        cia = f"Threagile CIA: confidentiality {conf}"
        if integrity:
            cia += f", integrity {integrity}"
        if availability:
            cia += f", availability {availability}"
        entry: dict[str, Any] = {
            "id": ident,
            "name": _text(doc, title, p, "title"),
            "classification": CONFIDENTIALITY[conf],
        }
        if any(t.lower() == "pii" for t in tags):
            entry["pii"] = True
        entry["description"] = f"{desc} ({cia})" if desc else f"{cia}."
        out[original] = {"id": ident, "out": entry}
    return out


def _boundaries(
    doc: _Doc, root: dict[str, Any], ids: _Ids
) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[str, tuple[Any, ...]]]]:
    """Boundaries by Threagile id, and asset id -> (our boundary id, path of the listing)."""
    section = _mapping(doc, root.get("trust_boundaries"), ("trust_boundaries",), "trust_boundaries")
    boundaries: dict[str, dict[str, Any]] = {}
    nested: list[tuple[str, str, tuple[Any, ...]]] = []
    inside: list[tuple[str, str, tuple[Any, ...]]] = []
    for title, raw in section.items():
        p: tuple[Any, ...] = ("trust_boundaries", title)
        item = _mapping(doc, raw, p, f"trust boundary {title!r}")
        original = _text(
            doc, item.get("id"), (*p, "id"), f"id of trust boundary {title!r}", required=True
        )
        ident = ids.claim("trust boundary", "boundary", original, doc, (*p, "id"))
        btype = _text(doc, item.get("type"), (*p, "type"), "type")
        desc = _text(doc, item.get("description"), (*p, "description"), "description")
        entry: dict[str, Any] = {"id": ident, "name": _text(doc, title, p, "title")}
        note = _sentences(desc, f"Threagile type: {btype}" if btype else "")
        if note:
            entry["description"] = note
        boundaries[original] = entry
        for i, asset in enumerate(
            _strings(
                doc,
                item.get("technical_assets_inside"),
                (*p, "technical_assets_inside"),
                "technical_assets_inside",
            )
        ):
            inside.append((asset, original, (*p, "technical_assets_inside", i)))
        for i, child in enumerate(
            _strings(
                doc,
                item.get("trust_boundaries_nested"),
                (*p, "trust_boundaries_nested"),
                "trust_boundaries_nested",
            )
        ):
            nested.append((child, original, (*p, "trust_boundaries_nested", i)))
    for child, parent, p in nested:
        if child not in boundaries:
            raise doc.error(p, f"trust boundary {parent!r} nests unknown trust boundary {child!r}")
        if "parent" in boundaries[child]:
            raise doc.error(p, f"trust boundary {child!r} is nested in two trust boundaries")
        if child == parent:
            raise doc.error(p, f"trust boundary {child!r} is nested in itself")
        boundaries[child]["parent"] = boundaries[parent]["id"]
    # Cycles: follow parents from each boundary.
    by_ours = {b["id"]: b for b in boundaries.values()}
    for original, entry in boundaries.items():
        seen = {entry["id"]}
        current = entry.get("parent")
        while current is not None:
            if current in seen:
                raise doc.error(
                    ("trust_boundaries",), f"trust boundaries nest in a cycle through {original!r}"
                )
            seen.add(current)
            current = by_ours[current].get("parent")
    member_of: dict[str, tuple[str, tuple[Any, ...]]] = {}
    for asset, boundary, p in inside:
        if asset in member_of:
            raise doc.error(
                p,
                f"technical asset {asset!r} is inside two trust boundaries",
                hint="an asset belongs to one boundary; nest the boundaries instead",
            )
        member_of[asset] = (boundaries[boundary]["id"], p)
    return boundaries, member_of


def _data_refs(
    doc: _Doc, names: list[str], data: dict[str, dict[str, Any]], path: tuple[Any, ...], what: str
) -> list[str]:
    out = []
    for i, name in enumerate(names):
        if name not in data:
            raise doc.error((*path, i), f"{what} names unknown data asset {name!r}")
        out.append(data[name]["id"])
    return out


def _technical_assets(
    doc: _Doc,
    root: dict[str, Any],
    ids: _Ids,
    data: dict[str, dict[str, Any]],
    boundaries: dict[str, dict[str, Any]],
    member_of: dict[str, tuple[str, tuple[Any, ...]]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    section = _mapping(doc, root.get("technical_assets"), ("technical_assets",), "technical_assets")
    if not section:
        raise doc.error(("technical_assets",), "the model has no technical_assets to import")
    assets: dict[str, tuple[str, dict[str, Any], tuple[Any, ...]]] = {}
    components: list[dict[str, Any]] = []
    controls: list[dict[str, Any]] = []
    # First pass: every asset's id, so links may point forward.
    for title, raw in section.items():
        p: tuple[Any, ...] = ("technical_assets", title)
        item = _mapping(doc, raw, p, f"technical asset {title!r}")
        original = _text(
            doc, item.get("id"), (*p, "id"), f"id of technical asset {title!r}", required=True
        )
        ident = ids.claim("technical asset", "asset", original, doc, (*p, "id"))
        assets[original] = (ident, item, p)
    for asset in member_of:
        if asset not in assets:
            raise doc.error(
                member_of[asset][1], f"trust boundary lists unknown technical asset {asset!r}"
            )

    for original, (ident, item, p) in assets.items():
        title = p[-1]
        atype = _choice(doc, item.get("type"), (*p, "type"), "technical asset type", ASSET_TYPES)
        technology = _text(doc, item.get("technology"), (*p, "technology"), "technology")
        kind = "queue" if technology in QUEUE_TECHNOLOGIES else ASSET_TYPES[atype]
        props: set[str] = set()
        if _flag(doc, item.get("internet"), (*p, "internet"), "internet"):
            props.add("internet_facing")
        if _flag(doc, item.get("multi_tenant"), (*p, "multi_tenant"), "multi_tenant"):
            props.add("multi_tenant")
        formats = _strings(
            doc,
            item.get("data_formats_accepted"),
            (*p, "data_formats_accepted"),
            "data_formats_accepted",
        )
        if "serialization" in formats:
            props.add("deserializes_untrusted_data")
        if "xml" in formats or "file" in formats:
            props.add("parses_untrusted_files")
        if technology in IDENTITY_TECHNOLOGIES:
            props.add("authenticates_users")
        desc = _text(doc, item.get("description"), (*p, "description"), "description")
        notes = [desc] if desc else []
        if _flag(doc, item.get("out_of_scope"), (*p, "out_of_scope"), "out_of_scope"):
            why = _text(
                doc,
                item.get("justification_out_of_scope"),
                (*p, "justification_out_of_scope"),
                "justification_out_of_scope",
            )
            notes.append(f"Out of scope in Threagile{': ' + why if why else ''}.")
        stored = _strings(
            doc, item.get("data_assets_stored"), (*p, "data_assets_stored"), "data_assets_stored"
        )
        processed = _strings(
            doc,
            item.get("data_assets_processed"),
            (*p, "data_assets_processed"),
            "data_assets_processed",
        )
        data_ids = _data_refs(doc, stored, data, (*p, "data_assets_stored"), "data_assets_stored")
        data_ids += _data_refs(
            doc, processed, data, (*p, "data_assets_processed"), "data_assets_processed"
        )
        component: dict[str, Any] = {
            "id": ident,
            "name": _text(doc, title, p, "title"),
            "kind": kind,
        }
        if original in member_of:
            component["boundary"] = member_of[original][0]
        if technology:
            component["technology"] = technology
        if notes:
            component["description"] = _sentences(*notes)
        if props:
            component["properties"] = sorted(props)
        own_controls: list[str] = []
        encryption = _choice(
            doc,
            item.get("encryption"),
            (*p, "encryption"),
            "encryption",
            ENCRYPTION,
            default="none",
        )
        if encryption != "none":
            cid = ids.new(f"ctl-{ident}-encryption-at-rest")
            controls.append(
                {
                    "id": cid,
                    "kind": "encryption_at_rest",
                    "description": f"Threagile: encryption {encryption} on {title}.",
                }
            )
            own_controls.append(cid)
        if own_controls:
            component["controls"] = own_controls
        if data_ids:
            component["data"] = sorted(set(data_ids))
        components.append(component)

    flows: list[dict[str, Any]] = []
    pair_count: dict[tuple[str, str], int] = {}
    links: list[tuple[str, str, str, dict[str, Any], tuple[Any, ...]]] = []
    for original, (ident, item, p) in assets.items():
        section_links = _mapping(
            doc, item.get("communication_links"), (*p, "communication_links"), "communication_links"
        )
        for link_title, raw in section_links.items():
            lp: tuple[Any, ...] = (*p, "communication_links", link_title)
            link = _mapping(doc, raw, lp, f"communication link {link_title!r}")
            target = _text(
                doc,
                link.get("target"),
                (*lp, "target"),
                f"target of communication link {link_title!r}",
                required=True,
            )
            if target not in assets:
                raise doc.error(
                    (*lp, "target"),
                    f"communication link {link_title!r} of "
                    f"{original!r} targets unknown technical asset {target!r}",
                )
            pair = (ident, assets[target][0])
            pair_count[pair] = pair_count.get(pair, 0) + 1
            links.append((original, ident, str(link_title), link, lp))
    for original, ident, link_title, link, lp in links:
        target_ident = assets[str(link["target"])][0]
        proto = _text(doc, link.get("protocol"), (*lp, "protocol"), "protocol", required=True)
        if proto not in PROTOCOLS:
            raise doc.error(
                (*lp, "protocol"),
                f"communication link {link_title!r} of {original!r} uses protocol {proto!r}, "
                "which has no turbosec equivalent",
                hint="set the link's protocol to one Threagile knows (not unknown-protocol); "
                "known: " + ", ".join(sorted(PROTOCOLS)),
            )
        auth = _choice(
            doc,
            link.get("authentication"),
            (*lp, "authentication"),
            "authentication",
            AUTHENTICATION,
            default="none",
        )
        authz = _choice(
            doc,
            link.get("authorization"),
            (*lp, "authorization"),
            "authorization",
            AUTHORIZATION,
            default="none",
        )
        base = f"{ident}-to-{target_ident}"
        if pair_count[(ident, target_ident)] > 1:
            base = f"{base}-{_slug(link_title) or 'link'}"
        fid = ids.new(base)
        flow: dict[str, Any] = {
            "id": fid,
            "name": link_title,
            "from": ident,
            "to": target_ident,
            "protocol": PROTOCOLS[proto],
        }
        if auth != "none":
            flow["authentication"] = AUTHENTICATION[auth]
        desc = _text(doc, link.get("description"), (*lp, "description"), "description")
        if proto != PROTOCOLS[proto]:
            desc = (
                f"{desc} (Threagile protocol: {proto}.)"
                if desc
                else (f"Threagile protocol: {proto}.")
            )
        if desc:
            flow["description"] = desc
        sent = _strings(
            doc, link.get("data_assets_sent"), (*lp, "data_assets_sent"), "data_assets_sent"
        )
        received = _strings(
            doc,
            link.get("data_assets_received"),
            (*lp, "data_assets_received"),
            "data_assets_received",
        )
        data_ids = _data_refs(doc, sent, data, (*lp, "data_assets_sent"), "data_assets_sent")
        data_ids += _data_refs(
            doc, received, data, (*lp, "data_assets_received"), "data_assets_received"
        )
        if data_ids:
            flow["data"] = sorted(set(data_ids))
        if auth in ("credentials", "two-factor"):
            flow["properties"] = ["carries_credentials"]
        flow_controls = []
        extra = [
            (auth == "two-factor", "mfa", "two-factor authentication"),
            (authz != "none", "authorization", f"authorization {authz}"),
            (_flag(doc, link.get("vpn"), (*lp, "vpn"), "vpn"), "encryption_in_transit", "VPN"),
            (
                _flag(doc, link.get("ip_filtered"), (*lp, "ip_filtered"), "ip_filtered"),
                "network_segmentation",
                "IP filtering",
            ),
        ]
        for present, kind, what in extra:
            if present:
                cid = ids.new(f"ctl-{fid}-{kind.replace('_', '-')}")
                controls.append(
                    {
                        "id": cid,
                        "kind": kind,
                        "description": f"Threagile: {what} on link {link_title!r}.",
                    }
                )
                flow_controls.append(cid)
        if flow_controls:
            flow["controls"] = flow_controls
        flows.append(flow)
    return components, flows, controls


def _risk_tracking(doc: _Doc, root: dict[str, Any]) -> list[dict[str, Any]]:
    section = _mapping(doc, root.get("risk_tracking"), ("risk_tracking",), "risk_tracking")
    entries: list[dict[str, Any]] = []
    for risk_id in sorted(section):
        p: tuple[Any, ...] = ("risk_tracking", risk_id)
        item = _mapping(doc, section[risk_id], p, f"risk tracking entry {risk_id!r}")
        status = _choice(
            doc,
            item.get("status"),
            (*p, "status"),
            "risk tracking status",
            RISK_STATUS,
            default="unchecked",
        )
        ours = RISK_STATUS[status]
        justification = _text(
            doc, item.get("justification"), (*p, "justification"), "justification"
        )
        ticket = _text(doc, item.get("ticket"), (*p, "ticket"), "ticket")
        checked_by = _text(doc, item.get("checked_by"), (*p, "checked_by"), "checked_by")
        date = _text(doc, item.get("date"), (*p, "date"), "date")
        notes = []
        if justification:
            notes.append(justification.rstrip(".") + ".")
        if status == "mitigated":
            notes.append(
                "Threagile status: mitigated; name the controls whose tests prove it "
                "(mitigated_by) and set status: mitigated."
            )
        elif status != ours.replace("_", "-"):
            notes.append(f"Threagile status: {status}.")
        if not justification and ours in ("accepted", "false_positive"):
            notes.append("No justification in the Threagile model.")
        if checked_by or date:
            who = f" by {checked_by}" if checked_by else ""
            when = f" on {date}" if date else ""
            notes.append(f"Checked{who}{when}.")
        entry: dict[str, Any] = {"threat": f"{TRIAGE_PREFIX}{risk_id}", "status": ours}
        if notes:
            entry["justification"] = " ".join(notes)
        if ticket:
            entry["ticket"] = ticket
        entry["external_id"] = str(risk_id)
        entries.append(entry)
    return entries
