"""The demo's report folder: the panel, a Markdown summary, CSV tables and PNG plots.

:func:`write_report` writes

* ``panel.parquet`` and ``panel.csv`` — the simulated panel, every column of the schema;
* ``summary.md`` — what the model did, the study, both demand models side by side, the
  elasticities, the single-run SEs, the runs needed, how to run the study on a real model;
* ``estimates.csv`` — coefficients and elasticities with SEs and intervals (full precision);
* ``runs_needed.csv`` — the runs-needed curves (share within the tolerance against R);
* ``by_price.csv`` — mean belief, share of Yes answers and their run-to-run SDs per price;
* ``demand.png`` and ``runs_needed.png``.

Plots use :class:`matplotlib.figure.Figure` directly (no pyplot), so writing a report never
changes the plotting backend of a notebook.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .analysis import LABELS, MEASURES, PAPER, DemandAnalysis

__all__ = ["write_report", "summary_markdown", "console_summary", "plot_demand_measures",
           "plot_runs_needed", "REAL_MODEL_HELP"]

#: How to run the same study on a real model (shown in the report and by the command).
REAL_MODEL_HELP = """\
```sh
# OpenAI (needs OPENAI_API_KEY; the request count and cost estimate are shown first)
beliefreg demo --backend openai --model gpt-4o-mini --runs 20
# any OpenAI-compatible server that returns log-probabilities (vLLM, llama.cpp, Ollama)
beliefreg demo --backend openai --base-url http://127.0.0.1:8000/v1 --model MODEL
# another local GGUF file (a chat template is used when the file carries one)
beliefreg demo --model path/to/model.gguf
```"""


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return f"{x:.{digits}f}"


def _runs_text(value: Any, available: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"> {available}" if available is not None else "n/a"
    return str(int(value))


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]],
              align: Sequence[str] | None = None) -> str:
    align = align or ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- text parts
def _estimates_md(a: DemandAnalysis) -> str:
    fits = [a.fits[m] for m in MEASURES]
    terms: list[str] = []
    for f in fits:
        if f.results is not None:
            terms += [t for t in f.results.params.index if t not in terms]
    rows = []
    for t in terms:
        row = [f"`{t}`"]
        for f in fits:
            if f.results is None:
                row.append("failed")
            else:
                row.append(f"{_fmt(float(f.results.params[t]))} "
                           f"({_fmt(float(f.results.bse[t]))})")
        rows.append(row)
    rows.append(["observations"] + [str(int(f.results.nobs)) if f.results else "-"
                                    for f in fits])
    rows.append(["clusters (prices)"] + [
        str(f.results.n_groups[0]) if f.results is not None and f.results.n_groups else "-"
        for f in fits])
    rows.append(["covariance"] + [f.results._cov_label() if f.results else "-" for f in fits])
    return _md_table(["term"] + [LABELS[m] for m in MEASURES], rows, ["---", "---:", "---:"])


def _elasticity_md(a: DemandAnalysis) -> str:
    rows = []
    for m in MEASURES:
        e = a.fits[m].elasticity
        if e is None:
            rows.append([LABELS[m], "n/a", "n/a", "n/a"])
        else:
            r = e.iloc[0]
            rows.append([LABELS[m], _fmt(float(r["estimate"])), _fmt(float(r["std_err"])),
                         f"{_fmt(float(r['ci_lower']))} to {_fmt(float(r['ci_upper']))}"])
    return _md_table(["measure", "elasticity", "delta-method SE", "95% CI"], rows,
                     ["---", "---:", "---:", "---:"])


def _runs_md(a: DemandAnalysis) -> str:
    t = a.runs_table()
    if t.empty:
        return "_not computed_"
    rows = []
    for rc in a.runs:
        sub = t[t["quantity"] == rc.quantity].set_index("measure")
        target = "n/a" if rc.result is None else f"{rc.result.target:.4g}"
        v = rc.one_run_variance
        ratio = (v["choice"] / v["belief"] if {"belief", "choice"} <= set(v)
                 and v["belief"] > 0 else math.nan)
        for m in MEASURES:
            r = sub.loc[m]
            avail = None if rc.result is None else int(rc.result.runs_available.min())
            resampled = "n/a" if rc.result is None else _runs_text(r["runs_needed"], avail)
            normal = r["normal_approximation"]
            normal = "n/a" if normal is None or pd.isna(normal) else str(int(normal))
            rows.append([rc.quantity, target, LABELS[m], resampled, normal,
                         _fmt(v.get(m, math.nan), 6),
                         (f"{ratio:.1f}" if m == "choice" and math.isfinite(ratio) else
                          ("inf" if m == "choice" and v.get("belief") == 0 else ""))])
    return _md_table(["quantity", "target (all choices)", "measure",
                      "runs needed (resampling)", "runs needed (normal approx.)",
                      "variance of a one-run estimate", "variance ratio choice/belief"],
                     rows, ["---", "---:", "---", "---:", "---:", "---:", "---:"])


def _single_md(a: DemandAnalysis) -> str:
    s = a.single_run
    if s is None:
        return "_not computed (fewer than 3 prices per run)_"
    n = len(s.table)
    rows = [["paper (GPT-4o, one run)", f"{PAPER['se_belief']}", f"{PAPER['se_choice']}", ""],
            [f"this panel: median over its {n} single runs", _fmt(s.median("belief")),
             _fmt(s.median("choice")),
             f"{s.n_separated} of {n} single-run choice logits separated (excluded)"]]
    return _md_table(["", "belief (fractional logit, HC0)", "choice (logit, inverse information)",
                      ""], rows, ["---", "---:", "---:", "---"])


def _by_price_md(a: DemandAnalysis) -> str:
    t = a.by_price
    rows = [[f"{p:g}", int(r["runs"]), _fmt(r["mean_belief"], 3), _fmt(r["sd_belief"], 3),
             _fmt(r["mean_choice"], 3)] for p, r in t.iterrows()]
    return _md_table([a.settings["price"], "runs", "mean belief", "SD of belief across runs",
                      "share of Yes answers"], rows, ["---:"] * 5)


def _about_model(meta: dict[str, Any]) -> str:
    if meta.get("backend") == "local" and meta.get("embedded_model", False):
        return ("This is the embedded **Gemma 3 270M base model** (4-bit, on the CPU). **A 270M "
                "model is for running the pipeline offline and for tests, not a credible "
                "consumer**: its purchase belief does not fall with price under any prompt tried "
                "so far. The numbers below show what the pipeline does with its answers; they "
                "are not evidence about consumers or about the paper's claims. Run the same "
                "study on a real model to learn something about demand (last section).")
    return (f"Model `{meta.get('model')}` on the `{meta.get('backend')}` backend. Whether its "
            "answers describe consumers is a question about the model, not about this "
            "pipeline.")


def summary_markdown(a: DemandAnalysis, meta: dict[str, Any]) -> str:
    """The report's ``summary.md``.

    ``meta`` describes the run: ``command``, ``model``, ``backend``, ``embedded_model``,
    ``prices``, ``runs``, ``seed``, ``personas``, ``store``, ``example_prompt``,
    ``examples``, ``timings`` (dict of seconds), ``date``, ``version``, ``files``.
    """
    s = a.settings
    level, tol = s["level"], s["tolerance"]
    price_mean = float(a.sample[s["price"]].mean()) if len(a.sample) else math.nan
    out = ["# beliefreg demo: diaper demand from model belief and model choice", "",
           f"`{meta.get('command', 'beliefreg demo')}` — beliefreg {meta.get('version', '')}, "
           f"{meta.get('date', '')}.", ""]
    timings = meta.get("timings") or {}
    if timings:
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        out += [f"Time: {parts}.", ""]
    out += ["## What the model did", "", a.verdict, "", _about_model(meta), ""]
    if a.errors:
        out += ["**Steps that failed** (the rest of the report is still valid):", ""]
        out += [f"- {e}" for e in a.errors] + [""]

    out += ["## The study", "",
            f"- Model: `{meta.get('model')}` ({meta.get('backend')} backend), temperature 1, "
            "one generated token; the pivot is the first token. **Model belief** = the "
            "probability of Yes at the pivot, normalised over Yes and No (every case and "
            "leading-space variant); **model choice** = the sampled token.",
            f"- Prices (cents per diaper): {', '.join(f'{p:g}' for p in meta.get('prices', []))}"
            f"; {meta.get('runs')} runs per price; seed {meta.get('seed')}; store "
            f"`{meta.get('store')}`.",
            f"- Rows: {len(a.panel)} requests; {len(a.sample)} used by both models "
            f"({', '.join(f'{v} {k}' for k, v in a.dropped.items() if v) or 'none dropped'}).",
            ""]
    if meta.get("personas", True):
        out += ["- **Personas.** With the pivot at the first generated token nothing is sampled "
                "before it, so the belief would be identical in every run (one run gives it "
                "exactly) and the runs-needed comparison would be degenerate for belief. In the "
                "paper beliefs varied across runs because tokens were sampled before the pivot. "
                "Here each run draws a shopper persona (household x budget, 20 combinations) "
                "written into the question: a per-run latent state, like tokens sampled before "
                "the pivot, that moves the pivot distribution; given it, belief is exact and "
                "choice is a draw from it. (A sampled reasoning before an `Answer:` anchor "
                "would let the model choose its own latent state, but costs several generated "
                "tokens per request on a CPU, and a 270M base model's reasoning means nothing.) "
                "`--no-personas` runs the degenerate version.", ""]
    else:
        out += ["- **No personas** (`--no-personas`): every run asks the same question, so the "
                "belief is the same in every run and belief needs one run; choice varies.", ""]
    out += ["The few-shot prompt of one request (a base model answers Yes/No after the "
            "examples):", "", "```text", meta.get("example_prompt", ""), "```", ""]

    out += ["## Demand models: purchase on log price, SEs clustered by price", "",
            "Belief: fractional logit (Bernoulli QMLE) of the belief in Yes. Choice: logit "
            "(maximum likelihood) of the sampled Yes (1) / No (0). Both estimate "
            "P(buy | price) = Λ(a + b log price); standard errors in parentheses.", "",
            _estimates_md(a), ""]
    out += [f"### Price elasticity of demand at the mean price ({price_mean:.4g})", "",
            "d log P(buy) / d log price = b (1 − P) at the mean price, with the delta-method SE "
            "from the clustered covariance.", "", _elasticity_md(a), ""]
    out += ["### Standard error from a single run", "",
            "Fit on one run (one answer per price), as the paper's single-run comparison "
            "(belief 0.264 against choice 138.09 there).", "", _single_md(a), ""]
    out += [f"## Runs needed: within ±{tol:.0%} of the target with probability {level:g}", "",
            f"For R = 1, 2, ... runs per price, {s['n_boot']} resamples of R runs per price "
            f"(without replacement, seed {s['seed']}); the target is the estimate from all the "
            "panel's choices (the paper's ground truth, model choice from many runs). "
            "'> R' means the share within the tolerance did not reach the level with the runs "
            "simulated. The normal approximation, R = v₁ (z / (0.1 |target|))² with v₁ the "
            "variance of a one-run estimate (from the run-to-run variance at each price), "
            "extrapolates beyond them. The variance ratio is how many times more runs choice "
            f"needs for the same precision. The paper: belief {PAPER['runs_belief']} runs, "
            f"choice {PAPER['runs_choice']} (GPT-4o, price coefficient).", "",
            _runs_md(a), ""]
    if a.notes:
        out += ["Notes:", ""] + [f"- {n}" for n in a.notes] + [""]
    out += ["## By price", "", _by_price_md(a), ""]
    out += ["## Plots", "", "![demand from belief and from choice](demand.png)", "",
            "![runs needed](runs_needed.png)", ""]
    out += ["## Run the same study on a real model", "", REAL_MODEL_HELP, ""]
    files = meta.get("files") or []
    if files:
        out += ["## Files", ""] + [f"- `{f}`" for f in files] + [""]
    return "\n".join(out)


def console_summary(a: DemandAnalysis, meta: dict[str, Any]) -> str:
    """What the command prints after the simulation."""
    lines = ["", "What the model did: " + a.verdict, ""]
    if meta.get("backend") == "local" and meta.get("embedded_model", False):
        lines += ["(A 270M base model is for running the pipeline offline and for tests, not a "
                  "credible consumer.)", ""]
    if a.table is not None:
        lines += [str(a.table), ""]
    lines += ["Price elasticity at the mean price (delta-method SE):"]
    for m in MEASURES:
        e = a.fits[m].elasticity
        if e is not None:
            r = e.iloc[0]
            lines.append(f"  {LABELS[m]:<27} {r['estimate']:9.4f}  (SE {r['std_err']:.4f})")
        else:
            lines.append(f"  {LABELS[m]:<27} n/a")
    if a.single_run is not None:
        s = a.single_run
        lines += ["", f"Single-run SE of the price coefficient (median of {len(s.table)} runs): "
                      f"belief {_fmt(s.median('belief'))}, choice {_fmt(s.median('choice'))} "
                      f"({s.n_separated} separated); paper: {PAPER['se_belief']} vs "
                      f"{PAPER['se_choice']}"]
    t = a.runs_table()
    if not t.empty:
        lines += ["", f"Runs needed (within ±{a.settings['tolerance']:.0%} of the all-choice "
                      f"estimate with probability {a.settings['level']:g}; paper: belief "
                      f"{PAPER['runs_belief']}, choice {PAPER['runs_choice']}):"]
        for rc in a.runs:
            if rc.result is None:
                lines.append(f"  {rc.quantity}: not computed ({rc.error})")
                continue
            avail = int(rc.result.runs_available.min())
            parts = []
            for m in MEASURES:
                normal = rc.normal.get(m)
                parts.append(f"{m} {_runs_text(rc.result.runs.get(m), avail)}"
                             f" (normal approx. {normal if normal is not None else 'n/a'})")
            lines.append(f"  {rc.quantity}: " + ", ".join(parts))
    for n in a.notes:
        lines += ["", "Note: " + n]
    for e in a.errors:
        lines += ["", "FAILED: " + e]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- plots
def plot_demand_measures(a: DemandAnalysis, title: str = "") -> Any:
    """Demand from belief and from choice: fitted curves with 95% bands, means per price."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    price = a.settings["price"]
    colours = {"belief": "tab:blue", "choice": "tab:orange"}
    if len(a.sample):
        ax.scatter(a.sample[price], a.sample["belief_yes"], s=6, alpha=0.25,
                   color=colours["belief"], linewidths=0, label="belief, each run")
    for m in MEASURES:
        fit = a.fits[m]
        if fit.curve is not None:
            x = fit.curve.index.to_numpy(dtype=float)
            ax.plot(x, fit.curve["estimate"], color=colours[m], label=f"fitted: {LABELS[m]}")
            ax.fill_between(x, fit.curve["ci_lower"], fit.curve["ci_upper"], color=colours[m],
                            alpha=0.2, linewidth=0)
    bp = a.by_price
    if len(bp):
        x = bp.index.to_numpy(dtype=float)
        ax.plot(x, bp["mean_belief"], "o", color=colours["belief"], ms=5,
                label="mean belief per price")
        ax.plot(x, bp["mean_choice"], "s", color=colours["choice"], ms=5,
                label="share of Yes answers per price")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"{price} (cents per diaper)")
    ax.set_ylabel("P(buy)")
    ax.set_title(title or "Demand from model belief and model choice (95% bands)")
    ax.legend(fontsize=8, loc="best")
    return fig


