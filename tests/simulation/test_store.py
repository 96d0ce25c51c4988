"""The SQLite store, request keys and the retry policy."""

from __future__ import annotations

import sqlite3

import pytest

from beliefreg import Study
from beliefreg.simulation import DuplicateRequestWarning, OpenAIBackend, RetryPolicy, Store, simulate
from beliefreg.simulation.pipeline import plan
from beliefreg.simulation.store import Record


def _record(key: str, status: str = "ok", **kw) -> Record:
    return Record(key=key, backend="openai", model="m", run=0, draw=0,
                  request={"messages": [{"role": "user", "content": "é"}]},
                  response={"x": 1} if status == "ok" else None, status=status, **kw)


def test_store_round_trip_wal_and_overwrite(tmp_path):
    path = tmp_path / "sub" / "s.sqlite"
    with Store(path) as st:
        st.put(_record("a", status="error", error="HTTP 500", attempts=7))
        st.put(_record("b", input_tokens=3, output_tokens=1, cost_usd=0.5))
        got = st.get_many(["a", "b", "missing"])
        assert set(got) == {"a", "b"}
        assert got["a"].status == "error" and got["a"].error == "HTTP 500" and not got["a"].ok
        assert got["b"].request == {"messages": [{"role": "user", "content": "é"}]}
        assert got["b"].response == {"x": 1} and got["b"].cost_usd == 0.5
        assert got["b"].created_at.endswith("+00:00")
        light = st.get_many(["a", "b", "missing"], request=False)  # what the panel reads
        assert light["b"].request == {} and light["b"] == got["b"].__class__(
            **{**got["b"].__dict__, "request": {}})
        assert light["a"] == got["a"].__class__(**{**got["a"].__dict__, "request": {}})
        st.put(_record("a"))  # a later success replaces the error row
        assert st.get_many(["a"])["a"].ok and len(st) == 2
        assert st.count_present(["a", "b", "c"]) == 2
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute("UPDATE meta SET value='999' WHERE name='schema_version'")
    with pytest.raises(OSError, match="schema version 999"):
        Store(path)


def test_memory_store_and_many_keys():
    st = Store(None)
    for i in range(1200):  # more than one SQL chunk
        st.put(_record(f"k{i}"))
    assert len(st.get_many(f"k{i}" for i in range(0, 1300, 1))) == 1200
    assert repr(st) == "Store(':memory:')"


def test_keys_depend_on_request_run_and_draw_not_on_design_order():
    backend = OpenAIBackend(base_url="http://127.0.0.1:9/v1", model="m")
    s1 = Study(prompt="p={price}", choices={"yes": "Yes", "no": "No"},
               conditions={"price": [1, 2, 3]}, runs=2)
    s2 = s1.replace(conditions={"price": [3, 1]})
    p1, p2 = plan(s1, backend, "m"), plan(s2, backend, "m")
    k1 = {(it.variables["price"], it.run): k for it, k in zip(p1.items, p1.keys)}
    k2 = {(it.variables["price"], it.run): k for it, k in zip(p2.items, p2.keys)}
    assert all(k2[c] == k1[c] for c in k2)
    assert len(set(p1.keys)) == 6  # every (condition, run) its own request
    assert set(plan(s1, backend, "m", draw=1).keys).isdisjoint(p1.keys)
    assert set(plan(s1, backend, "other-model").keys).isdisjoint(p1.keys)
    other = OpenAIBackend(base_url="http://127.0.0.1:10/v1", model="m")
    assert set(plan(s1, other, "m").keys).isdisjoint(p1.keys)
    assert set(plan(s1.replace(temperature=0.5), backend, "m").keys).isdisjoint(p1.keys)
    # the choice set and pivot do not change an OpenAI request: re-reading reuses it
    assert plan(s1.replace(pivot="first_match"), backend, "m").keys == p1.keys


def test_identical_requests_warn(fault_server):
    study = Study(prompt="case=ok: buy? Answer {choices}.", choices={"yes": "Yes", "no": "No"},
                  conditions={"unused": [1, 2]})
    with pytest.warns(DuplicateRequestWarning):
        panel = simulate(study, OpenAIBackend(base_url=fault_server.url, model="m"), store=None,
                         progress=False)
    assert len(panel) == 2 and panel["request_key"].nunique() == 1
    assert len([r for r in fault_server.log if r["case"] == "ok"]) == 1  # sent once


def test_retry_policy_backoff_and_retry_after():
    p = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=0.25)
    for attempt, nominal in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 8.0)]:
        d = p.delay(attempt)
        assert 0.75 * nominal <= d <= 1.25 * nominal
    assert p.delay(0, retry_after=30.0) == 30.0  # never sooner than the server asked
    assert p.delay(0, retry_after=5000.0) == p.max_retry_after


# -- opening while other processes hold the file ----------------------------------------------

