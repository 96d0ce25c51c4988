"""Faults that lose money or data or misread an answer (issue 11), each against the
fault-injecting HTTP server on 127.0.0.1 (real processes, real signals, real SQLite, a real
full or read-only file system where the machine allows mounting one)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from beliefreg import Study, simulate
from beliefreg.simulation import (
    BackendError,
    LogprobsUnsupportedError,
    OpenAIBackend,
    QuotaExceededError,
    RetryPolicy,
    Store,
    StoreError,
    StudyError,
    recommended_rows,
)
from beliefreg.simulation.store import Record

from .fault_server import FaultServer

pytest.importorskip("openai")

WORKTREE = Path(__file__).resolve().parents[2]
YN = {"yes": ["Yes"], "no": ["No"]}
FAST = RetryPolicy(max_retries=3, base_delay=0.05, max_delay=0.2)
KEY = "sk-test-SECRETSECRET-0123456789abcdef"


def _study(case: str, n: int, **kw) -> Study:
    return Study(prompt=f"case={case} i={{i}}: would you buy? Answer {{choices}}.", choices=YN,
                 conditions={"i": list(range(n))}, **kw)


def _backend(server: FaultServer, **kw) -> OpenAIBackend:
    kw.setdefault("timeout", 10.0)
    return OpenAIBackend(base_url=server.url, model="m", **kw)


def _sent(server: FaultServer, case: str) -> list[dict]:
    return [r for r in server.log if r["case"] == case]


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(WORKTREE), OPENBLAS_NUM_THREADS="1")
    env.pop("OPENAI_API_KEY", None)
    return env


def _rows(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


# -- 1. several processes on one store: each request paid once ---------------------------------

CHILD = textwrap.dedent("""
    import pathlib, sys, time
    from beliefreg import Study, simulate
    from beliefreg.simulation import OpenAIBackend
    url, store, out, go, n = sys.argv[1:6]
    study = Study(prompt="case=slow i={i}: would you buy? Answer {choices}.",
                  choices={"yes": ["Yes"], "no": ["No"]}, conditions={"i": list(range(int(n)))})
    pathlib.Path(out + ".ready").write_text("ready")
    while not pathlib.Path(go).exists():
        time.sleep(0.005)
    panel = simulate(study, OpenAIBackend(base_url=url, model="m", timeout=20), store=store,
                     concurrency=4, progress=False)
    panel.to_csv(out, index=False)
    print("sent", int((~panel["cache_hit"]).sum()))
