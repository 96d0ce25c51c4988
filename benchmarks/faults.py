"""Benchmark: what a fault costs a paid study (requests paid against rows kept).

Usage::

    python benchmarks/faults.py [--requests 400] [--no-write]

Every scenario runs ``beliefreg simulate`` (or :func:`beliefreg.simulate`) in real
processes against the fault-injecting OpenAI-compatible server of the tests on 127.0.0.1
(``tests/simulation/fault_server.py``); the server counts the requests it answered (what a
provider would bill) and the SQLite store is counted afterwards.

``two processes`` / ``four processes``
    N processes start the same study on one store at the same moment.
``SIGTERM at concurrency 32`` / ``SIGINT ...``
    A job scheduler's SIGTERM (or Ctrl-C) while 32 slow requests are in flight.
``SIGKILL, then resume``
    The process is killed (no chance to clean up) mid-run, then the same command is run again.
``full disk``
    The store lives on a small tmpfs that fills up mid-run (needs permission to mount; skipped
    otherwise); the answers the store cannot take go to the emergency file.

Results go to ``benchmarks/RESULTS.md`` under ``## Faults`` (other sections are kept).
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

from tests.simulation.fault_server import FaultServer  # noqa: E402

CHILD = textwrap.dedent("""
    import pathlib, sys, time
    from beliefreg import Study, simulate
    from beliefreg.simulation import OpenAIBackend
    url, store, go, n, conc = sys.argv[1:6]
    study = Study(prompt="case=slow i={i}: would you buy? Answer {choices}.",
                  choices={"yes": ["Yes"], "no": ["No"]}, conditions={"i": list(range(int(n)))})
    pathlib.Path(go + "." + str(__import__("os").getpid())).write_text("ready")
    while not pathlib.Path(go).exists():
        time.sleep(0.005)
    panel = simulate(study, OpenAIBackend(base_url=url, model="m", timeout=30), store=store,
                     concurrency=int(conc), progress=False)
