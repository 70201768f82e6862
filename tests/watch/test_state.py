"""The checkpoint file: atomic writes, and clear refusals of files that cannot be trusted."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from turbosec.watch import state
from turbosec.watch.state import Checkpoint, StateError, load_checkpoint, save_checkpoint

REPO = Path(__file__).resolve().parents[2]
SOURCES = [{"path": "/var/log/app.jsonl", "inode": 42, "dev": 2049, "offset": 12345}]


def write(path: Path, n: int = 0) -> int:
    return save_checkpoint(
        path,
        engine={"version": 1, "n": n, "groups": list(range(n))},
        sources=SOURCES,
        delivered=[f"alert-{i}" for i in range(3)],
        meta={"rules": 10},
    )


def test_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "watch.state"
    size = write(path, 5)
    assert size == path.stat().st_size
    checkpoint = load_checkpoint(path)
    assert isinstance(checkpoint, Checkpoint)
    assert checkpoint.path == path
    assert checkpoint.engine == {"version": 1, "n": 5, "groups": [0, 1, 2, 3, 4]}
    assert checkpoint.sources == SOURCES
    assert checkpoint.delivered == ["alert-0", "alert-1", "alert-2"]
    assert checkpoint.meta == {"rules": 10}
    assert checkpoint.written_at is not None and checkpoint.written_at.endswith("+00:00")


def test_the_file_is_private_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    path = tmp_path / "watch.state"
    write(path)
    write(path, 3)  # replaces
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["watch.state"]
    checkpoint = load_checkpoint(path)
    assert checkpoint is not None and checkpoint.engine["n"] == 3


def test_no_checkpoint_is_none(tmp_path: Path) -> None:
    assert load_checkpoint(tmp_path / "absent.state") is None


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "watch.state"
    write(path, 100)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(StateError, match="truncated") as info:
        load_checkpoint(path)
    text = info.value.diagnostics()
    assert str(path) in text
    assert "delete the checkpoint file" in text
    path.write_bytes(data[:5])  # not even the header
    with pytest.raises(StateError, match="not a turbosec watch checkpoint"):
        load_checkpoint(path)


def test_damaged_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "watch.state"
    write(path, 100)
    data = bytearray(path.read_bytes())
    data[-20] = ord("7") if data[-20] != ord("7") else ord("8")
    path.write_bytes(bytes(data))
    with pytest.raises(StateError, match="damaged"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a turbosec watch checkpoint"),
        (b"\x00\x01garbage\n{}", "not a turbosec watch checkpoint"),
        (b'{"some": "json"}\n{}', "not a turbosec watch checkpoint"),
        (b'{"format": "turbosec-watch-checkpoint", "version": 2}\n{}', "version 2"),
    ],
)
def test_other_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "watch.state"
    path.write_bytes(content)
    with pytest.raises(StateError, match=message):
        load_checkpoint(path)


def _with_header(body: bytes) -> bytes:
    import hashlib

    header = {
        "format": state.CHECKPOINT_FORMAT,
        "version": state.CHECKPOINT_VERSION,
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    return orjson.dumps(header) + b"\n" + body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1, 2", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"engine": 1, "sources": [], "delivered": []}', "'engine'"),
        (b'{"engine": {}, "sources": [1], "delivered": []}', "'sources'"),
        (b'{"engine": {}, "sources": [], "delivered": [1]}', "'delivered'"),
        (b'{"engine": {}, "sources": [], "delivered": [], "meta": 3}', "'meta'"),
    ],
)
def test_well_framed_but_malformed_bodies_are_refused(
    tmp_path: Path, body: bytes, message: str
) -> None:
    path = tmp_path / "watch.state"
    path.write_bytes(_with_header(body))
    with pytest.raises(StateError, match=message):
        load_checkpoint(path)


def test_too_big_is_refused_when_writing_and_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "watch.state"
    write(path, 1000)
    monkeypatch.setattr(state, "MAX_CHECKPOINT_BYTES", 1000)
    with pytest.raises(StateError, match="MiB a checkpoint may hold") as info:
        write(path, 2000)
    assert "max_groups" in info.value.diagnostics()
    big = tmp_path / "big.state"  # bigger than the patched cap plus the header allowance
    big.write_bytes(path.read_bytes() * 2)
    with pytest.raises(StateError, match="more than"):
        load_checkpoint(big)
    # the refused write left the previous checkpoint alone
    monkeypatch.setattr(state, "MAX_CHECKPOINT_BYTES", 256 * 2**20)
    checkpoint = load_checkpoint(path)
    assert checkpoint is not None and checkpoint.engine["n"] == 1000


def test_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="cannot write the checkpoint") as info:
        write(tmp_path / "missing" / "watch.state")
    assert "directory exists" in info.value.diagnostics()


def test_unserialisable_state_leaves_the_old_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "watch.state"
    write(path, 2)
    with pytest.raises(StateError, match="cannot be written as JSON"):
        save_checkpoint(path, engine={"x": object()}, sources=[], delivered=[])
    checkpoint = load_checkpoint(path)
    assert checkpoint is not None and checkpoint.engine["n"] == 2


WRITER = """
import sys
from pathlib import Path
from turbosec.watch.state import save_checkpoint
path = Path(sys.argv[1])
n = 1
save_checkpoint(path, engine={"n": n, "pad": "x" * 20}, sources=[], delivered=[str(n)])
print("ready", flush=True)
while True:
    n += 1
    save_checkpoint(path, engine={"n": n, "pad": "x" * (n % 50_000) * 20}, sources=[],
                    delivered=[str(n)])
"""


def test_kill_9_while_writing_never_leaves_a_broken_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "watch.state"
    seen: list[int] = []
    for round_ in range(6):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "ready"
            time.sleep(0.05 + 0.03 * round_)
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait(timeout=10)
            if writer.stdout is not None:
                writer.stdout.close()
        checkpoint = load_checkpoint(path)
        assert checkpoint is not None
        n = checkpoint.engine["n"]
        assert checkpoint.delivered == [str(n)]
        assert checkpoint.engine["pad"] == "x" * (n % 50_000) * 20
        seen.append(n)
    assert all(n >= 1 for n in seen)
    # a killed writer may leave its temporary file (the next write reuses it)
    leftovers = {p.name for p in tmp_path.iterdir()} - {"watch.state"}
    assert leftovers <= {".watch.state.tmp"}
    write(path)
    assert {p.name for p in tmp_path.iterdir()} == {"watch.state"}
