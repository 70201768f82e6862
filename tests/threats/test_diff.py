"""Diffing two threat models and analyses, and reading a model from a git revision."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from turbosec.core.errors import TurbosecError
from turbosec.core.severity import Severity
from turbosec.threats.diff import (
    FieldChange,
    RevisionError,
    diff_analyses,
    md_escape,
    render_diff_markdown,
)
from turbosec.threats.model import (
    Analysis,
    AssessedThreat,
    Classification,
    Component,
    ComponentKind,
    Control,
    ControlEvidence,
    DataAsset,
    Flow,
    SourceRef,
    Stride,
    Threat,
    ThreatModel,
    ThreatStatus,
    TriageEntry,
)
from turbosec.threats.model import TestEvidence as Evidence
from turbosec.threats.model import TestOutcome as Outcome

REF = SourceRef("threatmodel.yaml", 1)
TEST_ID = "tests/test_login.py::test_lockout"


def _model(**changes: object) -> ThreatModel:
    data = {"pii": DataAsset("pii", "Customer records", Classification.CONFIDENTIAL, True, REF)}
    components = {
        "browser": Component("browser", "Browser", ComponentKind.EXTERNAL_ENTITY, REF),
        "web": Component(
            "web",
            "Web shop",
            ComponentKind.PROCESS,
            REF,
            properties=frozenset({"internet_facing"}),
            controls=("ctl-lockout",),
            data=("pii",),
        ),
        "db": Component("db", "Database", ComponentKind.DATASTORE, REF, data=("pii",)),
    }
    flows = {
        "browser-to-web": Flow("browser-to-web", "browser", "web", "https", REF),
        "web-to-db": Flow("web-to-db", "web", "db", "sql", REF, data=("pii",)),
    }
    controls = {"ctl-lockout": Control("ctl-lockout", "account_lockout", REF, tests=(TEST_ID,))}
    triage = (
        TriageEntry("TM-AUTH-001@web", ThreatStatus.MITIGATED, REF, mitigated_by=("ctl-lockout",)),
    )
    base = ThreatModel(
        name="Shop",
        owner="team",
        path="threatmodel.yaml",
        files=("threatmodel.yaml",),
        data=data,
        boundaries={},
        components=components,
        flows=flows,
        controls=controls,
        triage=triage,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _threat(tid: str, element: str, severity: Severity = Severity.HIGH) -> Threat:
    rule = tid.split("@")[0]
    return Threat(
        id=tid,
        rule_id=rule,
        title=f"Title of {rule}",
        element_kind="component",
        element_id=element,
        component_id=element,
        stride=(Stride.SPOOFING,),
        severity=severity,
        explanation="because",
        ref=REF,
    )


def _assessed(
    threat: Threat,
    status: ThreatStatus = ThreatStatus.OPEN,
    outcome: Outcome | None = None,
) -> AssessedThreat:
    controls = ()
    if outcome is not None:
        controls = (ControlEvidence("ctl-lockout", (Evidence(TEST_ID, outcome),)),)
    return AssessedThreat(threat, status, None, reason="r", controls=controls)


def _analysis(model: ThreatModel, *threats: AssessedThreat) -> Analysis:
    return Analysis(model, tuple(sorted(threats, key=lambda a: a.threat.id)), rules_count=3)


def test_identical_analyses_have_no_changes() -> None:
    model = _model()
    a = _analysis(model, _assessed(_threat("TM-AUTH-001@web", "web")))
    diff = diff_analyses(a, a)
    assert diff.empty
    text = render_diff_markdown(diff)
    assert "No changes to the threat model or its threats." in text
    assert "**Open threats:** 1 → 1 (0)." in text


def test_elements_added_removed_and_changed_field_by_field() -> None:
    old = _model()
    web = old.components["web"]
    new_components = {
        "browser": old.components["browser"],
        # technology set, a property added, the declaration moved (not a change)
        "web": dataclasses.replace(
            web,
            technology="django",
            properties=frozenset({"internet_facing", "uses_sql"}),
            ref=SourceRef("threatmodel.yaml", 40),
        ),
        "cache": Component("cache", "Cache", ComponentKind.DATASTORE, REF),
    }
    new_flows = {
        "browser-to-web": dataclasses.replace(old.flows["browser-to-web"], protocol="http"),
        "web-to-cache": Flow("web-to-cache", "web", "cache", "redis", REF),
    }
    new = _model(components=new_components, flows=new_flows)
    diff = diff_analyses(_analysis(old), _analysis(new))

    comps = diff.element("components")
    assert comps.added == ("cache",)
    assert comps.removed == ("db",)
    assert [c.id for c in comps.changed] == ["web"]
    assert comps.changed[0].changes == (
        FieldChange("properties", "internet_facing", "internet_facing, uses_sql"),
        FieldChange("technology", "", "django"),
    )
    flows = diff.element("flows")
    assert flows.added == ("web-to-cache",)
    assert flows.removed == ("web-to-db",)
    assert flows.changed[0].changes == (FieldChange("protocol", "https", "http"),)
    assert diff.element("data").empty
    assert diff.element("controls").empty
    text = render_diff_markdown(diff)
    # a list field shows the items removed and added, not the whole lists
    assert "| `web` | properties |  | `uses_sql` |" in text
    assert "| `cache` | added |  |  |" in text
    assert "| `web-to-db` | removed |  |  |" in text
    assert "**Model:** components 1 added, 1 removed, 1 changed; flows 1 added, 1 removed" in text


def test_flow_from_and_to_are_named_as_in_the_yaml() -> None:
    old = _model()
    moved = dataclasses.replace(old.flows["web-to-db"], source="browser")
    new = _model(flows={**old.flows, "web-to-db": moved})
    change = diff_analyses(_analysis(old), _analysis(new)).element("flows").changed[0]
    assert change.changes == (FieldChange("from", "web", "browser"),)


def test_data_controls_and_triage_changes() -> None:
    old = _model()
    new = _model(
        data={"pii": dataclasses.replace(old.data["pii"], classification=Classification.SECRET)},
        controls={"ctl-lockout": dataclasses.replace(old.controls["ctl-lockout"], tests=())},
        triage=(
            TriageEntry(
                "TM-AUTH-001@web",
                ThreatStatus.ACCEPTED,
                REF,
                justification="legacy login, replaced in Q3",
            ),
        ),
    )
    diff = diff_analyses(_analysis(old), _analysis(new))
    assert diff.element("data").changed[0].changes == (
        FieldChange("classification", "confidential", "secret"),
    )
    assert diff.element("controls").changed[0].changes == (FieldChange("tests", TEST_ID, ""),)
    triage = diff.element("triage").changed[0]
    assert triage.id == "TM-AUTH-001@web"
    assert FieldChange("status", "mitigated", "accepted") in triage.changes
    assert FieldChange("mitigated_by", "ctl-lockout", "") in triage.changes


def test_threats_added_removed_and_changed() -> None:
    model = _model()
    kept = _threat("TM-AUTH-001@web", "web")
    gone = _threat("TM-DATA-002@db", "db")
    new_one = _threat("TM-FLOW-001@browser-to-web", "web", Severity.CRITICAL)
    old = _analysis(
        model,
        _assessed(kept, ThreatStatus.MITIGATED, Outcome.PASSED),
        _assessed(gone),
    )
    new = _analysis(
        model,
        _assessed(
            dataclasses.replace(kept, severity=Severity.CRITICAL),
            ThreatStatus.OPEN,
            Outcome.MISSING,
        ),
        _assessed(new_one),
    )
    diff = diff_analyses(old, new)
    assert [t.id for t in diff.threats_added] == ["TM-FLOW-001@browser-to-web"]
    assert diff.threats_added[0].severity == "critical"
    assert [t.id for t in diff.threats_removed] == ["TM-DATA-002@db"]
    (changed,) = diff.threats_changed
    assert changed.id == "TM-AUTH-001@web"
    assert changed.changes == (
        FieldChange("severity", "high", "critical"),
        FieldChange("status", "mitigated", "open"),
        FieldChange(f"evidence ctl-lockout {TEST_ID}", "passed", "missing"),
    )
    assert (diff.open_before, diff.open_after) == (1, 2)

    text = render_diff_markdown(diff)
    assert "**Threats:** 1 added, 1 removed, 1 changed. **Open threats:** 1 → 2 (+1)." in text
    assert "### Threats added (1)" in text
    assert "| `TM-FLOW-001@browser-to-web` | Title of TM-FLOW-001 | critical | open |" in text
    assert "| `TM-AUTH-001@web` | status | mitigated | open |" in text
    assert "passed | missing |" in text


def test_evidence_no_longer_relied_on() -> None:
    model = _model()
    t = _threat("TM-AUTH-001@web", "web")
    old = _analysis(model, _assessed(t, ThreatStatus.MITIGATED, Outcome.PASSED))
    new = _analysis(model, _assessed(t, ThreatStatus.OPEN))
    (changed,) = diff_analyses(old, new).threats_changed
    assert FieldChange(f"evidence ctl-lockout {TEST_ID}", "passed", "not relied on") in (
        changed.changes
    )


def test_markdown_escapes_text_and_is_deterministic() -> None:
    model = _model()
    evil = dataclasses.replace(
        _threat("TM-X-001@web", "web"), title="a | b <script>alert(1)</script> [x](http://e)"
    )
    old = _analysis(model)
    new = _analysis(model, _assessed(evil))
    first = render_diff_markdown(diff_analyses(old, new))
    second = render_diff_markdown(diff_analyses(old, new))
    assert first == second
    assert "<script>" not in first
    assert "a \\| b &lt;script&gt;" in first
    assert "\\[x\\](http://e)" in first
    assert first.endswith("\n") and not first.endswith("\n\n")


def test_md_escape_flattens_newlines_and_bounds_length() -> None:
    assert md_escape("one\ntwo\r\nthree") == "one two three"
    assert md_escape("*bold* _it_ `code`") == "\\*bold\\* \\_it\\_ \\`code\\`"
    assert len(md_escape("x" * 1000, limit=50)) == 50
    assert "@team" not in md_escape("ping @team")  # no mentions in a PR comment


def test_ids_that_cannot_be_code_spans_are_escaped() -> None:
    from turbosec.threats.diff import md_code

    assert md_code("TM-X-001@web") == "`TM-X-001@web`"
    assert md_code("a`b") == "a\\`b"
    assert md_code("tests/t.py::test_x[a b]") == "tests/t.py::test\\_x\\[a b\\]"


def test_long_tables_are_cut() -> None:
    model = _model()
    threats = [_assessed(_threat(f"TM-X-001@c{i:03}", "web")) for i in range(250)]
    text = render_diff_markdown(diff_analyses(_analysis(model), _analysis(model, *threats)))
    assert "… and 50 more." in text
    assert "`TM-X-001@c199`" in text
    assert "`TM-X-001@c200`" not in text


# --- git revisions ------------------------------------------------------------------------

MAIN_V1 = """\
version: 1
system:
  name: Shop
  owner: team