""")


CODE = [str(ROOT)]


def _env() -> dict[str, str]:
    # the processes run in a temporary folder: `python -m` would import the working directory's
    # beliefreg before PYTHONPATH's
    env = dict(os.environ, PYTHONPATH=CODE[0], OPENBLAS_NUM_THREADS="1")
    env.pop("OPENAI_API_KEY", None)
    return env


def _rows(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _paid(server: FaultServer) -> int:
    return sum(1 for r in server.log if r["case"] == "slow")


def _toml(folder: Path, n: int) -> Path:
    path = folder / "study.toml"
    path.write_text(textwrap.dedent(f"""
        prompt = "case=slow i={{i}}: would you buy a pack of diapers? Answer {{choices}}."
        [choices]
        yes = ["Yes"]
        no = ["No"]
        [conditions]
        i = {list(range(n))}
    """))
    return path


def _cli(study: Path, server: FaultServer, store: Path, conc: int) -> list[str]:
    return [sys.executable, "-m", "beliefreg.cli", "simulate", str(study), "--backend", "openai",
            "--base-url", server.url, "--model", "m", "--store", str(store), "--no-progress",
            "--concurrency", str(conc)]


def processes(n_procs: int, n: int, tmp: Path) -> dict[str, object]:
    server = FaultServer(slow_seconds=0.05).start()
    store, go = tmp / f"procs{n_procs}.sqlite", tmp / f"go{n_procs}"
    try:
        kids = [subprocess.Popen([sys.executable, "-c", CHILD, server.url, str(store), str(go),
                                  str(n), "8"], env=_env(), stderr=subprocess.PIPE, text=True, cwd=tmp)
                for _ in range(n_procs)]
        while len(list(tmp.glob(f"go{n_procs}.*"))) < n_procs:
            time.sleep(0.02)
        t0 = time.monotonic()
        go.write_text("go")
        codes = [k.wait(timeout=600) for k in kids]
        wall = time.monotonic() - t0
    finally:
        server.stop()
    label = "1 process (baseline)" if n_procs == 1 else f"{n_procs} processes, one store"
    return {"scenario": label, "requests": n,
            "paid": _paid(server), "kept": _rows(store),
            "note": f"exit statuses {codes}; {wall:.1f} s wall"}


def interrupted(sig: signal.Signals, n: int, tmp: Path) -> dict[str, object]:
    server = FaultServer(slow_seconds=1.5).start()
    store = tmp / f"{sig.name}.sqlite"
    try:
        child = subprocess.Popen(_cli(_toml(tmp, n), server, store, 32), env=_env(),
                                 stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 cwd=tmp)
        while server.inflight < 32:
            time.sleep(0.01)
        in_flight = server.inflight
        child.send_signal(sig)
        _, err = child.communicate(timeout=120)
    finally:
        server.stop()
    return {"scenario": f"{sig.name} at concurrency 32", "requests": n, "paid": _paid(server),
            "kept": _rows(store),
            "note": f"exit {child.returncode}; {in_flight} in flight at the signal"}


def killed(n: int, tmp: Path) -> dict[str, object]:
    server = FaultServer(slow_seconds=0.5).start()
    store = tmp / "killed.sqlite"
    study = _toml(tmp, n)
    try:
        child = subprocess.Popen(_cli(study, server, store, 32), env=_env(),
                                 stderr=subprocess.PIPE, stdout=subprocess.PIPE, cwd=tmp)
        while _rows(store) < n // 4:
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
        kept_at_kill = _rows(store)
        paid_at_kill = _paid(server)
        res = subprocess.run(_cli(study, server, store, 32), env=_env(), capture_output=True,
                             cwd=tmp)
    finally:
        server.stop()
    return {"scenario": "SIGKILL mid-run, then resume", "requests": n, "paid": _paid(server),
            "kept": _rows(store),
            "note": f"at the kill: {paid_at_kill} paid, {kept_at_kill} stored (the difference was "
                    f"in flight); resume exit {res.returncode}"}


def full_disk(n: int, tmp: Path) -> dict[str, object] | None:
    mnt = tmp / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        return None
    server = FaultServer(slow_seconds=0.05).start()
    try:
        store = mnt / "s.sqlite"
        filler = mnt / "filler"
        with open(filler, "wb") as fh:
            try:
                fh.write(b"\0" * (8 << 20))
            except OSError:
                pass
        os.truncate(filler, filler.stat().st_size - (600 << 10))
        res = subprocess.run(_cli(_toml(tmp, n), server, store, 8), env=_env(),
                             capture_output=True, text=True, cwd=tmp)
        emergency = sum(len(p.read_text().splitlines())
                        for p in tmp.glob("s.sqlite.emergency-*.jsonl"))
        kept = _rows(store)
    finally:
        server.stop()
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
    return {"scenario": "full disk (tmpfs)", "requests": n, "paid": _paid(server),
            "kept": kept + emergency,
            "note": f"exit {res.returncode}; {kept} in the store, {emergency} in the emergency "
                    "file"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--code", help="run the processes on the beliefreg package in this folder "
                                   "(e.g. an export of an older commit, for a before/after)")
    ap.add_argument("--title", default="Faults", help="section of RESULTS.md to write")
    args = ap.parse_args()
    if args.code:
        CODE[0] = str(Path(args.code).resolve())
    n = args.requests
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for k in (1, 2, 4):  # one process: the baseline for the wall time
            rows.append(processes(k, n, tmp))
            print(rows[-1], flush=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            sub = tmp / sig.name
            sub.mkdir()
            rows.append(interrupted(sig, n, sub))
            print(rows[-1], flush=True)
        sub = tmp / "kill"
        sub.mkdir()
        rows.append(killed(n, sub))
        print(rows[-1], flush=True)
        sub = tmp / "disk"
        sub.mkdir()
        disk = full_disk(n, sub)
        if disk is not None:
            rows.append(disk)
            print(rows[-1], flush=True)
    load = os.getloadavg()
    table = ["| scenario | requests in the study | requests paid | rows kept (store + "
             "emergency file) | paid but lost | notes |", "|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['scenario']} | {r['requests']} | {r['paid']} | {r['kept']} | "
                     f"{int(r['paid']) - int(r['kept'])} | {r['note']} |")
    code = f" --code {args.code}" if args.code else ""
    body = (f"`python benchmarks/faults.py --requests {n}{code}` on "
            f"{time.strftime('%Y-%m-%d', time.gmtime())} (load average {load[0]:.2f}, "
            "2 shared cores), against the fault-injecting server on 127.0.0.1 (requests paid "
            "= requests the server answered). The wall times compare processes in the same run "
            "(one process is the baseline); the absolute figures reflect the load. A SIGKILL "
            "loses the requests in flight (nothing can run in a killed process)."
            + "\n\n" + "\n".join(table))
    print(body)
    if not args.no_write:
        write_section(ROOT / "benchmarks" / "RESULTS.md", args.title, body)


if __name__ == "__main__":
    main()
