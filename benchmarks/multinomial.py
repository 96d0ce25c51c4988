"""Benchmark: beliefreg's multinomial fractional logit against statsmodels MNLogit.

Times, in the same run and on the same share data, fit + HC0 and fit + one-way cluster
covariance for ``beliefreg.MultinomialFractionalLogit`` against statsmodels ``MNLogit`` fitted
to the share matrix (its parameters are the same quasi-MLE; its HC0 and cluster sandwiches of
the share scores are the same numbers), at 10^5 and 10^6 observations x 4 alternatives with 6
regressors (18 parameters), checks that the numbers agree, prints the ratios and writes them to
``benchmarks/RESULTS.md`` (section ``## Multinomial``).

A second table times ``beliefreg.ConditionalLogit`` (fit + cluster covariance) on long data
with the same numbers of rows (situations x 4 alternatives): on belief shares (statsmodels has
no peer: its ``ConditionalLogit`` accepts only 0/1 outcomes) and on 0/1 choices against
statsmodels' ``ConditionalLogit`` (at 10^5 rows only: it loops over the groups in Python).

Run: ``python benchmarks/multinomial.py [--sizes 100000 1000000] [--repeat 3]``.
BLAS threads are pinned to one before numpy is imported.
"""

from __future__ import annotations

import os

import _threads  # noqa: F401,E402  (pins BLAS threads before numpy is imported)

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import statsmodels.api as sm  # noqa: E402

import beliefreg as br  # noqa: E402

from _results import write_section  # noqa: E402

K = 6
J = 4
N_CLUSTERS = 1000


