"""Benchmark: how close fit + cluster comes to the machine's limit, pinned or not (issue 16).

Measures, at 10^6 rows x 20 regressors (fractional logit, 1000 clusters), in one run:

* the **physical bound of one pass**, measured here on one thread: ``X'X`` by numpy's
  ``dsyrk`` on the whole design (one read of the design plus the k^2 n multiply-adds a pass
  that forms ``X'WX`` cannot avoid); also one streaming read (``X @ b``, ``dgemv``) and the
  peak ``dgemm`` rate, for context;
* beliefreg fit + cluster from arrays, in child processes **pinned** (``OPENBLAS_NUM_THREADS=1``
  and friends) and **unpinned** (no thread variable, what users run), interleaved; once more
  unpinned with beliefreg's own BLAS limit switched off, to show what it prevents; the
  achieved fraction is ``bound x passes / time`` (passes = Newton evaluations);
  once more pinned with plain Newton steps (``REUSE_MIN_ROWS`` raised: no subsample start,
  no gradient-only passes), whose passes are the ones the bound counts;
* extra memory (``tracemalloc`` peak, which sees numpy's allocations) of fit + HC0 and fit +
  cluster, as a multiple of the design's size;
* the **formula path** against arrays: plain columns, and a formula with ``np.log``, ``I()``
  and ``C()``; patsy's one-shot ``dmatrices`` and formulaic's ``model_matrix`` on the same
  formula, to record why the engine was kept;
* **glum** (``GeneralizedLinearRegressor``, binomial, no penalty, cluster covariance) and
  **statsmodels** ``Logit`` (fit + cluster) on the same data, with the largest parameter
  difference.

Run: ``python benchmarks/limits.py [--n 1000000] [--repeat 3]``. The machine is shared: every
figure is a median of interleaved repetitions, ratios are taken within the run (fit against
the bound measured just before it in the same process; formula against arrays within each
repetition), and the load average is recorded with it. Writes ``## Machine limits`` in
``benchmarks/RESULTS.md``.
glum is a benchmark-only dependency (``pip install glum``); it is skipped if absent.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _data import K, N_CLUSTERS, make_data  # noqa: E402  (numpy imported lazily)
from _passes import count_passes  # noqa: E402

HERE = Path(__file__).resolve().parent
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _median(values):
    import statistics

    return statistics.median(values)


# ----------------------------------------------------------------------------- worker
def worker(n: int, repeat: int, no_limit: bool, plain: bool = False,
           column_major: bool = False) -> None:
    """Time fit + cluster in this process (its thread settings come from the parent).

    ``plain``: Newton steps only (no subsample start, no gradient-only passes), as before
    issue 16's fewer passes. ``column_major``: the design as pandas' ``DataFrame.to_numpy()``
    and the formula builder give it (Fortran order). The passes over the data are counted in
    one more, untimed fit.
    """
    import time

    from threadpoolctl import threadpool_info

    from beliefreg.models import bernoulli

    if plain:
        bernoulli.REUSE_MIN_ROWS = 10 ** 12

    if no_limit:  # beliefreg's own limit off: what the passes did before issue 16
        import contextlib

        import beliefreg._blas_threads as bt

        bt.single_blas_thread = contextlib.nullcontext  # type: ignore[assignment]
        for mod in ("beliefreg.models.bernoulli", "beliefreg._passes", "beliefreg.models.design",
                    "beliefreg.models.binary"):
            __import__(mod)
            if hasattr(sys.modules[mod], "single_blas_thread"):
                sys.modules[mod].single_blas_thread = contextlib.nullcontext
    import beliefreg as br

    from threadpoolctl import threadpool_limits

    y, x, g = make_data(n)
    x_rows = x
    if column_major:
        import numpy as np

        x = np.asfortranarray(x)
    times, bounds, n_iter = [], [], None
    for _ in range(repeat):
        # the bound at the same moment (one dsyrk X'X of the row-major design, one thread),
        # so that a ratio per repetition does not mix a quiet minute with a busy one
        with threadpool_limits(1, user_api="blas"):
            t0 = time.perf_counter()
            x_rows.T @ x_rows
            bounds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = br.FractionalLogit(y, x).fit(cov_type="cluster", cov_kwds={"groups": g})
        times.append(time.perf_counter() - t0)
        n_iter = res.n_iter
    threads = sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
    passes = count_passes(lambda: br.FractionalLogit(y, x).fit(
        cov_type="cluster", cov_kwds={"groups": g}), n)
    print(json.dumps({"times": times, "bounds": bounds, "n_iter": n_iter, "blas_threads": threads,
                      "params0": float(res.params.iloc[1]), "passes": passes,
                      "params": res.params.tolist(), "bse": res.bse.tolist()}))


def run_worker(n: int, repeat: int, pinned: bool, no_limit: bool = False,
               plain: bool = False, column_major: bool = False) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if pinned:
        env.update({k: "1" for k in THREAD_VARS})
    cmd = [sys.executable, __file__, "--worker", "--n", str(n), "--repeat", str(repeat)]
    if no_limit:
        cmd.append("--no-limit")
    if plain:
        cmd.append("--plain")
    if column_major:
        cmd.append("--column-major")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- parent
def physical_bounds(x, repeat: int) -> dict:
    import time

    import numpy as np
    from threadpoolctl import threadpool_limits

    b = np.linspace(-0.1, 0.1, x.shape[1])
    a = np.random.default_rng(1).normal(size=(2000, 2000))
    out = {"syrk": [], "gemv": [], "gflops": []}
    with threadpool_limits(1, user_api="blas"):
        x.T @ x
        for _ in range(max(repeat, 5)):
            t = time.perf_counter()
            x.T @ x
            out["syrk"].append(time.perf_counter() - t)
            t = time.perf_counter()
            x @ b
            out["gemv"].append(time.perf_counter() - t)
            t = time.perf_counter()
            a @ a
            out["gflops"].append(2 * 2000 ** 3 / (time.perf_counter() - t) / 1e9)
    return {"syrk": _median(out["syrk"]), "gemv": _median(out["gemv"]),
            "gflops": max(out["gflops"]), "gflops_median": _median(out["gflops"])}


def timed(fn, repeat: int):
    import time

    times, res = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t)
    return _median(times), res


def peak_memory(fn) -> float:
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--no-limit", action="store_true")
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--column-major", action="store_true")
    ap.add_argument("--skip-unlimited", action="store_true",
                    help="skip the run with beliefreg's BLAS limit off (slow on a busy machine)")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args()
    if args.worker:
        worker(args.n, args.repeat, args.no_limit, args.plain, args.column_major)
        return

    for var in THREAD_VARS:  # the parent's own measurements are pinned
        os.environ[var] = "1"
    import datetime as dt
    import platform

    import numpy as np
    import pandas as pd
    import patsy
    import statsmodels.api as sm

    import beliefreg as br

    sys.path.insert(0, str(HERE))
    from _results import write_section

    n, rep = args.n, args.repeat
    loads = {"start": _load()}
    y, x, g = make_data(n)
    design_bytes = x.nbytes

    # 1. the bound of one pass, on this machine, now
    bound = physical_bounds(x, rep)
    loads["bound"] = _load()
    print(f"bound: dsyrk X'X {bound['syrk'] * 1e3:.1f} ms, dgemv X b {bound['gemv'] * 1e3:.1f} ms, "
          f"dgemm {bound['gflops']:.1f} GFLOP/s  (load {loads['bound']})", flush=True)

    # 2. pinned vs unpinned, in child processes, interleaved
    runs = {"pinned": [], "unpinned": [], "plain": [], "column_major": []}
    per_bound = {label: [] for label in runs}  # each fit's time / the bound just before it
    info = {}
    for _ in range(2):
        for label, pinned, plain, column_major in (
                ("pinned", True, False, False), ("unpinned", False, False, False),
                ("plain", True, True, False), ("column_major", True, False, True)):
            r = run_worker(n, rep, pinned, plain=plain, column_major=column_major)
            runs[label] += r["times"]
            per_bound[label] += [t / b for t, b in zip(r["times"], r["bounds"])]
            info[label] = r
    loads["pinned_unpinned"] = _load()
    unlimited = None
    if not args.skip_unlimited:
        unlimited = run_worker(n, 1, pinned=False, no_limit=True)
        loads["unlimited"] = _load()
    t_pin, t_unpin, t_plain, t_colmaj = (_median(runs[k]) for k in ("pinned", "unpinned",
                                                                      "plain", "column_major"))
    counts, plain_counts = info["pinned"]["passes"], info["plain"]["passes"]
    passes = plain_counts["hessian"]  # Newton's passes: what the bound counts
    # the same bound for the passes the fit makes: dsyrk for a pass with the Hessian, one
    # streaming read for a gradient-only pass, a 1/32 share of dsyrk for a subsample pass
    paired = {label: (_median(v) / passes, min(v) / passes, max(v) / passes)
              for label, v in per_bound.items()}
    own_budget = (bound["syrk"] * counts["hessian"] + bound["gemv"] * counts["gradient"]
                  + bound["syrk"] * counts["subsample"] / 32)
    gap = max(float(np.max(np.abs(np.subtract(info["pinned"][key], info["plain"][key]))
                            / np.abs(info["plain"][key]))) for key in ("params", "bse"))
    print("paired with the bound before each fit (median, min, max): "
          + ", ".join(f"{k} {v[0]:.2f}x ({v[1]:.2f}-{v[2]:.2f})" for k, v in paired.items()))
    print(f"fit + cluster: pinned {t_pin:.3f} s, column-major {t_colmaj:.3f} s, "
          f"unpinned {t_unpin:.3f} s "
          f"(BLAS threads {info['unpinned']['blas_threads']}), plain Newton {t_plain:.3f} s; "
          f"passes {counts}, plain Newton {plain_counts}; params/bse vs plain {gap:.1e}"
          + (f"; unpinned without beliefreg's limit {unlimited['times'][0]:.3f} s"
             if unlimited else ""), flush=True)

    # 3. memory, in this process (pinned)
    mem_hc0 = peak_memory(lambda: br.FractionalLogit(y, x).fit(cov_type="HC0")) / design_bytes
    mem_cl = peak_memory(lambda: br.FractionalLogit(y, x).fit(
        cov_type="cluster", cov_kwds={"groups": g})) / design_bytes

    # 4. formula vs arrays, interleaved
    names = [f"x{j}" for j in range(1, K)]
    df = pd.DataFrame(x[:, 1:], columns=names)
    df["y"], df["g"] = y, g
    rng = np.random.default_rng(5)
    df["price"] = rng.uniform(1.0, 3.0, n)
    df["brand"] = pd.Categorical(rng.choice(["a", "b", "c", "d"], n))
    plain = "y ~ " + " + ".join(names)
    rich = "y ~ " + " + ".join(names[:15]) + " + np.log(price) + I(x1**2) + C(brand)"

    def arrays():
        return br.FractionalLogit(y, x).fit(cov_type="cluster", cov_kwds={"groups": g})

    # the same design as a DataFrame: to_numpy() gives it column-major, as formulas do
    x_frame = pd.DataFrame(x, columns=["const"] + names)

    def frame():
        return br.FractionalLogit(y, x_frame).fit(cov_type="cluster", cov_kwds={"groups": g})

    # the rich formula's own design, given as arrays: the same model both ways, row-major
    # (np.column_stack) and column-major (as the formula builds it)
    from beliefreg.models.formula_blocks import build_formula_design

    env = patsy.EvalEnvironment([{"np": np}])
    x_rich_f = build_formula_design(rich, df, env).exog
    x_rich = np.ascontiguousarray(x_rich_f)

    def arrays_rich():
        return br.FractionalLogit(y, x_rich).fit(cov_type="cluster", cov_kwds={"groups": g})

    def arrays_rich_f():
        return br.FractionalLogit(y, x_rich_f).fit(cov_type="cluster", cov_kwds={"groups": g})

    def formula(f):
        return lambda: br.FractionalLogit.from_formula(f, df).fit(
            cov_type="cluster", cov_kwds={"groups": "g"})

    t = {"arrays": [], "frame": [], "plain": [], "arrays_rich": [], "arrays_rich_f": [],
         "rich": []}
    for _ in range(rep):
        for key, fn in (("arrays", arrays), ("frame", frame), ("plain", formula(plain)),
                        ("arrays_rich", arrays_rich), ("arrays_rich_f", arrays_rich_f),
                        ("rich", formula(rich))):
            tt, res = timed(fn, 1)
            t[key].append(tt)
            if key == "plain":
                res_plain = res
            if key == "arrays":
                res_arrays = res
    loads["formula"] = _load()
    # ratios within each repetition (the fits of one repetition run seconds apart), then
    # their median and range: a busy minute slows both sides of a ratio
    ratio = {name: [a / b for a, b in zip(t[num], t[den])]
             for name, num, den in (("plain", "plain", "arrays"), ("plain_f", "plain", "frame"),
                                    ("rich", "rich", "arrays_rich"),
                                    ("rich_f", "rich", "arrays_rich_f"))}
    ratio_text = {name: f"{_median(v):.2f}x ({min(v):.2f}-{max(v):.2f})"
                  for name, v in ratio.items()}
    t = {k: _median(v) for k, v in t.items()}
    diff_formula = float(np.max(np.abs(res_plain.params.to_numpy() - res_arrays.params.to_numpy())
                                / np.abs(res_arrays.params.to_numpy())))
    mem_plain = peak_memory(formula(plain)) / design_bytes
    mem_rich = peak_memory(formula(rich)) / design_bytes
    # engines on the plain formula's design alone
    t_patsy, _ = timed(lambda: patsy.dmatrices(plain, df, return_type="dataframe",
                                               eval_env=env)[1].to_numpy(dtype=float), 1)
    mem_patsy = peak_memory(lambda: patsy.dmatrices(plain, df, return_type="dataframe",
                                                    eval_env=env)[1].to_numpy(dtype=float))
    mem_patsy /= design_bytes
    t_blocks, _ = timed(lambda: build_formula_design(plain, df, env), rep)
    t_blocks_rich, _ = timed(lambda: build_formula_design(rich, df, env), 1)
    t_patsy_rich, _ = timed(lambda: patsy.dmatrices(rich, df, return_type="dataframe",
                                                    eval_env=env)[1].to_numpy(dtype=float), 1)
    try:
        import formulaic

        t_formulaic, _ = timed(lambda: formulaic.model_matrix(plain, df,
                                                              context={"np": np}), 1)
        t_formulaic_rich, _ = timed(lambda: formulaic.model_matrix(rich, df,
                                                                   context={"np": np}), 1)
        formulaic_version = formulaic.__version__
    except Exception as exc:  # noqa: BLE001 - recorded, not fatal
        t_formulaic = t_formulaic_rich = float("nan")
        formulaic_version = f"unavailable ({type(exc).__name__})"
    loads["engines"] = _load()
    print("formula / arrays per repetition: " + ", ".join(f"{k} {v}" for k, v in
                                                           ratio_text.items()))
    print(f"formula: arrays {t['arrays']:.3f} s, plain {t['plain']:.3f} s "
          f"({t['plain'] / t['arrays']:.2f}x; column-major arrays {t['frame']:.3f} s), "
          f"rich {t['rich']:.3f} s ({t['rich'] / t['arrays_rich']:.2f}x its arrays, "
          f"{t['arrays_rich']:.3f} s; column-major {t['arrays_rich_f']:.3f} s); "
          f"memory plain {mem_plain:.2f}x, rich "
          f"{mem_rich:.2f}x design", flush=True)

    # 5. peers on the same data, same process (pinned)
    peers = {}
    t_logit, logit = timed(lambda: sm.Logit(y, x).fit(disp=0, cov_type="cluster",
                                                       cov_kwds={"groups": g}), 1)
    peers["statsmodels Logit"] = (t_logit, float(np.max(np.abs(
        logit.params - res_arrays.params.to_numpy()) / np.abs(res_arrays.params.to_numpy()))))
    try:
        from glum import GeneralizedLinearRegressor

        def glum_fit():
            m = GeneralizedLinearRegressor(family="binomial", alpha=0, fit_intercept=False,
                                           gradient_tol=1e-8)
            m.fit(x, y, store_covariance_matrix=True, clusters=g)
            return m

        t_glum, gm = timed(glum_fit, 1)
        import glum

        peers[f"glum {glum.__version__}"] = (t_glum, float(np.max(np.abs(
            gm.coef_ - res_arrays.params.to_numpy()) / np.abs(res_arrays.params.to_numpy()))))
    except ImportError:
        peers["glum"] = (float("nan"), float("nan"))
    t_ours_same, _ = timed(arrays, 1)
    loads["peers"] = _load()
    for name, (tt, d) in peers.items():
        print(f"{name}: {tt:.3f} s (beliefreg {t_ours_same:.3f} s), max rel diff params {d:.1e}")

    # ------------------------------------------------------------------ RESULTS.md
    budget = bound["syrk"] * passes
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores shared by about 8 engineers' "
        f"jobs, Python {platform.python_version()}, numpy {np.__version__}; "
        f"{dt.date.today().isoformat()}. Command: `python benchmarks/limits.py --n {n} "
        f"--repeat {rep}`. Data as in the estimation benchmark: {n:,} rows x {K} regressors, "
        f"fractional logit, {N_CLUSTERS} clusters. Medians of interleaved repetitions; load "
        f"average (1, 5, 15 min) recorded with each part.",
        "",
        "| quantity | value | load average |",
        "|---|---:|---|",
        f"| bound of one pass: X'X by `dsyrk`, one thread (reads the design once) | "
        f"{bound['syrk'] * 1e3:.1f} ms | {loads['bound']} |",
        f"| one streaming read of the design (`X @ b`, `dgemv`), one thread | "
        f"{bound['gemv'] * 1e3:.1f} ms | {loads['bound']} |",
        f"| peak `dgemm`, one thread (2000 x 2000) | {bound['gflops']:.1f} GFLOP/s | "
        f"{loads['bound']} |",
        f"| Newton passes over the design, plain Newton steps (the fit before issue 16's "
        f"fewer passes) | {passes} | |",
        f"| bound x Newton's passes | {budget:.3f} s | |",
        f"| passes of the fit now: with the Hessian / gradient only / over every 32nd row "
        f"(the start) | {counts['hessian']} / {counts['gradient']} / {counts['subsample']} "
        f"| |",
        f"| fit + cluster, arrays, **pinned** (BLAS threads {info['pinned']['blas_threads']}) | "
        f"{t_pin:.3f} s = **{t_pin / budget:.2f}x bound x Newton's passes**; "
        f"{t_pin / own_budget:.2f}x the bound of its own passes ({own_budget:.3f} s: `dsyrk` "
        f"per Hessian pass, `dgemv` per gradient pass) | {loads['pinned_unpinned']} |",
        f"| fit + cluster, arrays, pinned, plain Newton steps | {t_plain:.3f} s = "
        f"{t_plain / budget:.2f}x bound x passes; the fit now takes {t_pin / t_plain:.2f}x "
        f"its time; params and bse differ by at most {gap:.1e} (relative) | "
        f"{loads['pinned_unpinned']} |",
        f"| the same, each fit against the bound measured just before it in its process "
        f"(median and range over {len(per_bound['pinned'])} fits): row-major pinned / "
        f"column-major pinned / unpinned | **{paired['pinned'][0]:.2f}x** "
        f"({paired['pinned'][1]:.2f}-{paired['pinned'][2]:.2f}) / "
        f"**{paired['column_major'][0]:.2f}x** ({paired['column_major'][1]:.2f}-"
        f"{paired['column_major'][2]:.2f}) / {paired['unpinned'][0]:.2f}x "
        f"({paired['unpinned'][1]:.2f}-{paired['unpinned'][2]:.2f}) | "
        f"{loads['pinned_unpinned']} |",
        f"| fit + cluster, the same design column-major (as `DataFrame.to_numpy()` and "
        f"formulas give it), pinned | {t_colmaj:.3f} s = **{t_colmaj / budget:.2f}x bound x "
        f"Newton's passes** | {loads['pinned_unpinned']} |",
        f"| fit + cluster, arrays, **unpinned** (BLAS threads "
        f"{info['unpinned']['blas_threads']}) | {t_unpin:.3f} s = {t_unpin / t_pin:.2f}x "
        f"pinned | {loads['pinned_unpinned']} |",
    ]
    if unlimited:
        lines.append(
            f"| unpinned with beliefreg's BLAS limit switched off (the code before issue 16; "
            f"1 run) | {unlimited['times'][0]:.3f} s = {unlimited['times'][0] / t_pin:.1f}x "
            f"pinned | {loads['unlimited']} |")
    lines += [
        f"| extra memory, fit + HC0 (peak traced / design) | {mem_hc0:.2f}x | |",
        f"| extra memory, fit + cluster | {mem_cl:.2f}x | |",
        f"| fit + cluster, arrays (formula comparison) | {t['arrays']:.3f} s; the same as a "
        f"DataFrame (column-major) {t['frame']:.3f} s | {loads['formula']} |",
        f"| fit + cluster through a formula of the {K - 1} columns | {t['plain']:.3f} s; "
        f"per repetition **{ratio_text['plain']} arrays** ({ratio_text['plain_f']} the "
        f"DataFrame); peak {mem_plain:.2f}x the design (the design itself included) | "
        f"{loads['formula']} |",
        f"| fit + cluster, arrays of the next formula's design ({x_rich.shape[1]} columns): "
        f"row-major / column-major | {t['arrays_rich']:.3f} / {t['arrays_rich_f']:.3f} s | "
        f"{loads['formula']} |",
        f"| fit + cluster through `{rich}` | {t['rich']:.3f} s; per repetition "
        f"**{ratio_text['rich']} its arrays** ({ratio_text['rich_f']} them column-major); "
        f"peak {mem_rich:.2f}x the design | {loads['formula']} |",
        f"| max rel. diff of params, formula vs arrays | {diff_formula:.1e} | |",
        f"| design only, plain formula: beliefreg (factors on the whole frame, written "
        f"column-major) / patsy `dmatrices` + `to_numpy` / "
        f"formulaic {formulaic_version} `model_matrix` | {t_blocks:.3f} / {t_patsy:.3f} / "
        f"{t_formulaic:.3f} s (patsy peak {mem_patsy:.2f}x) | {loads['engines']} |",
        f"| design only, rich formula: beliefreg / patsy / formulaic | "
        f"{t_blocks_rich:.3f} / {t_patsy_rich:.3f} / {t_formulaic_rich:.3f} s | "
        f"{loads['engines']} |",
    ]
    for name, (tt, d) in peers.items():
        lines.append(f"| {name}, fit + cluster (same data, same process; beliefreg "
                     f"{t_ours_same:.3f} s) | {tt:.3f} s = {tt / t_ours_same:.1f}x beliefreg; "
                     f"max rel. diff params {d:.1e} | {loads['peers']} |")
    write_section(args.out, "Machine limits", "\n".join(lines) + "\n\n" + NOTES)


NOTES = ("<!-- notes are kept by hand below this marker; a rerun replaces the table above and "
         "keeps them (benchmarks/_results.py), so re-read the figures and update the notes -->")


if __name__ == "__main__":
    main()
