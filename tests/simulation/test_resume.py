"""Kill-and-resume: a study killed (SIGKILL) in a subprocess mid-run, then resumed, ends with
every row exactly once and identical to an uninterrupted run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from beliefreg import Study, simulate
from beliefreg.simulation import LocalBackend, Store

WORKTREE = Path(__file__).resolve().parents[2]

STUDY = dict(
    prompt="Would you buy a pack of diapers for {price} cents? Answer {choices}.",
    choices={"yes": ["Yes"], "no": ["No"]},
    conditions={"price": [25, 35, 45]},
    runs=8,
    examples=[["Is the sky blue? Answer Yes or No.", "Yes"],
              ["Is fire cold? Answer Yes or No.", "No"]],
    seed=99,
)

CHILD = textwrap.dedent(f"""
    import sys
    from beliefreg import Study, simulate
    from beliefreg.simulation import LocalBackend
    study = Study(**{STUDY!r})
    simulate(study, LocalBackend(n_threads=1), store=sys.argv[1], progress=False)
    print("finished")
""")


def _rows(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(runtime, tmp_path):
    study = Study(**STUDY)
    total = study.n_requests
    store_path = tmp_path / "killed.sqlite"
    env = dict(os.environ, PYTHONPATH=str(WORKTREE), OPENBLAS_NUM_THREADS="1")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(store_path)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while _rows(store_path) < 4:
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the child stored nothing in time"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    stored_before = _rows(store_path)
    assert 4 <= stored_before < total, "the kill must land mid-run"

    resumed = simulate(study, LocalBackend(n_threads=1), store=store_path, progress=False)
    assert len(resumed) == total
    assert resumed["request_key"].is_unique
    assert int(resumed["cache_hit"].sum()) == stored_before  # only the missing ones were sent
    with Store(store_path) as store:
        records = list(store)
    assert len(records) == total and len({r.key for r in records}) == total
    assert all(r.ok for r in records)

    uninterrupted = simulate(study, LocalBackend(n_threads=1), store=tmp_path / "clean.sqlite",
                             progress=False)
    pd.testing.assert_frame_equal(resumed.drop(columns="cache_hit"),
                                  uninterrupted.drop(columns="cache_hit"), check_exact=True)

    # a further run sends nothing and returns the same panel
    again = simulate(study, LocalBackend(n_threads=1), store=store_path, progress=False)
    assert again["cache_hit"].all()
    pd.testing.assert_frame_equal(again.drop(columns="cache_hit"),
                                  resumed.drop(columns="cache_hit"), check_exact=True)


def test_fresh_draws_new_seeds_and_keeps_old_rows(runtime, tmp_path):
    study = Study(**dict(STUDY, runs=3, conditions={"price": [25]}))
    path = tmp_path / "s.sqlite"
    first = simulate(study, LocalBackend(n_threads=1), store=path, progress=False)
    fresh = simulate(study, LocalBackend(n_threads=1), store=path, fresh=True, progress=False)
    assert (first["draw"] == 0).all() and (fresh["draw"] == 1).all()
    assert not fresh["cache_hit"].any()
    assert set(first["request_key"]).isdisjoint(fresh["request_key"])
    # pivot = first token: the belief does not depend on the draw
    assert (fresh["belief_yes"].to_numpy() == first["belief_yes"].to_numpy()).all()
    latest = simulate(study, LocalBackend(n_threads=1), store=path, progress=False)
    assert latest["cache_hit"].all() and (latest["draw"] == 1).all()
    with Store(path) as store:
        assert len(store) == 2 * study.n_requests
