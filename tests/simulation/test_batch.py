"""The OpenAI Batch API backend against a fake Batch API server on 127.0.0.1.

What is checked: answers read through the same belief extraction as the interactive backend;
files split at the request and byte limits; failed and expired lines resubmitted once, then
reported; batch prices in the estimate; cancellation as a command; and, after a SIGKILL at
each stage (during the upload, between upload and create, after the batch was created but
before its id was recorded, between create and download), a second run that finishes with
every request executed (paid) exactly once and no batch created twice.
"""

from __future__ import annotations

import json
import math
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
from beliefreg.simulation import FailedRequestsWarning, estimate
from beliefreg.simulation.backends.openai_batch import OpenAIBatchBackend
from beliefreg.simulation.batch_ledger import BatchLedger
from beliefreg.simulation.errors import BackendError
from beliefreg.simulation.store import Store

from .batch_server import BatchServer

WORKTREE = Path(__file__).resolve().parents[2]
BELIEF_YES = math.exp(-0.5) / (math.exp(-0.5) + math.exp(-1.25))  # the fake's log-probs


@pytest.fixture
def batch_server():
    server = BatchServer(lines_per_poll=5).start()
    yield server
    server.stop()


def _study(cases=("ok",), n=4, runs=2):
    return Study(prompt="case={case} i={i}: would you buy? Answer {choices}.",
                 choices={"yes": ["Yes"], "no": ["No"]},
                 conditions={"case": list(cases), "i": list(range(n))}, runs=runs, model="m",
                 seed=5)


def _run(server, study, store, **kw):
    kw.setdefault("poll_interval", 0.01)
    return simulate(study, "openai-batch", base_url=server.url, store=store, progress=False,
                    **kw)


def test_answers_are_read_like_interactive_ones_and_files_split_at_the_limits(batch_server,
                                                                              tmp_path):
    study = _study(n=10, runs=3)  # 30 requests
    backend = OpenAIBatchBackend(base_url=batch_server.url)
    one_line = len(json.dumps(backend.batch_line("k" * 64, {"api": "chat", "messages": []},
                                                 "m")))
    panel = _run(batch_server, study, tmp_path / "s.sqlite", max_batch_requests=8)
    assert len(panel) == 30 and panel["error"].isna().all()
    assert panel["belief_yes"].tolist() == pytest.approx([BELIEF_YES] * 30)
    assert set(panel["choice"]) <= {"yes", "no"} and panel["choice_valid"].all()
    assert (panel["backend"] == "openai-batch").all()
    # every request once, in ceil(30 / 8) = 4 batches keyed by the request keys
    assert sorted(batch_server.executed) == sorted(panel["request_key"])
    assert set(batch_server.executed.values()) == {1}
    assert len(batch_server.created) == 4
    # a byte limit splits too (about three lines per file here)
    server2 = BatchServer().start()
    try:
        _run(server2, study, tmp_path / "t.sqlite", max_batch_bytes=3 * (one_line + 400))
        sizes = [f["bytes"] for f in server2.files.values() if f["purpose"] == "batch"]
        assert len(server2.created) == len(sizes) > 4
        assert max(sizes) <= 3 * (one_line + 400)
    finally:
        server2.stop()
    # a second call reads everything from the store
    again = _run(batch_server, study, tmp_path / "s.sqlite")
    assert again["cache_hit"].all() and len(batch_server.created) == 4


def test_failed_lines_are_resubmitted_once_then_reported(batch_server, tmp_path):
    study = _study(cases=("ok", "fail500", "bad400", "nologprobs"), n=3, runs=2)
    with pytest.warns(FailedRequestsWarning, match="6 of 24 requests failed"):
        panel = _run(batch_server, study, tmp_path / "s.sqlite")
    by_case = panel.groupby("case")
    assert by_case["error"].count().to_dict() == {"bad400": 6, "fail500": 0, "nologprobs": 0,
                                                  "ok": 0}
    bad = panel[panel["case"] == "bad400"]
    assert bad["error"].str.contains("HTTP 400: fake HTTP 400").all()
    assert bad["error"].str.contains("attempt 2 of 2").all()
    assert bad["belief_yes"].isna().all()
    good = panel[panel["case"].isin(["ok", "fail500"])]
    assert good["belief_yes"].tolist() == pytest.approx([BELIEF_YES] * 12)
    # an answer without log-probabilities is kept (asking again would pay again): NaN belief
    nolp = panel[panel["case"] == "nologprobs"]
    assert nolp["belief_yes"].isna().all() and nolp["belief_reason"].notna().all()
    # failures are seen twice (first try and the one resubmission), never more
    seen = batch_server.seen
    for _, row in panel.iterrows():
        assert seen[row["request_key"]] == (2 if row["case"] in ("fail500", "bad400") else 1)
    # paid: every answered request once
    for _, row in panel.iterrows():
        expected = 0 if row["case"] == "bad400" else 1
        assert batch_server.executed.get(row["request_key"], 0) == expected
    with Store(tmp_path / "s.sqlite") as st:
        jobs = BatchLedger(st).jobs()
    assert [(j.attempt, j.n_requests) for j in jobs] == [(1, 24), (2, 12)]
    assert all(j.state == "collected" for j in jobs)
    assert jobs[1].note == "6 ok, 6 reported, 0 resubmitted, 0 released"