def plot_runs_needed(a: DemandAnalysis) -> Any:
    """P(estimate within the tolerance) against runs per price, per quantity and measure."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    runs = [rc for rc in a.runs if rc.result is not None]
    fig = Figure(figsize=(4.2 * max(len(runs), 1), 4), layout="constrained")
    if not runs:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "runs needed not computed", ha="center", va="center")
        ax.set_axis_off()
        return fig
    colours = {"belief": "tab:blue", "choice": "tab:orange"}
    for i, rc in enumerate(runs):
        ax = fig.add_subplot(1, len(runs), i + 1)
        table = rc.result.curve_table()
        for m in MEASURES:
            if m in table:
                need = rc.result.runs.get(m)
                avail = int(rc.result.runs_available.min())
                normal = rc.normal.get(m)
                extra = "" if normal is None else f"; normal approx. {normal}"
                text = _runs_text(need, avail)
                ax.plot(table.index, table[m], marker="o", ms=3, color=colours[m],
                        label=f"{m}: {text} run{'' if text == '1' else 's'}{extra}")
        ax.axhline(rc.result.level, color="grey", linestyle="--", linewidth=1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("runs per price (R)")
        ax.set_ylabel(f"P(within ±{rc.result.tolerance:.0%} of target)")
        ax.set_title(rc.quantity, fontsize=10)
        ax.legend(fontsize=8, loc="lower right")
    return fig


# ----------------------------------------------------------------------------- the folder
def write_report(a: DemandAnalysis, out: str | Path, meta: dict[str, Any]) -> list[Path]:
    """Write the report folder (created if needed); returns the files written.

    ``meta`` is described in :func:`summary_markdown`; when it holds ``timings`` (a dict,
    updated here with ``report`` and ``total``) and ``started`` (a :func:`time.perf_counter`
    value), the summary states the measured times. The Parquet copy of the panel needs pyarrow
    (the ``report`` extra); without it only the CSV is written and the summary says so.
    """
    end_of_analysis = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    notes: list[str] = []
    panel_csv = out / "panel.csv"
    a.panel.to_csv(panel_csv, index=False)
    written.append(panel_csv)
    try:
        a.panel.to_parquet(out / "panel.parquet", index=False)
        written.append(out / "panel.parquet")
    except ImportError as exc:
        notes.append(f"panel.parquet not written (pip install 'beliefreg[report]'): {exc}")
    a.estimates().to_csv(out / "estimates.csv", index=False)
    written.append(out / "estimates.csv")
    curves = [rc.result.curves.assign(quantity=rc.quantity) for rc in a.runs
              if rc.result is not None]
    runs_frame = (pd.concat(curves, ignore_index=True) if curves else
                  pd.DataFrame(columns=["measure", "runs", "p_within", "mc_se", "n_undefined",
                                        "quantity"]))
    runs_frame.to_csv(out / "runs_needed.csv", index=False)
    written.append(out / "runs_needed.csv")
    a.runs_table().to_csv(out / "runs_needed_summary.csv", index=False)
    written.append(out / "runs_needed_summary.csv")
    a.by_price.to_csv(out / "by_price.csv")
    written.append(out / "by_price.csv")
    try:
        title = f"Diaper demand, {meta.get('model', '')}: belief vs choice (95% bands)"
        plot_demand_measures(a, title).savefig(out / "demand.png", dpi=120)
        written.append(out / "demand.png")
        plot_runs_needed(a).savefig(out / "runs_needed.png", dpi=120)
        written.append(out / "runs_needed.png")
    except ImportError as exc:
        notes.append(f"plots not drawn (pip install 'beliefreg[report]'): {exc}")
    a.notes.extend(notes)
    timings = meta.get("timings")
    if timings is not None and meta.get("started") is not None:
        timings["report"] = time.perf_counter() - end_of_analysis
        timings["total"] = time.perf_counter() - meta["started"]
    meta = dict(meta, files=[p.name for p in written] + ["summary.md"])
    (out / "summary.md").write_text(summary_markdown(a, meta))
    written.append(out / "summary.md")
    return written