includes: [services/billing.yaml]
components:
  - id: web
    kind: process
"""

BILLING_V1 = """\
components:
  - id: billing
    kind: process
flows:
  - id: web-to-billing
    from: web
    to: billing
    protocol: https
"""

BILLING_V2 = BILLING_V1.replace("protocol: https", "protocol: http")


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.org",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_CONFIG_NOSYSTEM": "1",
            "PATH": "/usr/bin:/bin",
        },
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.fail("git is needed for these tests")
    root = tmp_path / "repo"
    (root / "model" / "services").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    (root / "model" / "threatmodel.yaml").write_text(MAIN_V1)
    (root / "model" / "services" / "billing.yaml").write_text(BILLING_V1)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "first")
    _git(root, "tag", "v1")
    (root / "model" / "services" / "billing.yaml").write_text(BILLING_V2)
    _git(root, "commit", "-q", "-am", "second")
    return root


def test_load_model_at_revision_reads_includes_from_that_revision(repo: Path) -> None:
    pytest.importorskip("turbosec.threats.loader")
    from turbosec.threats.diff import load_model_at_revision

    old = load_model_at_revision(repo, "v1", "model/threatmodel.yaml")
    new = load_model_at_revision(repo, "HEAD", "model/threatmodel.yaml")
    assert old.flows["web-to-billing"].protocol == "https"
    assert new.flows["web-to-billing"].protocol == "http"
    assert old.path == "v1:model/threatmodel.yaml"
    assert old.files[0] == "v1:model/threatmodel.yaml"
    assert old.components["web"].ref.file == "v1:model/threatmodel.yaml"
    assert "turbosec-model-" not in repr(old)
    assert set(old.components) == {"web", "billing"}
    elements = {e.kind: e for e in diff_analyses(_analysis(old), _analysis(new)).elements}
    assert elements["flows"].changed[0].changes == (FieldChange("protocol", "https", "http"),)


def test_unknown_revision_is_a_clear_error(repo: Path) -> None:
    from turbosec.threats.diff import load_model_at_revision

    with pytest.raises(RevisionError) as info:
        load_model_at_revision(repo, "no-such-branch", "model/threatmodel.yaml")
    assert "unknown revision 'no-such-branch'" in str(info.value)
    assert isinstance(info.value, TurbosecError)


def test_path_missing_in_revision_is_a_clear_error(repo: Path) -> None:
    from turbosec.threats.diff import load_model_at_revision

    with pytest.raises(RevisionError) as info:
        load_model_at_revision(repo, "v1", "threatmodel.yaml")
    assert "threatmodel.yaml does not exist in revision v1" in str(info.value)


def test_include_missing_in_revision_names_the_including_file(repo: Path) -> None:
    pytest.importorskip("turbosec.threats.loader")
    from turbosec.threats.diff import load_model_at_revision

    (repo / "model" / "threatmodel.yaml").write_text(
        MAIN_V1.replace("services/billing.yaml", "services/gone.yaml")
    )
    _git(repo, "commit", "-q", "-am", "third")
    with pytest.raises(RevisionError) as info:
        load_model_at_revision(repo, "HEAD", "model/threatmodel.yaml")
    message = str(info.value)
    assert "model/services/gone.yaml (included from model/threatmodel.yaml)" in message


def test_model_error_in_revision_names_revision_and_path(repo: Path) -> None:
    pytest.importorskip("turbosec.threats.loader")
    from turbosec.threats.diff import load_model_at_revision
    from turbosec.threats.errors import ModelError

    (repo / "model" / "services" / "billing.yaml").write_text(
        BILLING_V1.replace("protocol: https", "protocol: carrier-pigeon")
    )
    _git(repo, "commit", "-q", "-am", "bad")
    with pytest.raises(ModelError) as info:
        load_model_at_revision(repo, "HEAD", "model/threatmodel.yaml")
    assert info.value.file.startswith("HEAD:")
    assert "billing.yaml" in info.value.file
    assert "turbosec-model-" not in str(info.value)


def test_revision_must_not_look_like_an_option(repo: Path) -> None:
    from turbosec.threats.diff import load_model_at_revision

    with pytest.raises(RevisionError):
        load_model_at_revision(repo, "--output=/tmp/x", "model/threatmodel.yaml")
