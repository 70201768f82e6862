"""Loading rule files: files and folders of Sigma YAML in, a :class:`RuleSet` out.

:func:`load_rules` reads the built-in pack (``rules/pack/*.yml`` inside the package) and
the files and folders it is given (folders recursively: ``*.yml`` and ``*.yaml``, hidden
entries skipped), every document of every file, and compiles them together: a
correlation may reference a rule of another file, by its Sigma ``name`` or ``id``.

Rule files are data from outside, read defensively: at most :data:`MAX_RULE_FILE` bytes a
file, UTF-8, YAML through a safe loader that also refuses duplicate keys (the second one
would silently win) and aliases (``*ref``: a few lines of them can expand into millions of
nodes).  Anything wrong is a :class:`~turbosec.watch.rules.model.RuleLoadError` naming the
file, the rule (its ``name``, ``id`` or title) and the problem -- the first one found;
nothing is loaded half.

A rule that a correlation references does not raise alerts of its own unless every
correlation referencing it says ``generate: true`` (as pySigma decides it: one
correlation without ``generate`` silences the rule).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from turbosec.watch.rules.model import RuleLoadError, RuleSet

__all__ = [
    "BUILTIN_PREFIX",
    "MAX_RULE_FILE",
    "RULE_SUFFIXES",
    "builtin_paths",
    "load_rules",
    "rule_files",
]

#: Largest rule file read (bytes).
MAX_RULE_FILE = 1024 * 1024
#: What a file in a rules folder is called.
RULE_SUFFIXES = (".yml", ".yaml")
#: How built-in rules name their file in ``RuleMeta.path`` and errors.
BUILTIN_PREFIX = "builtin:"


def builtin_paths() -> list[Path]:
    """The built-in pack: the ``*.yml`` files of ``turbosec/watch/rules/pack/``, sorted.

    An empty or missing pack is an empty list.
    """
    import importlib.resources  # only here: the pack is not read with --no-builtin

    pack = importlib.resources.files("turbosec.watch.rules").joinpath("pack")
    if not pack.is_dir():
        return []
    return sorted(
        Path(str(entry))
        for entry in pack.iterdir()
        if entry.name.endswith(".yml") and not entry.name.startswith(".") and entry.is_file()
    )


def rule_files(paths: Sequence[Path]) -> list[Path]:
    """The files ``paths`` stand for: files as given, folders walked for ``*.yml``/``*.yaml``.

    Hidden files and folders are skipped, symbolic links to folders are not followed, a
    file reached twice is listed once.
    """
    found: list[Path] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append(path)

    for path in paths:
        path = Path(path)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith(".") or not name.endswith(RULE_SUFFIXES):
                        continue
                    add(Path(root) / name)
        elif path.is_file():
            add(path)
        elif path.exists():
            raise RuleLoadError(str(path), None, "not a regular file or a folder")
        else:
            raise RuleLoadError(str(path), None, "no such file or folder")
    return found


def load_rules(
    paths: Sequence[Path], *, builtin: bool = True, cache_dir: Path | None = None
) -> RuleSet:
    """Load and compile the built-in pack (unless ``builtin=False``) and ``paths``.

    With ``cache_dir``, a rule set compiled before from the same files (same names, same
    bytes) is taken from the cache there (:mod:`~turbosec.watch.rules.cache`), without
    reading YAML or starting pySigma; a newly compiled one is stored in it.
    """
    sources: list[tuple[str, Path]] = []
    if builtin:
        sources.extend((BUILTIN_PREFIX + path.name, path) for path in builtin_paths())
    sources.extend((str(path), path) for path in rule_files(paths))
    texts = [(display, _read(path, display)) for display, path in sources]
    key = None
    if cache_dir is not None:
        from turbosec.watch.rules import cache

        key = cache.key_of(texts)
        found = cache.load(cache_dir, key)
        if found is not None:
            return found
    from turbosec.watch.rules.parsing import compile_documents, parse_text

    parsed = [rule for display, text in texts for rule in parse_text(text, display)]
    rules, records = compile_documents(parsed)
    if cache_dir is not None and key is not None:
        cache.store(cache_dir, key, rules, records)
    return rules


# --- reading ---------------------------------------------------------------------------------


def _read(path: Path, display: str) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_RULE_FILE + 1)
    except OSError as exc:
        raise RuleLoadError(display, None, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_RULE_FILE:
        raise RuleLoadError(
            display, None, f"larger than {MAX_RULE_FILE // 1024} KiB; split it into several files"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RuleLoadError(display, None, f"not UTF-8 text (byte {exc.start})") from None
