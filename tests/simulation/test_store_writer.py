"""The store writer thread: batched commits, everything flushed on close, durable on SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from beliefreg.simulation.store import Record, Store
from beliefreg.simulation.store_writer import StoreWriter

WORKTREE = Path(__file__).resolve().parents[2]


def _rec(i: int) -> Record:
    return Record(key=f"k{i:06d}", backend="b", model="m", run=i, draw=0, request={"i": i},
                  response={"answer": i}, status="ok")


def test_close_commits_everything_in_few_transactions(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    writer = StoreWriter(store, flush_interval=60.0, max_batch=500)
    for i in range(1234):
        writer.put(_rec(i))
    writer.close()
    assert len(store) == 1234
    assert store.get_many(["k000007"])["k000007"].response == {"answer": 7}
    assert writer.n_written == 1234 and writer.n_commits <= 4  # 500 + 500 + rest
    store.close()


def test_the_thread_commits_on_its_own_within_the_interval(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    writer = StoreWriter(store, flush_interval=0.05, max_batch=10**6)
    for i in range(7):
        writer.put(_rec(i))
    other = Store(tmp_path / "s.sqlite")  # another connection sees the commit
    for _ in range(2000):
        if len(other) == 7:
            break
        import time

        time.sleep(0.01)
    assert len(other) == 7
    writer.close()
    other.close()
    store.close()


def test_a_failing_store_raises_and_close_retries(tmp_path, monkeypatch):
    store = Store(tmp_path / "s.sqlite")
    calls = []
    real = store.put_many

    def flaky(records):
        calls.append(len(records))
        if len(calls) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        real(records)

    monkeypatch.setattr(store, "put_many", flaky)
    writer = StoreWriter(store, flush_interval=0.01, max_batch=1)
    writer.put(_rec(0))
    writer._thread.join(timeout=30)  # the thread stops at its first error
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        writer.put(_rec(1))
    writer.close()  # the kept record is committed on the retry
    assert len(store) == 1
    store.close()


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from beliefreg.simulation.store import Record, Store
    from beliefreg.simulation.store_writer import StoreWriter
    store = Store({path!r})
    writer = StoreWriter(store, flush_interval=0.05, max_batch=10**6)
    def rec(i):
        return Record(key=f"k{{i:06d}}", backend="b", model="m", run=i, draw=0, request={{}},
                      response={{"i": i}}, status="ok")
    for i in range(50):
        writer.put(rec(i))
    while writer.n_written < 50:   # the thread commits them, nobody asks it to
        time.sleep(0.01)
    for i in range(50, 60):
        writer.put(rec(i))
    print("committed", flush=True)
    time.sleep(600)
""")


def test_sigkill_loses_at_most_the_unflushed_batch(tmp_path):
    path = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(WORKTREE),
                                                                 path=str(path))],
                            stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    try:
        assert proc.stdout.readline().strip() == "committed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    con = sqlite3.connect(path)
    n = con.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    complete = con.execute("SELECT COUNT(*) FROM responses WHERE response IS NOT NULL "
                           "AND status='ok'").fetchone()[0]
    con.close()
    assert 50 <= n <= 60 and complete == n
