"""Benchmark: where the time of fit + cluster goes at 10^6 x 20, pinned to one thread (issue 16).

Two measurements, printed (the figures go into the hand notes of ``## Machine limits`` in
RESULTS.md):

* **phases of one fit**: beliefreg's own functions wrapped with timers (design checks and Gram
  matrix, the closed-form first step, the Newton passes, the cluster codes, the cluster sums,
  the covariance); median over repetitions;
* **what one Newton pass is made of**: each numpy/BLAS call of a pass, repeated over one row
  block held in cache (so without the read of the design from memory), scaled to 10^6 rows;
  against ``X'X`` by ``dsyrk`` and ``X @ b`` by ``dgemv`` on the whole design (the bound).

Run: ``python benchmarks/fit_phases.py [--n 1000000] [--repeat 5]``.
"""

from __future__ import annotations

import _threads  # noqa: F401  (pins BLAS before numpy)

import argparse
import os
import statistics
import time
from collections import defaultdict

import numpy as np
from scipy import special

from _data import make_data
from _passes import count_passes, pass_kind


PASS_LABELS = {"hessian": "passes with the Hessian",
               "gradient": "passes with the gradient only",
               "subsample": "passes over every 32nd row (the start)"}


def _wrap(owner, name, label, totals):
    original = getattr(owner, name)

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - t

    setattr(owner, name, timed)
    return original


def phases(y, x, g, repeat: int) -> tuple[dict[str, float], int]:
    import beliefreg as br
    from beliefreg.inference import covariance as cv
    from beliefreg.models import _base, bernoulli, binary, design

    runs: list[dict[str, float]] = []
    totals: dict[str, float] = defaultdict(float)
    _wrap(design, "gram_matrix", "design: X'X (dsyrk) for the finite and rank checks", totals)
    _wrap(binary, "design_from_arrays", "design: all checks (incl. X'X)", totals)
    _wrap(bernoulli, "first_scoring_step", "closed-form first step: X'(y - 1/2)",
          totals)
    _wrap(binary, "resolve_covariance", "cluster codes (encode_groups)", totals)
    evaluate = bernoulli.evaluate
    n_rows = len(y)

    def timed_pass(yy, *args, **kwargs):  # the passes by kind: time and count
        label = PASS_LABELS[pass_kind(len(yy), n_rows, kwargs)]
        t = time.perf_counter()
        try:
            return evaluate(yy, *args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - t
            totals["count: " + label] += 1

    bernoulli.evaluate = timed_pass
    _wrap(binary, "fit_bernoulli", "Newton loop (passes + solves + tests)", totals)
    _wrap(cv.IndexScores, "group_sums", "cluster sums (sparse indicator @ X)", totals)
    _wrap(cv.Clustered, "compute", "covariance (cluster sums + sandwich)", totals)
    del _base
    n_iter = 0
    for _ in range(repeat + 1):
        totals.clear()
        t, c = time.perf_counter(), time.process_time()
        res = br.FractionalLogit(y, x).fit(cov_type="cluster", cov_kwds={"groups": g})
        totals["total fit + cluster"] = time.perf_counter() - t
        totals["total fit + cluster, CPU time"] = time.process_time() - c
        n_iter = res.n_iter
        runs.append(dict(totals))
    runs = runs[1:]  # the first run imports and warms up
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}, n_iter


def plain_newton_passes(y, x) -> int:
    """The passes plain Newton steps take on this data (reuse off): what the bound counts."""
    import beliefreg as br

    return sum(count_passes(lambda: br.FractionalLogit(y, x).fit(), len(y), plain=True).values())


def pass_parts(x, block: int, repeat: int) -> dict[str, float]:
    """Each call of a logit Newton pass on one cached block, scaled to all rows (seconds)."""
    n, k = x.shape
    xb = np.ascontiguousarray(x[:block])
    b = np.linspace(-0.1, 0.1, k)
    e, mu, h = np.empty(block), np.empty(block), np.empty(block)
    z = np.empty_like(xb)
    y = np.full(block, 0.3)
    info = np.zeros((k, k))
    parts = {
        "eta = X_b b (dgemv)": lambda: np.dot(xb, b, out=e),
        "mu = expit(eta)": lambda: special.expit(e, out=mu),
        "h = mu (1 - mu), u = y - mu, sqrt(h)": lambda: (
            np.subtract(1.0, mu, out=h), np.multiply(mu, h, out=h),
            np.subtract(y, mu, out=e), np.sqrt(h, out=h)),
        "grad += X_b' u (dgemv)": lambda: xb.T @ e,
        "z = sqrt(h) * X_b (row scaling)": lambda: np.multiply(xb, h[:, None], out=z),
        "info += z'z (dsyrk)": lambda: info.__iadd__(z.T @ z),
    }
    blocks = n // block
    out = {}
    for name, fn in parts.items():
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            for _ in range(blocks):
                fn()
            times.append(time.perf_counter() - t)
        out[name] = min(times) * n / (blocks * block)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    from beliefreg._passes import BLOCK_ROWS

    y, x, g = make_data(args.n)
    print(f"load {os.getloadavg()}")
    bound = {"syrk": [], "gemv": [], "syrk_cpu": []}
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        x.T @ x
        bound["syrk"].append(time.perf_counter() - t)
        bound["syrk_cpu"].append(time.process_time() - c)
        t = time.perf_counter()
        x @ np.ones(x.shape[1])
        bound["gemv"].append(time.perf_counter() - t)
    syrk, gemv = statistics.median(bound["syrk"]), statistics.median(bound["gemv"])
    print(f"bound: X'X dsyrk {syrk * 1e3:.1f} ms, X @ b dgemv {gemv * 1e3:.1f} ms")
    ph, n_iter = phases(y, x, g, args.repeat)
    total = ph["total fit + cluster"]
    syrk_cpu, total_cpu = statistics.median(bound["syrk_cpu"]), ph["total fit + cluster, CPU time"]
    hess = ph.get("count: passes with the Hessian", 0)
    grad = ph.get("count: passes with the gradient only", 0)
    newton = plain_newton_passes(y, x)
    own = syrk * hess + gemv * grad
    print(f"fit + cluster {total * 1e3:.0f} ms = {total / (syrk * newton):.2f}x bound x "
          f"Newton's {newton} passes, {total / own:.2f}x the bound of its own passes ({hess:.0f} "
          f"with the Hessian at dsyrk, {grad:.0f} gradient only at dgemv); in CPU time (less "
          f"sensitive to other processes) {total_cpu * 1e3:.0f} ms = "
          f"{total_cpu / (syrk_cpu * newton):.2f}x the CPU time of the bound "
          f"({syrk_cpu * 1e3:.1f} ms) x {newton}; phases (medians of {args.repeat}):")
    for name, v in ph.items():
        if name.startswith("count: "):
            print(f"  {name:45s} {v:7.0f}")
        else:
            print(f"  {name:45s} {v * 1e3:7.1f} ms  {v / syrk:5.2f} bounds")
    print(f"one pass, call by call on a cached block of {BLOCK_ROWS} rows, scaled to "
          f"{args.n:,} rows:")
    parts = pass_parts(x, BLOCK_ROWS, args.repeat)
    for name, v in parts.items():
        print(f"  {name:45s} {v * 1e3:7.1f} ms")
    per_pass = ph.get("passes with the Hessian", 0) / max(hess, 1)
    print(f"  {'sum (in cache)':45s} {sum(parts.values()) * 1e3:7.1f} ms; measured pass with "
          f"the Hessian {per_pass * 1e3:.1f} ms")
    print(f"load {os.getloadavg()}")


if __name__ == "__main__":
    main()
