"""``beliefreg simulate STUDY.toml`` in a subprocess (PYTHONPATH = this worktree)."""

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

from beliefreg.cli import build_parser

WORKTREE = Path(__file__).resolve().parents[2]

STUDY_TOML = textwrap.dedent("""
    prompt = "case={case} i={i}: would you buy a pack of diapers? Answer {choices}."
    runs = 2
    seed = 3

    [choices]
    yes = ["Yes"]
    no = ["No"]

    [conditions]
    case = ["CASE"]
    i = [0, 1, 2]
""")


def _cli(*args: str, timeout: float = 300, **popen) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(WORKTREE), OPENBLAS_NUM_THREADS="1")
    env.pop("OPENAI_API_KEY", None)
    return subprocess.run([sys.executable, "-m", "beliefreg.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, **popen)


def _write_study(tmp_path: Path, case: str = "ok", extra: str = "") -> Path:
    path = tmp_path / "study.toml"
    path.write_text(STUDY_TOML.replace("CASE", case) + extra)
    return path


def test_parser_has_the_simulate_subcommand():
    parser = build_parser()
    args = parser.parse_args(["simulate", "s.toml", "--backend", "openai", "--out", "p.csv"])
    assert args.command == "simulate" and callable(args.func)


def test_openai_backend_to_csv(fault_server, tmp_path):
    study = _write_study(tmp_path)
    out = tmp_path / "panel.csv"
    res = _cli("simulate", str(study), "--backend", "openai", "--base-url", fault_server.url,
               "--model", "m", "--store", str(tmp_path / "s.sqlite"), "--out", str(out),
               "--no-progress")
    assert res.returncode == 0, res.stderr
    panel = pd.read_csv(out)
    assert len(panel) == 6 and panel["error"].isna().all()
    assert {"case", "i", "condition_id", "run", "choice", "belief_yes", "belief_no",
            "covered_mass", "cache_hit"} <= set(panel.columns)
    assert "6 rows (0 from the store, 0 failed)" in res.stdout
    again = _cli("simulate", str(study), "--backend", "openai", "--base-url", fault_server.url,
                 "--model", "m", "--store", str(tmp_path / "s.sqlite"), "--no-progress")
    assert again.returncode == 0 and "6 rows (6 from the store, 0 failed)" in again.stdout


def test_failed_requests_give_exit_status_3_and_rows(fault_server, tmp_path):
    study = _write_study(tmp_path, case="bad400")
    out = tmp_path / "panel.csv"
    res = _cli("simulate", str(study), "--backend", "openai", "--base-url", fault_server.url,
               "--model", "m", "--no-store", "--out", str(out), "--no-progress")
    assert res.returncode == 3, res.stderr
    assert "FailedRequestsWarning" in res.stderr
    assert pd.read_csv(out)["error"].str.contains("HTTP 400").all()


def test_paid_run_needs_confirmation_when_not_interactive(tmp_path):
    """No base_url: OpenAI's API with known prices. Nothing is sent without --yes."""
    study = _write_study(tmp_path)
    env_key = {"OPENAI_API_KEY": "sk-dummy"}
    res = subprocess.run(
        [sys.executable, "-m", "beliefreg.cli", "simulate", str(study), "--backend", "openai",
         "--model", "gpt-4o-mini", "--store", str(tmp_path / "s.sqlite")],
        env=dict(os.environ, PYTHONPATH=str(WORKTREE), **env_key), capture_output=True,
        text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert res.returncode == 1
    assert "6 requests to send" in res.stderr and "cost about $" in res.stderr
    assert "needs --yes" in res.stderr
    dry = _cli("simulate", str(study), "--backend", "openai", "--model", "gpt-4o-mini",
               "--no-store", "--dry-run")
    assert dry.returncode == 0 and "6 requests to send" in dry.stdout


def test_local_backend_to_parquet(gemma_path, tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(textwrap.dedent("""
        prompt = "Would you buy a pack of diapers for {price} cents? Answer {choices}."
        runs = 2
        [choices]
        yes = ["Yes"]
        no = ["No"]
        [conditions]
        price = [30]
        [[examples]]
        question = "Is the sky blue? Answer Yes or No."
        answer = "Yes"
        [simulate]
        backend = "local"
        threads = 1
        out = "panel.parquet"
    """))
    res = _cli("simulate", str(study), "--store", str(tmp_path / "s.sqlite"), "--no-progress")
    assert res.returncode == 0, res.stderr
    panel = pd.read_parquet(tmp_path / "panel.parquet")
    assert len(panel) == 2 and (panel["belief_method"] == "exact").all()
    assert panel["belief_yes"].nunique() == 1


@pytest.mark.slow
def test_ctrl_c_keeps_what_was_received_and_resume_completes(fault_server, tmp_path):
    fault_server.slow_seconds = 0.25
    study = _write_study(tmp_path, case="slow").read_text().replace("i = [0, 1, 2]",
                                                                     "i = [0, 1, 2, 3, 4, 5]")
    path = tmp_path / "study.toml"
    path.write_text(study)
    store = tmp_path / "s.sqlite"
    args = ["simulate", str(path), "--backend", "openai", "--base-url", fault_server.url,
            "--model", "m", "--store", str(store), "--concurrency", "2", "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(WORKTREE), OPENBLAS_NUM_THREADS="1")
    child = subprocess.Popen([sys.executable, "-m", "beliefreg.cli", *args], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def rows() -> int:
        try:
            with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
                return conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    deadline = time.monotonic() + 60
    while rows() < 3:
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 130, err
    assert "interrupted" in err and "run the same study again to resume" in err
    kept = rows()
    assert 3 <= kept < 12
    sent_before = len([r for r in fault_server.log if r["case"] == "slow"])
    assert sent_before <= kept + 2  # at most the requests in flight are lost
    res = _cli(*args, "--out", str(tmp_path / "p.csv"))
    assert res.returncode == 0, res.stderr
    panel = pd.read_csv(tmp_path / "p.csv")
    assert len(panel) == 12 and panel["request_key"].is_unique
    assert int(panel["cache_hit"].sum()) == kept
    sent = len([r for r in fault_server.log if r["case"] == "slow"])
    assert sent <= 12 + 2


def test_store_none_means_memory_only_as_for_the_demo(fault_server, tmp_path):
    study = _write_study(tmp_path)
    out = tmp_path / "panel.csv"
    res = _cli("simulate", str(study), "--backend", "openai", "--base-url", fault_server.url,
               "--model", "m", "--store", "none", "--out", str(out), "--no-progress",
               cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "none").exists()  # not an SQLite file called "none"
    assert len(pd.read_csv(out)) == 6


def test_without_a_store_the_resume_hint_does_not_promise_a_resume():
    from beliefreg.simulation.pipeline import _resume_hint
    from beliefreg.simulation.store import Store

    assert "again sends every request again" in _resume_hint(0, Store(None))
    assert _resume_hint(2) == "run the same study again with draw=2 (--draw 2) to resume"


def test_every_refusal_of_simulate_reads_the_same_way(tmp_path):
    """Each error of the command is one line ``beliefreg simulate: ...`` on stderr, exit 1, and
    names what to change (the [simulate] table's message lists the known keys)."""
    study = _write_study(tmp_path)
    (tmp_path / "k").mkdir()
    bad_key = _write_study(tmp_path / "k", extra="\n[simulate]\nconcurency = 4\n")
    bad_study = tmp_path / "bad.toml"
    bad_study.write_text('prompt = "{price} {choices}"\n[choices]\nyes = ["Yes"]\nno = ["No"]\n'
                         '[conditions]\nprice = [30, "sixty"]\n')
    (tmp_path / "b").mkdir()
    bad_backend = _write_study(tmp_path / "b", extra='\n[simulate]\nbackend = "lokal"\n')
    cases = [
        ((str(bad_key), "--dry-run"), "unknown [simulate] keys ['concurency']; known: ["),
        ((str(bad_backend), "--dry-run"), "[simulate] backend 'lokal' is not one of"),
        ((str(bad_study), "--dry-run"), "StudyError:"),
        ((str(study), "--out", str(tmp_path / "p.xlsx"), "--dry-run"), "--out must end in"),
        ((str(study), "--concurrency", "0", "--dry-run"), "concurrency"),
    ]
    for args, needle in cases:
        res = _cli("simulate", *args, "--backend", "openai", "--base-url", "http://127.0.0.1:9",
                   "--model", "m", "--no-store")
        assert res.returncode == 1, (args, res.stderr)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert lines and all(ln.startswith("beliefreg simulate: ") for ln in lines), res.stderr
        assert needle in res.stderr, (needle, res.stderr)


def test_a_relative_store_in_the_file_is_found_from_any_folder(fault_server, tmp_path):
    """`[simulate] store = "s.sqlite"` is relative to the study file (as its conditions CSV
    and `out` are): run from another folder, the stored answers are found and not paid for
    again; a dry run against a store that does not exist yet creates no file."""
    (tmp_path / "study").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    study = _write_study(tmp_path / "study", extra='\n[simulate]\nstore = "s.sqlite"\n'
                                                     'out = "panel.csv"\n')
    common = ("--backend", "openai", "--base-url", fault_server.url, "--model", "m",
              "--no-progress")
    dry = _cli("simulate", str(study), *common, "--dry-run", cwd=elsewhere)
    assert dry.returncode == 0, dry.stderr
    assert not (tmp_path / "study" / "s.sqlite").exists() and not list(elsewhere.iterdir())
    first = _cli("simulate", str(study), *common, cwd=tmp_path / "study")
    assert first.returncode == 0 and "6 rows (0 from the store, 0 failed)" in first.stdout
    again = _cli("simulate", str(study), *common, cwd=elsewhere)
    assert again.returncode == 0, again.stderr
    assert "6 rows (6 from the store, 0 failed)" in again.stdout
    assert not list(elsewhere.iterdir())  # neither a new store nor a panel here
    assert (tmp_path / "study" / "panel.csv").exists()