def make_data(n: int, seed: int = 0):
    """Shares over 4 alternatives (Dirichlet around a multinomial logit mean, exact zeros
    included), a constant, three log prices and two covariates, 1000 clusters."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(n), np.log(rng.uniform(0.2, 0.5, (n, 3))),
                         rng.normal(size=(n, K - 4))])
    coef = rng.normal(scale=0.5, size=(K, J - 1))
    eta = np.column_stack([np.zeros(n), x @ coef])
    mean = np.exp(eta - eta.max(axis=1, keepdims=True))
    mean /= mean.sum(axis=1, keepdims=True)
    g = rng.gamma(5.0 * mean + 0.05)
    y = g / g.sum(axis=1, keepdims=True)
    y[y < 1e-3] = 0.0
    y /= y.sum(axis=1, keepdims=True)
    groups = rng.integers(0, N_CLUSTERS, n)
    return y, x, groups


def best_of(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def run(n: int, repeat: int) -> list[dict]:
    y, x, g = make_data(n)
    rows = []
    for cov, kw in [("HC0", {}), ("cluster", {"cov_kwds": {"groups": g}})]:
        t_ours, ours = best_of(
            lambda: br.MultinomialFractionalLogit(y, x).fit(cov_type=cov, **kw), repeat)
        t_sm, smr = best_of(
            lambda: sm.MNLogit(y, x).fit(method="newton", disp=0, cov_type=cov, **kw), repeat)
        sm_params = np.asarray(smr.params).T.ravel()
        sm_bse = np.sqrt(np.diag(np.asarray(smr.cov_params())))
        diff_params = float(np.max(np.abs(ours.params.to_numpy() - sm_params)
                                   / np.maximum(np.abs(sm_params), 1e-3)))
        diff_bse = float(np.max(np.abs(ours.bse.to_numpy() - sm_bse) / sm_bse))
        rows.append({"n": n, "cov": cov, "ours": t_ours, "sm": t_sm, "iter": ours.n_iter,
                     "sm_iter": smr.mle_retvals.get("iterations"),
                     "diff_params": diff_params, "diff_bse": diff_bse})
        print(f"n={n:>9,} {cov:8s} beliefreg {t_ours:7.3f}s ({ours.n_iter} iterations)  MNLogit "
              f"{t_sm:7.3f}s  ratio {t_sm / t_ours:5.1f}x  max rel diff params "
              f"{diff_params:.1e}, SE {diff_bse:.1e}", flush=True)
    return rows


def make_long(n_rows: int, seed: int = 1):
    """Long data: n_rows / 4 situations x 4 alternatives, 5 attributes, shares and choices."""
    rng = np.random.default_rng(seed)
    g = n_rows // J
    z = rng.normal(size=(g * J, 5))
    u = (z @ rng.normal(scale=0.5, size=5)).reshape(g, J)
    p = np.exp(u - u.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    gam = rng.gamma(5.0 * p + 0.05)
    shares = (gam / gam.sum(axis=1, keepdims=True)).ravel()
    chosen = (p.cumsum(axis=1) > rng.uniform(size=(g, 1))).argmax(axis=1)
    choices = (np.arange(J)[None, :] == chosen[:, None]).astype(float).ravel()
    situation = np.repeat(np.arange(g), J)
    return z, shares, choices, situation, np.tile(np.arange(J), g), situation % N_CLUSTERS


def run_conditional(n_rows: int, repeat: int, peer_max_rows: int) -> list[dict]:
    from statsmodels.discrete.conditional_models import ConditionalLogit as SMConditional

    z, shares, choices, situation, alt, clusters = make_long(n_rows)
    rows = []
    for outcome, y in [("shares", shares), ("choices", choices)]:
        t_ours, ours = best_of(lambda: br.ConditionalLogit(
            y, z, groups=situation, alternatives=alt).fit(
            cov_type="cluster", cov_kwds={"groups": clusters}), repeat)
        row = {"n": n_rows, "outcome": outcome, "ours": t_ours, "sm": None, "diff": None}
        if outcome == "choices" and n_rows <= peer_max_rows:
            t_sm, smr = best_of(lambda: SMConditional(y, z, groups=situation).fit(disp=0), 1)
            row.update(sm=t_sm, diff=float(np.max(np.abs(ours.params.to_numpy()
                                                         - np.asarray(smr.params)))))
        rows.append(row)
        peer = "" if row["sm"] is None else (f"  statsmodels ConditionalLogit {row['sm']:.3f}s "
                                             f"({row['sm'] / t_ours:.0f}x), max abs diff "
                                             f"params {row['diff']:.1e}")
        print(f"rows={n_rows:>9,} conditional {outcome:8s} beliefreg {t_ours:7.3f}s{peer}",
              flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--peer-max-rows", type=int, default=100_000,
                        help="largest size at which statsmodels' ConditionalLogit is timed")
    args = parser.parse_args()
    rows, cl_rows = [], []
    for n in args.sizes:
        rows += run(n, args.repeat)
    for n in args.sizes:
        cl_rows += run_conditional(n, args.repeat, args.peer_max_rows)
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other jobs), "
        f"Python {platform.python_version()}, numpy {np.__version__}, statsmodels "
        f"{sm.__version__}; BLAS threads pinned to 1; {_dt.date.today().isoformat()}; best of "
        f"{args.repeat}.",
        f"Data: share vectors over {J} alternatives (Dirichlet around a multinomial logit mean, "
        f"exact zeros included), {K} regressors (constant, 3 log prices, 2 covariates), "
        f"{K * (J - 1)} parameters, {N_CLUSTERS} clusters. Peer: statsmodels `MNLogit` on the "
        "same share matrix (`method='newton'`), whose parameters and HC0/cluster sandwiches are "
        "the same numbers. Command: `python benchmarks/multinomial.py`.",
        "",
        "| observations | covariance | beliefreg (s) | statsmodels MNLogit (s) | ratio "
        "| Newton iterations (ours / MNLogit) | max rel. diff params / SE |",
        "|---:|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['n']:,} | fit + {r['cov']} | {r['ours']:.3f} | {r['sm']:.3f} | "
                     f"{r['sm'] / r['ours']:.1f}x | {r['iter']} / {r['sm_iter']} | "
                     f"{r['diff_params']:.1e} / {r['diff_bse']:.1e} |")
    lines += [
        "",
        f"Conditional logit (long format, situations x {J} alternatives, 5 attributes, fit + "
        f"cluster covariance with {N_CLUSTERS} clusters of situations). statsmodels' "
        "`ConditionalLogit` accepts only 0/1 outcomes (no peer for shares) and loops over the "
        f"groups in Python, so it is timed once and only up to {args.peer_max_rows:,} rows; its "
        "default optimiser stops earlier (hence the parameter difference).",
        "",
        "| long rows | outcome | beliefreg (s) | statsmodels ConditionalLogit (s) | ratio "
        "| max abs. diff params |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for r in cl_rows:
        peer = ("n/a | n/a | n/a" if r["sm"] is None else
                f"{r['sm']:.3f} | {r['sm'] / r['ours']:.0f}x | {r['diff']:.1e}")
        lines.append(f"| {r['n']:,} | {r['outcome']} | {r['ours']:.3f} | {peer} |")
    if not args.no_write:
        write_section(Path(__file__).with_name("RESULTS.md"), "Multinomial", "\n".join(lines))


if __name__ == "__main__":
    main()