""")


@pytest.mark.parametrize("n_procs", [2, 4])
def test_processes_on_one_store_split_the_work_and_pay_once(tmp_path, n_procs):
    server = FaultServer(slow_seconds=0.08).start()
    try:
        n = 48
        store, go = tmp_path / "s.sqlite", tmp_path / "go"
        outs = [tmp_path / f"p{i}.csv" for i in range(n_procs)]
        children = [subprocess.Popen([sys.executable, "-c", CHILD, server.url, str(store),
                                      str(out), str(go), str(n)], env=_env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                    for out in outs]
        deadline = time.monotonic() + 120
        while not all(Path(str(o) + ".ready").exists() for o in outs):
            assert time.monotonic() < deadline and all(c.poll() is None for c in children)
            time.sleep(0.02)
        go.write_text("go")  # all start together
        results = [c.communicate(timeout=180) for c in children]
    finally:
        server.stop()
    for c, (_, err) in zip(children, results):
        assert c.returncode == 0, err[-3000:]
    slow = _sent(server, "slow")
    assert len(slow) == n, f"{len(slow)} requests paid for a {n}-request study"
    assert len({r["body"]["seed"] for r in slow}) == n  # each request once
    sent_by = [int(out.split()[-1]) for out, _ in results]
    assert sum(sent_by) == n  # the work was split ...
    assert sum(s > 0 for s in sent_by) >= 2  # ... between processes
    panels = [pd.read_csv(o) for o in outs]
    for p in panels:  # every process returns the whole, identical panel
        assert len(p) == n and p["error"].isna().all()
        pd.testing.assert_frame_equal(p.drop(columns="cache_hit"),
                                      panels[0].drop(columns="cache_hit"))
    with Store(store) as st:
        assert len(st) == n and all(r.ok and r.attempts == 1 for r in st)


def test_claims_lease_expiry_and_dead_owner_takeover(tmp_path):
    with Store(tmp_path / "s.sqlite") as st:
        other = "another-host:123:abcd"
        got = st.claim(["a", "b"], other, lease_s=0.3)
        assert got.mine == ["a", "b"]
        mine = st.claim(["a", "b", "c"], "me-host:1:x", lease_s=60)
        assert mine.mine == ["c"] and mine.busy == ["a", "b"]
        st.put(Record(key="a", backend="openai", model="m", run=0, draw=0, request={},
                      response={"x": 1}, status="ok"))
        time.sleep(0.35)  # the other owner's lease on "b" expires
        again = st.claim(["a", "b"], "me-host:1:x", lease_s=60)
        assert again.done == ["a"] and again.mine == ["b"]
        # an owner that is a dead process of this host loses its claims at once
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        import socket

        st.claim(["d"], f"{socket.gethostname()}:{dead.pid}:zz", lease_s=600)
        assert st.claim(["d"], "me-host:1:x").mine == ["d"]
        # the first ok answer is never replaced, an error row is
        st.put(Record(key="a", backend="openai", model="m", run=0, draw=0, request={},
                      response=None, status="error", error="late"))
        assert st.get_many(["a"])["a"].ok


# -- 2. SIGINT / SIGTERM keep what is in flight ------------------------------------------------

def _cli_args(study: Path, server: FaultServer, store: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "beliefreg.cli", "simulate", str(study), "--backend", "openai",
            "--base-url", server.url, "--model", "m", "--store", str(store), "--no-progress",
            *extra]


def _toml(tmp_path: Path, case: str, n: int) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent(f"""
        prompt = "case={case} i={{i}}: would you buy a pack of diapers? Answer {{choices}}."
        seed = 3
        [choices]
        yes = ["Yes"]
        no = ["No"]
        [conditions]
        i = {list(range(n))}
    """))
    return path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_sending_and_stores_the_requests_in_flight(tmp_path, sig):
    server = FaultServer(slow_seconds=1.5).start()
    try:
        store = tmp_path / "s.sqlite"
        study = _toml(tmp_path, "slow", 64)
        child = subprocess.Popen(_cli_args(study, server, store, "--concurrency", "16"),
                                 env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        deadline = time.monotonic() + 120
        while server.inflight < 16:
            assert child.poll() is None and time.monotonic() < deadline, child.stderr.read()
            time.sleep(0.01)
        child.send_signal(sig)
        _, err = child.communicate(timeout=60)
        paid = len(_sent(server, "slow"))
    finally:
        server.stop()
    name = sig.name
    assert child.returncode == 130, err
    assert f"{name} received: sending stopped; waiting up to 30 s" in err
    assert f"interrupted by {name}" in err and "run the same study again to resume" in err
    assert 16 <= paid < 64
    assert _rows(store) == paid  # every answered request is stored: none lost


def test_a_second_signal_aborts_the_wait(tmp_path):
    server = FaultServer(slow_seconds=20).start()
    try:
        store = tmp_path / "s.sqlite"
        study = _toml(tmp_path, "slow", 8)
        child = subprocess.Popen(_cli_args(study, server, store, "--concurrency", "4"),
                                 env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True)
        deadline = time.monotonic() + 120
        while server.inflight < 4:
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        child.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert child.poll() is None  # waiting for the four in flight
        t0 = time.monotonic()
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=15)
        assert time.monotonic() - t0 < 10  # did not wait for the 20 s answers
    finally:
        server.stop()
    assert child.returncode == 130, err
    assert "SIGTERM again: aborting" in err and "aborted" in err


# -- 3. answers without log-probabilities are kept, not retried --------------------------------

def test_answers_without_logprobs_are_kept_once_and_explained(fault_server, tmp_path):
    cases = ["filtered", "empty", "nologprobs"]
    study = Study(prompt="case={case}: would you buy? Answer {choices}.", choices=YN,
                  conditions={"case": cases})
    panel = simulate(study, _backend(fault_server), store=tmp_path / "s.sqlite", retry=FAST,
                     progress=False)
    for case in cases:
        assert len(_sent(fault_server, case)) == 1, case  # paid once
    by = panel.set_index("case")
    assert by["error"].isna().all()  # answers, not failures
    assert by[["belief_yes", "belief_no"]].isna().all().all()
    assert by.loc["filtered", "finish_reason"] == "content_filter"
    assert "no_logprobs" in by.loc["filtered", "belief_flags"]
    assert "finish_reason='content_filter'" in by.loc["filtered", "belief_reason"]
    assert by.loc["empty", "belief_flags"] == "empty_content"
    assert by.loc["nologprobs", "raw_text"] in (" Yes.", " No.")
    assert all("kept and not sent again" in r for r in by["belief_reason"])
    assert not recommended_rows(panel).any()
    # running again sends nothing: they are answers
    again = simulate(study, _backend(fault_server), store=tmp_path / "s.sqlite", progress=False)
    assert again["cache_hit"].all() and len(fault_server.log) == 1 + 3  # probe + 3


def test_transient_errors_are_still_retried(fault_server):
    study = Study(prompt="case={case}: would you buy? Answer {choices}.", choices=YN,
                  conditions={"case": ["flaky500", "ratelimit"]})
    panel = simulate(study, _backend(fault_server), store=None, retry=FAST, progress=False)
    assert panel["error"].isna().all() and recommended_rows(panel).all()
    assert len(_sent(fault_server, "flaky500")) == 3


# -- 4. a refusal is not a belief --------------------------------------------------------------

def test_a_refusal_is_flagged_and_dropped_by_the_recommended_filter(fault_server):
    study = Study(prompt="case={case} i={i}: would you buy? Answer {choices}.", choices=YN,
                  conditions=pd.DataFrame({"case": ["refusal", "ok"], "i": [0, 1]}))
    panel = simulate(study, _backend(fault_server), store=None, progress=False)
    refusal = panel.set_index("case").loc["refusal"]
    assert refusal["belief_yes"] == 1.0  # the naive number: " Yes" is the only alternative listed
    assert refusal["covered_mass"] == pytest.approx(np.exp(-9.0))
    flags = refusal["belief_flags"].split(",")
    assert "low_mass" in flags and "choice_not_alternative" in flags
    assert "< 0.5" in refusal["belief_reason"]
    keep = recommended_rows(panel)
    assert keep.tolist() == [False, True]
    # the demo's analysis sample uses the same filter
    from beliefreg.report.analysis import analysis_sample

    sample, dropped = analysis_sample(panel.assign(price=[30, 40]))
    assert len(sample) == 1 and sum(dropped.values()) == 1


# -- 5. store faults ---------------------------------------------------------------------------

@pytest.fixture
def tmpfs(tmp_path):
    """A small real file system (tmpfs), mounted for the test; skipped where mounting fails."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_disk_keeps_every_paid_answer_and_says_why(fault_server, tmpfs, tmp_path,
                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmpfs / "s.sqlite"
    study = _study("ok", 300)
    # fill the disk but a little
    with Store(store):
        pass
    filler = tmpfs / "filler"
    with open(filler, "wb") as fh:
        try:
            fh.write(b"\0" * (8 * 1024 * 1024))
        except OSError:
            pass
    os.truncate(filler, max(0, filler.stat().st_size - 60 * 1024))
    with pytest.raises(StoreError) as info:
        simulate(study, _backend(fault_server), store=store, concurrency=4, progress=False)
    err = info.value
    msg = str(err)
    assert str(store) in msg and "disk is full" in msg
    assert err.emergency_path is not None and Path(err.emergency_path).exists()
    paid = len(_sent(fault_server, "ok"))
    stored = _rows(store)
    emergency = Path(err.emergency_path).read_text().splitlines()
    assert paid == stored + len(emergency)  # nothing paid for is lost
    assert len(err.panel) == paid and err.panel["error"].isna().all()
    assert paid < 300
    # free space, load the emergency file, resume: the rest is sent, nothing twice
    filler.unlink()
    with Store(store) as st:
        assert st.import_file(err.emergency_path) == len(emergency)
    done = simulate(study, _backend(fault_server), store=store, concurrency=4, progress=False)
    assert len(done) == 300 and done["error"].isna().all()
    assert len(_sent(fault_server, "ok")) == 300