class _LockedAtFirst(sqlite3.Connection):
    """A real SQLite connection whose first journal-mode switches answer "database is locked",
    as SQLite does at once (no busy handler) when several processes open one new file."""

    failures = 0

    def execute(self, sql, *args):
        if sql.startswith("PRAGMA journal_mode") and _LockedAtFirst.failures > 0:
            _LockedAtFirst.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        return super().execute(sql, *args)


def _locked_connect(fails):
    _LockedAtFirst.failures = fails

    def connect(target, uri=False):
        return sqlite3.connect(target, timeout=1.0, isolation_level=None,
                               check_same_thread=False, uri=uri, factory=_LockedAtFirst)
    return staticmethod(connect)


def test_open_retries_an_immediate_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(Store, "_connect", _locked_connect(3))
    with Store(tmp_path / "s.sqlite") as st:
        assert not st.read_only and len(st) == 0
    assert _LockedAtFirst.failures == 0  # all three locks were met and waited out


def test_open_gives_up_with_a_clear_error_after_the_timeout(tmp_path, monkeypatch):
    from beliefreg.simulation import store as store_module
    from beliefreg.simulation.errors import StoreError
    monkeypatch.setattr(store_module, "OPEN_TIMEOUT_S", 0.3)
    monkeypatch.setattr(Store, "_connect", _locked_connect(10**6))
    with pytest.raises(StoreError, match=r"s\.sqlite: cannot open: database is locked "
                                         r"\(another process held it for 0\.3 s\)"):
        Store(tmp_path / "s.sqlite")


def test_a_lock_held_by_another_connection_is_waited_for(tmp_path):
    import threading
    import time
    path = tmp_path / "s.sqlite"  # a new file, still in rollback-journal mode, locked
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.4, lambda: holder.execute("COMMIT"))
    release.start()
    t0 = time.monotonic()
    with Store(path) as st:
        assert len(st) == 0 and not st.read_only
    assert time.monotonic() - t0 >= 0.3
    release.join()
    holder.close()


_OPEN_CHILD = """
import pathlib, sys, time
from beliefreg.simulation import Store
path, go = sys.argv[1:3]
while not pathlib.Path(go).exists():
    time.sleep(0.001)
for _ in range(20):
    with Store(path) as st:
        len(st)
"""


def test_many_processes_open_one_new_store_together(tmp_path):
    import subprocess
    import sys
    import time
    for round_ in range(2):
        path, go = tmp_path / f"s{round_}.sqlite", tmp_path / f"go{round_}"
        kids = [subprocess.Popen([sys.executable, "-c", _OPEN_CHILD, str(path), str(go)],
                                 stderr=subprocess.PIPE, text=True) for _ in range(6)]
        time.sleep(1.0)
        go.write_text("go")
        for kid in kids:
            _, err = kid.communicate(timeout=120)
            assert kid.returncode == 0, err[-2000:]


def test_claims_commit_without_fsync_and_answers_with_it(tmp_path, monkeypatch):
    store = Store(tmp_path / "s.sqlite")
    modes = []
    real = store._conn

    class Spy:  # records the synchronous mode at each COMMIT
        def __getattr__(self, name):
            return getattr(real, name)

        def execute(self, sql, *args):
            if sql == "COMMIT":
                modes.append(real.execute("PRAGMA synchronous").fetchone()[0])
            return real.execute(sql, *args)

    monkeypatch.setattr(store, "_conn", Spy())
    claims = store.claim(["a", "b"], "owner-1")
    store.renew("owner-1")
    store.put_many([Record(key="a", backend="x", model="m", run=0, draw=0, request={},
                           response={"r": 1}, status="ok")])
    assert claims.mine == ["a", "b"]
    assert modes == [1, 1, 2]  # NORMAL for the claim and the renewal, FULL for the answer
    assert real.execute("PRAGMA synchronous").fetchone()[0] == 2
    with sqlite3.connect(tmp_path / "s.sqlite") as other:  # the claim is visible at once
        assert other.execute("SELECT key FROM claims").fetchall() == [("b",)]
    store.close()


def test_limiter_caps_concurrency_wakes_waiters_and_halves_on_rate_limits():
    import asyncio

    from beliefreg.simulation.runner import AdaptiveLimiter

    async def main():
        lim = AdaptiveLimiter(3)
        peak, done = 0, 0

        async def job():
            nonlocal peak, done
            await lim.acquire()
            peak = max(peak, lim.active)
            await asyncio.sleep(0.001)
            await lim.release()
            done += 1

        await asyncio.wait_for(asyncio.gather(*(job() for _ in range(50))), 10)
        assert peak == 3 and done == 50 and lim.active == 0
        lim.on_rate_limit(0.05)
        assert lim.limit == 1
        t0 = asyncio.get_running_loop().time()
        await lim.acquire()  # waits for the pause
        assert asyncio.get_running_loop().time() - t0 >= 0.04
        waiter = asyncio.ensure_future(lim.acquire())
        await asyncio.sleep(0.01)
        assert not waiter.done()  # the one slot is taken
        await lim.release()
        await asyncio.wait_for(waiter, 1)
        assert lim.active == 1

    asyncio.run(main())