def test_an_expired_batch_is_collected_and_its_rest_resubmitted(batch_server, tmp_path):
    study = _study(n=6, runs=2)  # 12 requests, one batch
    batch_server.state["expire_after"] = 5
    panel = _run(batch_server, study, tmp_path / "s.sqlite")
    assert panel["error"].isna().all() and len(panel) == 12
    assert set(batch_server.executed.values()) == {1}
    statuses = [b["status"] for b in batch_server.batches.values()]
    assert statuses == ["expired", "completed"]
    assert batch_server.batches[batch_server.created[1]]["request_counts"]["total"] == 7


def test_a_batch_that_fails_validation_is_resubmitted_once(batch_server, tmp_path):
    batch_server.state["fail_validation"] = True
    panel = _run(batch_server, _study(n=3), tmp_path / "s.sqlite")
    assert panel["error"].isna().all() and len(panel) == 6
    assert [b["status"] for b in batch_server.batches.values()] == ["failed", "completed"]


def test_estimate_uses_batch_prices(tmp_path):
    study = _study(n=5)
    prices = {"m": (2.0, 8.0)}
    inter = estimate(study, "openai", base_url="http://127.0.0.1:9/v1", prices=prices,
                     store=tmp_path / "s.sqlite")
    batch = estimate(study, "openai-batch", base_url="http://127.0.0.1:9/v1", prices=prices,
                     store=tmp_path / "s.sqlite")
    assert batch.input_tokens == inter.input_tokens and batch.n_to_send == 10
    assert batch.cost_usd == pytest.approx(inter.cost_usd / 2)
    assert OpenAIBatchBackend().price("gpt-4o").input_per_million == pytest.approx(1.25)


def test_the_batch_backend_needs_a_store_on_disk(batch_server):
    with pytest.raises(BackendError, match="needs a store on disk"):
        _run(batch_server, _study(n=1), None)


# -- the command line, kills and cancellation ---------------------------------------------------
STUDY_TOML = textwrap.dedent("""
    prompt = "case=ok i={i}: would you buy? Answer {choices}."
    runs = 2
    seed = 3
    model = "m"

    [choices]
    yes = ["Yes"]
    no = ["No"]

    [conditions]
    i = [0, 1, 2, 3, 4, 5]
""")


def _cli_args(server, tmp_path, *extra):
    study = tmp_path / "study.toml"
    study.write_text(STUDY_TOML)
    return [sys.executable, "-m", "beliefreg.cli", "simulate", str(study), "--backend",
            "openai-batch", "--base-url", server.url, "--store", str(tmp_path / "s.sqlite"),
            "--out", str(tmp_path / "panel.csv"), "--poll-interval", "0.05", "--no-progress",
            "--yes", "--max-batch-requests", "5", *extra]


def _env():
    env = dict(os.environ, PYTHONPATH=str(WORKTREE), OPENBLAS_NUM_THREADS="1")
    env.pop("OPENAI_API_KEY", None)
    return env


def _states(tmp_path):
    con = sqlite3.connect(tmp_path / "s.sqlite")
    try:
        return [r[0] for r in con.execute("SELECT state FROM batch_jobs ORDER BY id")]
    finally:
        con.close()