def test_read_only_store_can_be_read(fault_server, tmpfs):
    store = tmpfs / "s.sqlite"
    study = _study("ok", 4)
    first = simulate(study, _backend(fault_server), store=store, progress=False)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    with Store(store) as st:
        assert st.read_only and len(st) == 4
    again = simulate(study, _backend(fault_server), store=store, progress=False)
    assert again["cache_hit"].all()
    pd.testing.assert_frame_equal(again.drop(columns="cache_hit"),
                                  first.drop(columns="cache_hit"))
    n = len(fault_server.log)
    with pytest.raises(StoreError, match="read-only.*Nothing was sent"):
        simulate(_study("ok", 6), _backend(fault_server), store=store, progress=False)
    assert len(fault_server.log) == n


def test_bad_store_files_give_clear_errors(tmp_path):
    good = tmp_path / "good.sqlite"
    with Store(good) as st:
        for i in range(200):
            st.put(Record(key=f"k{i}", backend="b", model="m", run=0, draw=0,
                          request={"i": i, "pad": "x" * 400}, response={"y": i}, status="ok"))
    truncated = tmp_path / "truncated.sqlite"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    text = tmp_path / "notes.sqlite"
    text.write_text("these are my notes, not a database\n" * 50)
    older = tmp_path / "older.sqlite"
    with sqlite3.connect(older) as conn:
        conn.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, payload TEXT)")
    cases = {truncated: "damaged or truncated", text: "not a SQLite database",
             older: "not a beliefreg store of a known schema",
             tmp_path / "notes.sqlite" / "s.sqlite": "cannot create its directory"}
    for path, cause in cases.items():
        with pytest.raises(StoreError) as info:
            with Store(path) as st:
                len(st)
                list(st)
        assert str(path) in str(info.value) and cause in str(info.value), str(info.value)


