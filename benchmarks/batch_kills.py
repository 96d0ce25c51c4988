"""A 10^5-request study through the Batch API path, SIGKILLed at each stage, then resumed.

For each stage (during the upload, between upload and create, after the batch was created but
before its id was recorded, between create and download) a fresh store and a fresh fake Batch
API server (``tests/simulation/batch_server.py``, a real HTTP server on 127.0.0.1 driven by the
official ``openai`` client); ``beliefreg simulate --backend openai-batch`` runs in a child
process, is SIGKILLed when the first request reaches the stage's gate, and is run again. Checked:
every one of the 100,000 requests executed exactly once, two batches created and two files
uploaded (50,000 requests each), the panel complete with no error. The issue 15 "done when"
check at full size; ``tests/simulation/test_batch.py`` runs the same kills on 12 requests.

    python benchmarks/batch_kills.py [--conditions 1000 --runs 100] [--stages content,...]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import write_section  # noqa: E402

from tests.simulation.batch_server import BatchServer  # noqa: E402

STAGES = {"upload_after": "during the upload (file stored, its id not recorded)",
          "create_before": "between upload and create",
          "create_after": "batch created, its id not recorded",
          "content": "between create and download"}


def _study(path: Path, conditions: int, runs: int) -> Path:
    path.write_text(textwrap.dedent(f"""
        prompt = "case=ok price {{price}}: would you buy? Answer {{choices}}."
        runs = {runs}
        seed = 1
        model = "m"

        [choices]
        yes = ["Yes"]
        no = ["No"]

        [conditions]
        price = {list(range(conditions))}
    """))
    return path


def _args(server: BatchServer, d: Path, study: Path) -> list[str]:
    return [sys.executable, "-m", "beliefreg.cli", "simulate", str(study), "--backend",
            "openai-batch", "--base-url", server.url, "--store", str(d / "s.sqlite"),
            "--out", str(d / "panel.csv"), "--poll-interval", "0.2", "--no-progress", "--yes"]


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1")
    env.pop("OPENAI_API_KEY", None)
    return env


def _states(store: Path) -> list[str]:
    con = sqlite3.connect(store)
    try:
        return [r[0] for r in con.execute("SELECT state FROM batch_jobs ORDER BY id")]
    finally:
        con.close()


def run_stage(gate: str, conditions: int, runs: int) -> dict:
    import pandas as pd

    n = conditions * runs
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        study = _study(d / "study.toml", conditions, runs)
        server = BatchServer().start()
        try:
            server.hold(gate)
            t0 = time.perf_counter()
            proc = subprocess.Popen(_args(server, d, study), env=_env(), cwd=tmp,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if not server.reached[gate].wait(timeout=1800):
                raise RuntimeError(f"{gate}: never reached; {proc.communicate(timeout=5)}")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            t_kill = time.perf_counter() - t0
            states = _states(d / "s.sqlite")
            server.release(gate)
            t1 = time.perf_counter()
            res = subprocess.run(_args(server, d, study), env=_env(), cwd=tmp,
                                 capture_output=True, text=True, timeout=3600)
            t_resume = time.perf_counter() - t1
            if res.returncode != 0:
                raise RuntimeError(f"{gate}: resume exit {res.returncode}: {res.stderr[-2000:]}")
            panel = pd.read_csv(d / "panel.csv", usecols=["request_key", "error"])
            counts = set(server.executed.values())
            return {"gate": gate, "n": n, "states_at_kill": sorted(set(states)),
                    "t_kill": t_kill, "t_resume": t_resume,
                    "executed": len(server.executed), "paid_once": counts == {1},
                    "created": len(server.created), "uploads": len(server.uploads),
                    "panel_rows": len(panel), "panel_errors": int(panel["error"].notna().sum()),
                    "keys_match": sorted(server.executed) == sorted(panel["request_key"])}
        finally:
            server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conditions", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = ap.parse_args()
    rows = []
    for gate in args.stages.split(","):
        r = run_stage(gate, args.conditions, args.runs)
        print(r, flush=True)
        rows.append(r)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    n = args.conditions * args.runs
    lines = [f"`python benchmarks/batch_kills.py --conditions {args.conditions} --runs "
             f"{args.runs}` on {time.strftime('%Y-%m-%d')} (load average at the end {load}): "
             f"a {n:,}-request study through `--backend openai-batch` against the fake Batch "
             "API server, SIGKILLed when the first request reached each stage, then run again "
             "on the same store.", "",
             "| killed | job states at the kill | kill after | resume took | requests executed "
             "| each exactly once | batches created | files uploaded | panel rows (errors) |",
             "|---|---|---:|---:|---:|---|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {STAGES[r['gate']]} | {', '.join(r['states_at_kill'])} | "
                     f"{r['t_kill']:.0f} s | {r['t_resume']:.0f} s | {r['executed']:,} | "
                     f"{'yes' if r['paid_once'] and r['keys_match'] else 'NO'} | "
                     f"{r['created']} | {r['uploads']} | {r['panel_rows']:,} "
                     f"({r['panel_errors']}) |")
    write_section(args.out, "Batch API: 10^5 requests killed at each stage", "\n".join(lines))
    bad = [r for r in rows if not (r["paid_once"] and r["keys_match"] and r["executed"] == n
                                   and r["panel_rows"] == n and r["panel_errors"] == 0)]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