def _finish_and_check(server, tmp_path, n_batches=3):
    res = subprocess.run(_cli_args(server, tmp_path), env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    panel = pd.read_csv(tmp_path / "panel.csv")
    assert len(panel) == 12 and panel["error"].isna().all()
    assert panel["belief_yes"].tolist() == pytest.approx([BELIEF_YES] * 12)
    assert sorted(server.executed) == sorted(panel["request_key"])
    assert set(server.executed.values()) == {1}  # every request paid once
    assert len(server.created) == n_batches  # ceil(12 / 5): no batch created twice
    assert _states(tmp_path) == ["collected"] * n_batches
    return panel


@pytest.mark.parametrize("gate, state", [
    ("upload_after", "uploading"),    # the file is stored, its id not yet recorded
    ("create_before", "creating"),    # killed between upload and create
    ("create_after", "creating"),     # the batch exists, its id was never recorded
    ("content", "submitted"),         # killed between create and download
])
def test_sigkill_at_each_stage_then_resume_pays_each_request_once(tmp_path, gate, state):
    server = BatchServer(lines_per_poll=100).start()
    try:
        server.hold(gate)
        proc = subprocess.Popen(_cli_args(server, tmp_path), env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert server.reached[gate].wait(timeout=120), proc.communicate(timeout=5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        server.release(gate)
        assert state in _states(tmp_path)
        uploads_before = len(server.uploads)
        _finish_and_check(server, tmp_path)
        assert len(server.uploads) == 3  # the file found again, not uploaded twice
        assert uploads_before >= 1
    finally:
        server.stop()


def test_cancel_command_stops_open_batches_and_a_rerun_submits_the_rest(tmp_path):
    server = BatchServer(lines_per_poll=1).start()
    try:
        proc = subprocess.Popen(_cli_args(server, tmp_path), env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while len(server.created) < 3 or sum(server.executed.values()) < 2:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.01)
        server.state["paused"] = True  # the batches stay in progress while we cancel
        res = subprocess.run([sys.executable, "-m", "beliefreg.cli", "batch", "cancel",
                              "--store", str(tmp_path / "s.sqlite")], env=_env(),
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        assert res.stdout.count("cancel requested") == 3
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "cancelled batches did not run" in err
        partial = pd.read_csv(tmp_path / "panel.csv")
        assert 2 <= len(partial) < 12 and partial["error"].isna().all()
        status = subprocess.run([sys.executable, "-m", "beliefreg.cli", "batch", "status",
                                 "--store", str(tmp_path / "s.sqlite")], env=_env(),
                                capture_output=True, text=True, timeout=120)
        assert status.stdout.count("(cancelled)") == 3
        server.state["paused"] = False
        panel = _finish_and_check(server, tmp_path,
                                  n_batches=3 + math.ceil((12 - len(partial)) / 5))
        assert len(panel) == 12
    finally:
        server.stop()


def test_a_study_of_100000_requests_end_to_end(tmp_path):
    """10^5 requests in two batch files of 50,000 (OpenAI's limit), every one paid once, the
    panel read through the belief extraction; a second call reads the store only."""
    server = BatchServer().start()
    try:
        study = Study(prompt="case=ok price {price}: would you buy? Answer {choices}.",
                      choices={"yes": ["Yes"], "no": ["No"]},
                      conditions={"price": list(range(1000))}, runs=100, model="m", seed=1)
        panel = _run(server, study, tmp_path / "s.sqlite", poll_interval=0.05)
        assert len(panel) == 100_000 and panel["error"].isna().all()
        assert panel["belief_yes"].to_numpy() == pytest.approx(BELIEF_YES)
        assert len(server.created) == 2
        assert [server.batches[b]["request_counts"]["total"] for b in server.created] == \
            [50_000, 50_000]
        assert len(server.executed) == 100_000 and set(server.executed.values()) == {1}
        again = estimate(study, "openai-batch", base_url=server.url,
                         store=tmp_path / "s.sqlite")
        assert again.n_to_send == 0 and again.n_cached == 100_000
    finally:
        server.stop()


def test_batch_lines_carry_extra_body_fields_at_the_top_level():
    backend = OpenAIBatchBackend(base_url="http://127.0.0.1:9/v1", extra_body={"top_k": -1})
    study = _study(n=1)
    from beliefreg.simulation.design import expand

    payload = backend.build_payload(expand(study)[0], study, "m")
    line = backend.batch_line("key", payload, "m")
    assert line["custom_id"] == "key" and line["url"] == "/v1/chat/completions"
    assert line["body"]["top_k"] == -1 and "extra_body" not in line["body"]
    assert line["body"]["model"] == "m" and "api" not in line["body"]