def test_a_version_1_store_is_migrated(tmp_path):
    path = tmp_path / "v1.sqlite"
    with Store(path) as st:
        st.put(Record(key="a", backend="b", model="m", run=0, draw=0, request={},
                      response={"y": 1}, status="ok"))
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE claims")
        conn.execute("UPDATE meta SET value='1' WHERE name='schema_version'")
    with Store(path) as st:
        assert st.get_many(["a"])["a"].ok and st.claim(["b"], "o").mine == ["b"]


# -- 6. fresh draws are explicit and resumable -------------------------------------------------

def test_fresh_draws_are_numbered_and_resumable(fault_server, tmp_path):
    store = tmp_path / "s.sqlite"
    study = Study(prompt="case={case} i={i}: would you buy? Answer {choices}.", choices=YN,
                  conditions=pd.DataFrame({"case": ["ok"] * 3 + ["quota"] + ["ok"] * 2,
                                           "i": range(6)}))
    with pytest.raises(StudyError, match="fresh=True needs a store.*draw=N"):
        simulate(study, _backend(fault_server), store=None, fresh=True, progress=False)
    first = simulate(study, _backend(fault_server), store=store, concurrency=1, progress=False)
    assert (first["draw"] == 0).all()
    fault_server.state["quota"] = True
    with pytest.raises(QuotaExceededError, match=r"draw=1 \(--draw 1\)"):
        simulate(study, _backend(fault_server), store=store, fresh=True, concurrency=1,
                 progress=False)
    fault_server.state["quota"] = False
    n = len(_sent(fault_server, "ok"))
    resumed = simulate(study, _backend(fault_server), store=store, draw=1, concurrency=1,
                       progress=False)
    assert (resumed["draw"] == 1).all() and len(resumed) == 6
    assert len(_sent(fault_server, "ok")) == n + 2  # only the two not sent before
    assert set(resumed["request_key"]).isdisjoint(first["request_key"])
    # draw 0 can still be read by number; a new fresh run is draw 2
    assert simulate(study, _backend(fault_server), store=store, draw=0,
                    progress=False)["cache_hit"].all()
    assert (simulate(study, _backend(fault_server), store=store, fresh=True,
                     progress=False)["draw"] == 2).all()
    with pytest.raises(StudyError, match="either fresh=True"):
        simulate(study, _backend(fault_server), store=store, fresh=True, draw=1)


# -- 7. validate before paying -----------------------------------------------------------------

