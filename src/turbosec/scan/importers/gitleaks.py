"""Gitleaks JSON reports (``gitleaks git|dir --report-format json``): a list of leaks.

Every leak is a secret finding of severity **critical**.  Gitleaks has no severity of
its own: each of its rules matches the format of a real credential, and a credential
committed to a repository is usable by anyone who can read the repository (or any clone
or fork of it) until it is revoked; deleting it from the working tree does not remove it
from history.  So every leak is treated as the most severe finding; lower it per rule
with turbosec's policy when a rule is noisy for a project.

The secret never leaves this module in clear: ``Secret``, ``Match`` (and ``Line``, which
newer gitleaks versions add) are removed from ``raw``; the snippet and the message carry
only the redacted form (:func:`turbosec.core.secrets.redact_in`); the secret itself is kept
only as a salted hash.  Any other string in the leak that happens to contain the secret
(a commit message, say) is redacted too.

Columns: gitleaks (8.30 at least) reports columns one too far right on every line but the
first.  When the file is in the target the match is located on its line instead; otherwise
the known offset is corrected.  Columns then follow SARIF: 1-based, the end column being
the first column after the match.
"""

from __future__ import annotations

from typing import Any, ClassVar

from turbosec.core.finding import Category, Confidence, Finding, Location
from turbosec.core.secrets import redact, redact_in, salted_hash
from turbosec.core.severity import Severity
from turbosec.scan.importers.base import Imported, Importer
from turbosec.scan.importers.loader import Shape, repo_path
from turbosec.scan.target import Target

_REMOVED = ("Secret", "Match", "Line")


class GitleaksImporter(Importer):
    name: ClassVar[str] = "gitleaks"
    description: ClassVar[str] = "Gitleaks JSON report (a list of leaks)"

    def detect(self, document: Any) -> bool:
        if not isinstance(document, list):
            return False
        return all(
            isinstance(item, dict)
            and "RuleID" in item
            and "File" in item
            and ("Secret" in item or "Match" in item)
            for item in document
        )

    def parse(self, document: Any, source: str, target: Target) -> Imported:
        shape = Shape(self.name, source)
        leaks = shape.arr(document, "")
        findings = [
            self._leak(shape, shape.obj(raw, f"[{i}]"), f"[{i}]", target)
            for i, raw in enumerate(leaks)
        ]
        return Imported(findings=findings, tool="gitleaks", version=None)

    def _leak(self, shape: Shape, leak: dict[str, Any], where: str, target: Target) -> Finding:
        rule_id = shape.opt_str(leak.get("RuleID"), f"{where}.RuleID")
        if rule_id is None:
            raise shape.error(f"{where}.RuleID", "missing")
        file = shape.opt_str(leak.get("File"), f"{where}.File")
        if file is None:
            raise shape.error(f"{where}.File", "missing")
        secret = shape.opt_str(leak.get("Secret"), f"{where}.Secret") or ""
        match = shape.opt_str(leak.get("Match"), f"{where}.Match") or ""
        # Without a Secret the whole match is the only thing known to be sensitive.
        sensitive = secret.strip() or match.strip()
        if match and secret and secret in match:
            snippet: str | None = redact_in(match, secret)
        elif sensitive:
            snippet = redact(sensitive)
        else:
            snippet = None

        path = repo_path(target, file)
        start = shape.positive(leak.get("StartLine"), f"{where}.StartLine")
        end = shape.positive(leak.get("EndLine"), f"{where}.EndLine") or start
        start_col, end_col = _columns(
            target,
            path,
            start,
            shape.positive(leak.get("StartColumn"), f"{where}.StartColumn"),
            shape.positive(leak.get("EndColumn"), f"{where}.EndColumn"),
            match or secret,
            single_line=start == end,
        )

        description = shape.opt_str(leak.get("Description"), f"{where}.Description")
        commit = shape.opt_str(leak.get("Commit"), f"{where}.Commit")
        where_text = f"{path}:{start}" if start else path
        shown = redact(sensitive) if sensitive else "a secret"
        message = f"{rule_id}: {shown} found in {where_text}"
        if commit:
            message += f" (commit {commit[:12]}"
            author = shape.opt_str(leak.get("Author"), f"{where}.Author")
            date = shape.opt_str(leak.get("Date"), f"{where}.Date")
            message += f" by {author}" if author else ""
            message += f", {date}" if date else ""
            message += ")"
        raw = {k: v for k, v in leak.items() if k not in _REMOVED}
        title = description or rule_id
        if sensitive:
            raw = _scrub(raw, sensitive)
            message = redact_in(message, sensitive)
            title = redact_in(title, sensitive)
        return Finding(
            tool="gitleaks",
            rule_id=rule_id,
            title=title,
            message=message,
            severity=Severity.CRITICAL,
            category=Category.SECRET,
            confidence=Confidence.MEDIUM if rule_id.startswith("generic") else Confidence.HIGH,
            location=Location(
                path=path,
                start_line=start,
                start_column=start_col,
                end_line=end,
                end_column=end_col,
                snippet=snippet,
            ),
            cwe=(798,),
            fix_hint="Revoke and rotate the credential, then remove it from the repository "
            "and its history",
            secret_hash=salted_hash(sensitive) if sensitive else None,
            raw=raw,
        )


def _columns(
    target: Target,
    path: str,
    line: int | None,
    start: int | None,
    end: int | None,
    text: str,
    *,
    single_line: bool,
) -> tuple[int | None, int | None]:
    """SARIF-style columns (1-based start, exclusive end) of the match on its line."""
    if line is None or start is None:
        return start, end
    first = text.splitlines()[0] if text else ""
    content = target.lines(path)
    if first and content is not None and 0 < line <= len(content):
        row = content[line - 1]
        hint = max(start - 2, 0)
        found = row.find(first, hint)
        if found < 0:
            found = row.find(first)
        if found >= 0:
            return found + 1, (found + 1 + len(first)) if single_line else end
    # File not at hand: correct gitleaks' offset (one column too far right after line 1).
    shift = 1 if line > 1 else 0
    fixed_start = max(start - shift, 1)
    if end is None:
        return fixed_start, None
    fixed_end = end - shift + 1 if single_line else end
    return fixed_start, fixed_end


def _scrub(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return redact_in(value, secret)
    if isinstance(value, dict):
        return {k: _scrub(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secret) for v in value]
    return value
