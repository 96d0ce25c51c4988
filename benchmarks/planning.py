"""Benchmark: planning a study of 10^6 requests (time and peak memory before the first request).

Usage::

    python benchmarks/planning.py [--requests 1000000] [--old-requests 100000]

Each measurement runs in a fresh subprocess (peak RSS is that process's ``ru_maxrss`` less the
RSS after imports). Planning is what :func:`beliefreg.simulation.pipeline.prepare` does before
sending: choose the draw, expand the design, compute every store key, look the keys up in the
store, estimate tokens and cost. Two designs: 1,000 conditions x 1,000 runs, and 10^6
conditions x 1 run (a 1000 x 1000 grid). The peer is the list-based plan this package used
before (every item, payload and key held in lists, keys through ``stable_hash``), measured in
the same run on ``--old-requests`` requests and per request. The results go to
``benchmarks/RESULTS.md`` under ``## Planning``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r"""
import json, os, resource, sys, time, tempfile
sys.path.insert(0, {root!r})
from beliefreg import Study
from beliefreg.simulation import OpenAIBackend, Store
from beliefreg.simulation.pipeline import prepare

def rss_mb():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
shape, n, kind, store_kind = {shape!r}, {n}, {kind!r}, {store_kind!r}
if shape == "runs":
    conds, runs = {{"price": list(range(1000))}}, n // 1000
else:
    side = int(round(n ** 0.5))
    conds, runs = {{"price": list(range(side)), "pack": list(range(side))}}, 1
prompt = "Would you buy a pack of {{pack}} diapers for {{price}} cents? Answer {{choices}}." \
    if shape == "grid" else "Would you buy a pack of diapers for {{price}} cents? Answer {{choices}}."
base = rss_mb()
t0 = time.perf_counter()
study = Study(prompt=prompt, choices={{"yes": ["Yes"], "no": ["No"]}}, conditions=conds, runs=runs,
              examples=[("Is the sky blue? Answer Yes or No.", "Yes"),
                        ("Is fire cold? Answer Yes or No.", "No")], seed=1, model="gpt-4o-mini")
backend = OpenAIBackend()
tmp = tempfile.mkdtemp()
store = Store(os.path.join(tmp, "s.sqlite") if store_kind == "disk" else None)
if kind == "new":
    prepared = prepare(study, backend, store=store)
    n_send = prepared.estimate.n_to_send
else:
    from beliefreg.simulation.design import expand
    from beliefreg.simulation.keys import stable_hash
    identity = backend.identity("gpt-4o-mini")
    items = expand(study)
    payloads = [backend.build_payload(it, study, "gpt-4o-mini") for it in items]
    keys = [stable_hash({{"identity": identity, "payload": p, "run": it.run, "draw": it.draw}})
            for it, p in zip(items, payloads)]
    store.count_present(keys)
    n_send = len(set(keys))
elapsed = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": elapsed, "peak_mb": peak - base, "n_send": n_send}}))
"""


def measure(shape: str, n: int, kind: str, store_kind: str = "disk",
            root: Path | None = None) -> dict:
    code = CHILD.format(root=str(root or HERE.parent), shape=shape, n=n, kind=kind,
                        store_kind=store_kind)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--old-requests", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--before", default=None, metavar="GIT_REF",
                    help="also plan the full size with the package as of GIT_REF (a peer in "
                         "the same run, e.g. the commit before a change)")
    args = ap.parse_args()
    before_root = None
    if args.before:
        import tempfile

        before_root = Path(tempfile.mkdtemp(prefix="beliefreg-before-"))
        archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", args.before,
                                  "beliefreg"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(before_root)], input=archive, check=True)
    load_before = _load()
    rows = []
    for shape, label in (("runs", "1,000 conditions x runs"), ("grid", "grid, 1 run each")):
        old = measure(shape, args.old_requests, "old")
        new_small = measure(shape, args.old_requests, "new")
        new = measure(shape, args.requests, "new")
        before = measure(shape, args.requests, "new", root=before_root) if before_root else None
        rows.append((label, old, new_small, new, before))
        print(label, old, new_small, new, before, flush=True)
    load_after = _load()
    lines = [
        "## Planning",
        "",
        f"`python benchmarks/planning.py --requests {args.requests} --old-requests "
        f"{args.old_requests}" + (f" --before {args.before}" if args.before else "")
        + f"` on {_dt.date.today().isoformat()}: {platform.machine()}, "
        f"{os.cpu_count()} logical CPUs (shared; load average {load_before} before, "
        f"{load_after} after), Python {platform.python_version()}. Planning = everything "
        "before the first request (`prepare`: draw choice, design expansion, every store key, "
        "store look-up on an empty on-disk store, token and cost estimate). Each figure is one "
        "fresh process; memory is peak RSS above the RSS after imports. The peer is the "
        "list-based plan beliefreg used before (items, payloads and keys held in lists, keys "
        "through `stable_hash`), in the same run.",
        "",
        "| design | requests | list-based plan (s / MB) | streaming plan (s / MB) | ratio (time) "
        "| streaming plan at " + f"{args.requests:,} (s / MB) |"
        + (f" as of `{args.before}` at {args.requests:,} (s / MB) | ratio (time) |"
           if args.before else ""),
        "|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if args.before else ""),
    ]
    for label, old, small, new, before in rows:
        lines.append(
            f"| {label} | {args.old_requests:,} | {old['seconds']:.2f} / {old['peak_mb']:.0f} | "
            f"{small['seconds']:.2f} / {small['peak_mb']:.0f} | "
            f"{old['seconds'] / small['seconds']:.1f}x | "
            f"{new['seconds']:.2f} / {new['peak_mb']:.0f} |"
            + (f" {before['seconds']:.2f} / {before['peak_mb']:.0f} | "
               f"{before['seconds'] / new['seconds']:.1f}x |" if before else ""))
    lines.append("")
    sys.path.insert(0, str(HERE))
    from simulation import write_section

    write_section(args.out, "## Planning", "\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