def test_bad_options_are_refused_before_the_first_request(fault_server, tmp_path):
    study = _study("ok", 2)
    with pytest.raises(StudyError, match="concurrency must be a positive integer, got 0"):
        simulate(study, _backend(fault_server), store=None, concurrency=0, progress=False)
    with pytest.raises(StudyError, match=r"'price' is missing .* \(rows 1\)"):
        Study(prompt="buy at {price} cents? {choices}", choices=YN,
              conditions={"price": [30, None, 50]})
    with pytest.raises(StudyError, match=r"'price' is missing .* \(rows 2\)"):
        Study(prompt="buy at {price} cents? {choices}", choices=YN,
              conditions=pd.DataFrame({"price": [30, 40, np.nan]}))
    toml = _toml(tmp_path, "ok", 2)
    for extra, needle in [(("--out", str(tmp_path / "p.xlsx")), "--out must end in"),
                          (("--concurrency", "0"), "concurrency must be a positive"),
                          (("--no-store", "--out", str(tmp_path / "p.xlsx")), "--out must end")]:
        res = subprocess.run(_cli_args(toml, fault_server, tmp_path / "s.sqlite", *extra),
                             env=_env(), capture_output=True, text=True, timeout=120)
        assert res.returncode == 1 and needle in res.stderr, res.stderr
    assert fault_server.log == []  # nothing was sent, not even the probe


def test_cli_exit_status_3_when_no_row_has_a_belief(fault_server, tmp_path):
    toml = _toml(tmp_path, "filtered", 2)
    res = subprocess.run(_cli_args(toml, fault_server, tmp_path / "s.sqlite", "--out",
                                   str(tmp_path / "p.csv")), env=_env(), capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 3 and "no row has a usable belief" in res.stderr, res.stderr
    assert len(pd.read_csv(tmp_path / "p.csv")) == 2


# -- 8. the probe reports the server's own error -----------------------------------------------

def test_probe_reports_the_servers_error(fault_server, tmp_path):
    fault_server.state["probe"] = "400"
    with pytest.raises(BackendError) as info:
        simulate(_study("ok", 2), _backend(fault_server), store=None, progress=False)
    assert not isinstance(info.value, LogprobsUnsupportedError)
    assert "must be at least 16" in str(info.value) and "reasoning" not in str(info.value)
    fault_server.state["probe"] = None
    fault_server.state["refuse_logprobs"] = True
    with pytest.raises(LogprobsUnsupportedError, match="logprobs are not supported"):
        simulate(_study("ok", 2), _backend(fault_server), store=None, progress=False)
    fault_server.state["refuse_logprobs"] = False
    fault_server.state["probe"] = "quota"
    with pytest.raises(QuotaExceededError, match="exceeded your current quota") as q:
        simulate(_study("ok", 2), _backend(fault_server), store=None, progress=False)
    assert q.value.n_pending == 2
    res = subprocess.run(_cli_args(_toml(tmp_path, "ok", 2), fault_server,
                                   tmp_path / "s.sqlite"),
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 4, res.stderr
    assert _sent(fault_server, "ok") == []


# -- 9. secrets --------------------------------------------------------------------------------

def test_an_echoed_key_is_redacted_everywhere(fault_server, tmp_path):
    toml = _toml(tmp_path, "echokey", 2)
    bad = tmp_path / "bad"
    bad.mkdir()
    toml400 = _toml(bad, "echokey400", 2)
    store, out = tmp_path / "s.sqlite", tmp_path / "p.csv"
    env = dict(_env(), OPENAI_API_KEY=KEY)
    runs = [subprocess.run(_cli_args(t, fault_server, store, "--out", str(out)), env=env,
                           capture_output=True, text=True, timeout=120) for t in (toml, toml400)]
    assert [r.returncode for r in runs] == [0, 3], runs[1].stderr
    assert all(r["auth"] == f"Bearer {KEY}" for r in fault_server.log)  # the key was sent ...
    secret = KEY[5:]  # ... and is nowhere stored or printed, not even in part
    for r in runs:
        assert secret not in r.stdout + r.stderr
    assert "[REDACTED]" in runs[1].stderr
    assert secret not in out.read_text() and "[REDACTED]" in out.read_text()
    with sqlite3.connect(store) as conn:
        conn.execute("PRAGMA wal_checkpoint(FULL)")
    for f in tmp_path.glob("s.sqlite*"):
        assert secret.encode() not in f.read_bytes(), f
    fault_server.state["probe"] = "echo401"
    with pytest.raises(BackendError) as info:
        simulate(_study("ok", 1), _backend(fault_server, api_key=KEY), store=None,
                 progress=False)
    assert secret not in str(info.value) and "[REDACTED]" in str(info.value)
