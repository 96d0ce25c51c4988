"""Benchmark: beliefreg's fractional logit against statsmodels on large designs.

Times, in the same run and on the same data, fit + HC0 and fit + one-way cluster covariance
for ``beliefreg.FractionalLogit`` against statsmodels ``GLM(Binomial)`` (the peer for
fractional outcomes) and statsmodels ``Logit`` (its discrete-choice path, which accepts
fractional outcomes), at 10^5 and 10^6 rows x 20 regressors, checks that the numbers agree,
prints the ratios and writes them to ``benchmarks/RESULTS.md`` (section ``## Estimation``).

Margins: at each size, the average marginal effects of all 19 regressors with delta-method
standard errors (``res.margins()``, HC0) are timed against beliefreg's own fit, and statsmodels'
``Logit.get_margeff()`` against its fit, in the same run on the same data (target: beliefreg's
margins at most 1.5x its fit; statsmodels' about 4x). The estimates and SEs are compared.

Run: ``make bench`` (or ``python benchmarks/estimation.py [--sizes 100000 1000000]``).
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

from _data import K, N_CLUSTERS, make_data  # noqa: E402
from _results import write_section  # noqa: E402


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
    for cov, kw_ours, kw_sm in [("HC0", {}, {}),
                                ("cluster", {"cov_kwds": {"groups": g}},
                                 {"cov_kwds": {"groups": g}})]:
        t_ours, ours = best_of(lambda: br.FractionalLogit(y, x).fit(cov_type=cov, **kw_ours),
                               repeat)
        t_glm, glm = best_of(lambda: sm.GLM(y, x, family=sm.families.Binomial()).fit(
            cov_type=cov, tol=1e-12, **kw_sm), repeat)
        t_logit, logit = best_of(lambda: sm.Logit(y, x).fit(disp=0, cov_type=cov, **kw_sm),
                                 repeat)
        diff_params = float(np.max(np.abs(ours.params.to_numpy() - glm.params)
                                   / np.abs(glm.params)))
        diff_bse = float(np.max(np.abs(ours.bse.to_numpy() - glm.bse) / glm.bse))
        rows.append({"n": n, "cov": cov, "ours": t_ours, "glm": t_glm, "logit": t_logit,
                     "diff_params": diff_params, "diff_bse": diff_bse})
        print(f"n={n:>9,} {cov:8s} beliefreg {t_ours:7.3f}s  GLM {t_glm:7.3f}s "
              f"({t_glm / t_ours:5.1f}x)  Logit {t_logit:7.3f}s ({t_logit / t_ours:5.1f}x)  "
              f"max rel diff params {diff_params:.1e}, SE {diff_bse:.1e}", flush=True)
    return rows


def run_margins(n: int, repeat: int) -> dict:
    """Average marginal effects with delta-method SEs vs the fit, beliefreg and statsmodels."""
    y, x, _ = make_data(n)
    t_fit, t_mfx, t_sm_fit, t_sm_mfx = (float("inf"),) * 4
    for _ in range(repeat):  # margins on a fresh fit each time: no cached variable map
        t0 = time.perf_counter()
        ours = br.FractionalLogit(y, x).fit(cov_type="HC0")
        t1 = time.perf_counter()
        mfx = ours.margins()
        t2 = time.perf_counter()
        theirs = sm.Logit(y, x).fit(disp=0, cov_type="HC0")
        t3 = time.perf_counter()
        mg = theirs.get_margeff()
        t4 = time.perf_counter()
        t_fit, t_mfx = min(t_fit, t1 - t0), min(t_mfx, t2 - t1)
        t_sm_fit, t_sm_mfx = min(t_sm_fit, t3 - t2), min(t_sm_mfx, t4 - t3)
    diff_est = float(np.max(np.abs(mfx["estimate"].to_numpy() - mg.margeff)
                            / np.abs(mg.margeff)))
    diff_se = float(np.max(np.abs(mfx["std_err"].to_numpy() - mg.margeff_se) / mg.margeff_se))
    print(f"n={n:>9,} margins  beliefreg fit {t_fit:7.3f}s AME+SE {t_mfx:7.3f}s "
          f"({t_mfx / t_fit:4.2f}x fit)  statsmodels fit {t_sm_fit:7.3f}s get_margeff "
          f"{t_sm_mfx:7.3f}s ({t_sm_mfx / t_sm_fit:4.2f}x fit)  max rel diff AME {diff_est:.1e},"
          f" SE {diff_se:.1e}", flush=True)
    return {"n": n, "fit": t_fit, "mfx": t_mfx, "sm_fit": t_sm_fit, "sm_mfx": t_sm_mfx,
            "diff_est": diff_est, "diff_se": diff_se}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows, margins = [], []
    for n in args.sizes:
        rows += run(n, args.repeat)
    for n in args.sizes:
        margins.append(run_margins(n, args.repeat))
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}, statsmodels {sm.__version__}; "
        f"BLAS threads pinned to 1; {_dt.date.today().isoformat()}; best of {args.repeat}; "
        f"load average at the end {os.getloadavg()[0]:.2f} (the 2 cores may be shared).",
        f"Data: {K} regressors (with a constant), beta-distributed fractional outcome with a "
        f"logit mean, {N_CLUSTERS} clusters. Command: `python benchmarks/estimation.py`.",
        "",
        "| rows | covariance | beliefreg (s) | statsmodels GLM (s) | ratio | statsmodels Logit (s)"
        " | ratio | max rel. diff params / SE vs GLM |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(f"| {r['n']:,} | fit + {r['cov']} | {r['ours']:.3f} | {r['glm']:.3f} | "
                     f"{r['glm'] / r['ours']:.1f}x | {r['logit']:.3f} | "
                     f"{r['logit'] / r['ours']:.1f}x | {r['diff_params']:.1e} / "
                     f"{r['diff_bse']:.1e} |")
    lines += [
        "",
        "Average marginal effects of all 19 regressors with delta-method SEs (HC0), timed against"
        " each package's own fit (fit + HC0) in the same run: beliefreg `res.margins()` (analytic"
        " O(nk) Jacobian, one blocked pass) vs statsmodels `Logit.get_margeff()`.",
        "",
        "| rows | beliefreg fit (s) | beliefreg margins (s) | margins / fit | statsmodels Logit fit (s)"
        " | get_margeff (s) | get_margeff / fit | max rel. diff AME / SE vs statsmodels |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in margins:
        lines.append(f"| {r['n']:,} | {r['fit']:.3f} | {r['mfx']:.3f} | {r['mfx'] / r['fit']:.2f}x"
                     f" | {r['sm_fit']:.3f} | {r['sm_mfx']:.3f} | {r['sm_mfx'] / r['sm_fit']:.2f}x"
                     f" | {r['diff_est']:.1e} / {r['diff_se']:.1e} |")
    if not args.no_write:
        write_section(Path(__file__).with_name("RESULTS.md"), "Estimation", "\n".join(lines))


if __name__ == "__main__":
    main()
