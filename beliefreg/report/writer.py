"""The report folder of a two-alternative study: the panel, a Markdown summary, CSV tables and
PNG plots.

:func:`write_report` writes

* ``panel.parquet`` and ``panel.csv`` — the simulated panel, every column of the schema;
* ``summary.md`` — what the model did, the study, both demand models side by side, the
  elasticities, the single-run SEs, the runs needed, how to run the study on a real model;
* ``estimates.csv`` — coefficients and elasticities with SEs and intervals (full precision);
* ``runs_needed.csv`` — the efficiency criterion: one row per (quantity, measure) with target,
  band, bias and its SE, one-run SD, runs needed (bias-aware normal approximation and
  resampling) and a reading; ``runs_needed_curves.csv`` — the resampling curves;
* ``by_condition.csv`` — mean belief, share choosing, run-to-run SDs and covered mass per
  condition;
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

import numpy as np
from scipy import stats

from .analysis import LABELS, MEASURES, PAPER, BinaryAnalysis
from .efficiency import Criterion, MeasureError, runs_phrase

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


def frame_md(frame: pd.DataFrame, *, index: bool = True, digits: int = 4) -> str:
    """A DataFrame as a Markdown table (no tabulate needed)."""
    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "n/a" if not math.isfinite(v) else f"{v:.{digits}f}"
        return str(v)

    names = list(frame.index.names) if index else []
    header = [str(n or "") for n in names] + [str(c) for c in frame.columns]
    rows = []
    for key, row in frame.iterrows():
        keys = (key if isinstance(key, tuple) else (key,)) if index else ()
        rows.append([cell(k) for k in keys] + [cell(v) for v in row.tolist()])
    return _md_table(header, rows)


# ----------------------------------------------------------------------------- text parts
def _estimates_md(a: BinaryAnalysis) -> str:
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
    rows.append(["clusters"] + [
        str(f.results.n_groups[0]) if f.results is not None and f.results.n_groups else "-"
        for f in fits])
    rows.append(["covariance"] + [f.results._cov_label() if f.results else "-" for f in fits])
    return _md_table(["term"] + [LABELS[m] for m in MEASURES], rows, ["---", "---:", "---:"])


def _elasticity_md(a: BinaryAnalysis) -> str:
    rows = []
    for m in MEASURES:
        e = a.fits[m].elasticity
        if e is None:
            na = "n/a (separated)" if a.fits[m].separated else "n/a"
            rows.append([LABELS[m], na, "n/a", "n/a"])
        else:
            r = e.iloc[0]
            rows.append([LABELS[m], _fmt(float(r["estimate"])), _fmt(float(r["std_err"])),
                         f"{_fmt(float(r['ci_lower']))} to {_fmt(float(r['ci_upper']))}"])
    return _md_table(["measure", "elasticity", "delta-method SE", "95% CI"], rows,
                     ["---", "---:", "---:", "---:"])


def _single_md(a: BinaryAnalysis) -> str:
    s = a.single_run
    if s is None:
        return "_not computed (no price term, or fewer than 3 conditions per run)_"
    n = len(s.table)
    rows = [["paper (GPT-4o, one run)", f"{PAPER['se_belief']}", f"{PAPER['se_choice']}", ""],
            [f"this panel: median over its {n} single runs", _fmt(s.median("belief")),
             _fmt(s.median("choice")),
             f"{s.n_separated} of {n} single-run choice logits separated (excluded)"]]
    return _md_table(["", "belief (fractional logit, HC0)", "choice (logit, inverse information)",
                      ""], rows, ["---", "---:", "---:", "---"])


def _g(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}g}"


def _resampled(c: Criterion, m: str) -> str:
    if not c.applies:
        return "—"
    if c.resampling is None:
        return "n/a"
    r = c.measures[m].runs_resampling
    avail = int(c.resampling.runs_available.min())
    return f"> {avail}" if r is None else str(r)


def _bias_text(c: Criterion, m: str) -> str:
    e = c.measures[m]
    if m == "choice":
        return "0 (defines the target)"
    tag = "significant" if e.bias_significant else "not detectable"
    return f"{e.bias:+.4g} (SE {e.bias_se:.2g}; {tag})"


def _optimistic(c: Criterion) -> bool:
    if c.resampling is None:
        return False
    n = int(c.resampling.runs_available.min())
    return any(r is not None and r > max(1, n / 10)
               for r in (c.measures[m].runs_resampling for m in MEASURES))


def _summary_criteria(a: BinaryAnalysis) -> list[Criterion]:
    eff = a.efficiency
    return [] if eff is None else [c for c in eff.criteria if c.kind != "level"]


def _efficiency_md(a: BinaryAnalysis) -> str:
    eff = a.efficiency
    if eff is None:
        return "_not computed_"
    rows = []
    for c in _summary_criteria(a):
        for m in MEASURES:
            e = c.measures[m]
            rows.append([c.quantity if m == "belief" else "",
                         f"{c.target:.4g} (SE {c.target_se:.2g})" if m == "belief" else "",
                         c.band_text() if m == "belief" else "", m, f"{e.estimate:.4g}",
                         _bias_text(c, m), _g(math.sqrt(max(e.v1, 0.0)), 3),
                         c.status(m), _resampled(c, m)])
    return _md_table(["quantity", "target (all choices)", "band", "measure", "estimate",
                      "bias (estimate − target)", "SD of a one-run estimate",
                      "runs needed (normal, bias-aware)", "runs needed (resampling)"], rows,
                     ["---", "---:", "---", "---", "---:", "---", "---:", "---", "---:"])


def _levels_md(a: BinaryAnalysis) -> str:
    eff = a.efficiency
    if eff is None:
        return "_not computed_"
    rows = []
    for c in eff.get("level"):
        b, ch = c.measures["belief"], c.measures["choice"]
        rows.append([c.quantity.removeprefix("demand at "),
                     f"{c.target:.3f}" + (f" (±{1.96 * c.target_uncertainty:.2g}: rough)"
                                          if c.target_loose else ""),
                     c.band_text().split(" (")[0], f"{b.estimate:.3f}",
                     _bias_text(c, "belief"), c.status("belief"), c.status("choice"),
                     _resampled(c, "belief"), _resampled(c, "choice")])
    return _md_table(["condition", "target (share choosing)", "band", "mean belief",
                      "belief bias", "belief: runs (normal)", "choice: runs (normal)",
                      "belief: runs (resampling)", "choice: runs (resampling)"], rows,
                     ["---", "---:", "---", "---:", "---", "---:", "---:", "---:", "---:"])


def _count_range(values: list[int]) -> str:
    """``'1 run'``, ``'4 runs'``, ``'3 to 40 runs'`` (no degenerate '1 to 1')."""
    lo, hi = min(values), max(values)
    return runs_phrase(lo) if lo == hi else f"{lo} to {hi} runs"


def _levels_runs_text(errors: list[MeasureError]) -> str:
    """One measure's runs needed over the conditions, by what each bias interval allows."""
    if not errors:
        return "n/a"
    runs = [e.runs_normal for e in errors if e.outcome == "runs" and e.runs_normal is not None]
    open_ = [e for e in errors if e.outcome == "not determinable"]
    never = sum(e.outcome == "never" for e in errors)
    parts = []
    if runs:
        parts.append("needs " + _count_range(runs)
                     + ("" if len(runs) == len(errors) else f" at {len(runs)}"))
    if open_:
        lows = [e.runs_normal_low for e in open_ if e.runs_normal_low is not None]
        parts.append(f"not determinable at {len(open_)}" + (
            f" (at least {_count_range(lows)}, or never: the bias's interval reaches the "
            "band's edge)" if lows else " (the bias's interval reaches the band's edge)"))
    if never:
        parts.append(f"never at {never} (precise but centred elsewhere)")
    other = len(errors) - len(runs) - len(open_) - never
    if other:
        parts.append(f"n/a at {other}")
    return ", ".join(parts)


def efficiency_reading(a: BinaryAnalysis) -> list[str]:
    """Plain sentences on the efficiency criterion (console and summary)."""
    eff = a.efficiency
    if eff is None:
        return []
    out = []
    levels = eff.get("level")
    if levels:
        line = (f"Demand level at each of the {len(levels)} conditions (within "
                f"±{eff.tolerance:.0%} of the share choosing, probability {eff.level:g}; normal "
                "approximation with bias): belief "
                + _levels_runs_text([c.measures["belief"] for c in levels if c.applies])
                + "; choice "
                + _levels_runs_text([c.measures["choice"] for c in levels if c.applies]) + ".")
        loose = [c for c in levels if c.target_loose]
        if loose:
            ci = [1.96 * c.target_uncertainty for c in loose]
            known = (f"±{min(ci):.2g}" if f"{min(ci):.2g}" == f"{max(ci):.2g}"
                     else f"±{min(ci):.2g} to ±{max(ci):.2g}")
            line += (f" At {len(loose)} of the {len(levels)} conditions the target itself is "
                     f"known only to {known} (the panel has "
                     f"{eff.runs_text}), wider than the band: "
                     "these runs needed are rough; simulate more runs to pin the targets down.")
        out.append(line)
    for c in _summary_criteria(a):
        if c.applies:
            out.append(f"{c.quantity[0].upper() + c.quantity[1:]} (target {c.target:.4g}, band "
                       f"{c.band_text()}): belief {c.status('belief')}, choice "
                       f"{c.status('choice')}"
                       + (f"; resampling {_resampled(c, 'belief')} vs "
                          f"{_resampled(c, 'choice')}" if c.resampling is not None else "")
                       + ("" if not _optimistic(c) else
                          f" (resampling R of the {int(c.resampling.runs_available.min())} runs "
                          "simulated without replacement is optimistic beyond a tenth of them: "
                          "trust the normal approximation)")
                       + "."
                       + (" The target itself is known only to "
                          f"±{1.96 * c.target_uncertainty:.3g} (the panel has {eff.runs_text}, "
                          "choice needs more), wider than the band: simulate more runs to "
                          "pin it down." if c.target_loose else ""))
        else:
            out.append(f"{c.quantity[0].upper() + c.quantity[1:]}: the criterion does not "
                       f"apply — {c.reason}.")
        b = c.measures["belief"]
        if b.bias_significant:
            where = ("precise but centred elsewhere" if c.applies and b.outcome == "never"
                     else "biased")
            out.append(f"  Belief is {where} for the {c.quantity}: bias {b.bias:+.4g} "
                       f"(SE {b.bias_se:.2g}) against a one-run SD of "
                       f"{math.sqrt(max(b.v1, 0)):.3g}.")
    return out


def _by_condition_md(a: BinaryAnalysis) -> str:
    t = a.by_condition
    has_mass = "covered_mass" in t
    rows = []
    for key, r in t.iterrows():
        label = ", ".join(f"{v:g}" if isinstance(v, (int, float)) else str(v)
                          for v in (key if isinstance(key, tuple) else (key,)))
        row = [label, int(r["runs"]), _fmt(r["mean_belief"], 3), _fmt(r["sd_belief"], 3),
               _fmt(r["mean_choice"], 3)]
        if has_mass:
            row += [_fmt(r["covered_mass"], 3), _fmt(r["min_covered_mass"], 3)]
        rows.append(row)
    names = ", ".join(t.index.names) if t.index.names else "condition"
    header = [names, "runs", "mean belief", "SD of belief across runs", "share choosing"]
    if has_mass:
        header += ["covered mass (mean)", "covered mass (min)"]
    return _md_table(header, rows, ["---:"] * len(header))


def _about_model(meta: dict[str, Any]) -> str:
    if meta.get("backend") == "local" and meta.get("embedded_model", False):
        return ("This is the embedded **Gemma 3 270M base model** (4-bit, on the CPU). **A 270M "
                "model is for running the pipeline offline and for tests, not a credible "
                "consumer**: its purchase belief does not fall with price under any prompt tried "
                "so far. The numbers below show what the pipeline does with its answers; they "
                "are not evidence about consumers or about the paper's claims.")
    if meta.get("model"):
        return (f"Model `{meta.get('model')}` on the `{meta.get('backend')}` backend. Whether "
                "its answers describe consumers is a question about the model, not about this "
                "pipeline.")
    return ""


def _design_md(a: BinaryAnalysis, meta: dict[str, Any]) -> list[str]:
    d = a.design
    out = ["## The study", ""]
    if meta.get("study_lines"):
        out += list(meta["study_lines"])
    if d is not None:
        out += [f"- Alternatives: {', '.join(d.alternatives)}; the models describe "
                f"P({a.settings['alternative']}).",
                f"- Condition variables (regressors): {', '.join(d.conditions) or 'none'}; "
                f"{d.n_conditions} conditions, {int(d.runs.min())}"
                + (f" to {int(d.runs.max())}" if d.runs.max() != d.runs.min() else "")
                + " runs each."
                + (f" Sampled per run (latent state, not regressors): {', '.join(d.sampled)}."
                   if d.sampled else "")]
    out += [f"- Rows: {len(a.panel)} requests; {len(a.sample)} used by both models "
            f"({', '.join(f'{v} {k}' for k, v in a.dropped.items() if v) or 'none dropped'}).",
            ""]
    return out


def summary_markdown(a: BinaryAnalysis, meta: dict[str, Any]) -> str:
    """The report's ``summary.md``.

    ``meta`` describes the run: ``title``, ``command``, ``model``, ``backend``,
    ``embedded_model``, ``study_lines`` (Markdown bullet lines about the study),
    ``example_prompt``, ``timings`` (dict of seconds), ``date``, ``version``, ``files``,
    ``real_model_help`` (bool).
    """
    s = a.settings
    level, tol = s["level"], s["tolerance"]
    out = [f"# {meta.get('title', 'beliefreg report: model belief and model choice')}", "",
           f"`{meta.get('command', 'beliefreg report')}` — beliefreg {meta.get('version', '')}, "
           f"{meta.get('date', '')}.", ""]
    timings = meta.get("timings") or {}
    if timings:
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        out += [f"Time: {parts}.", ""]
    out += ["## What the model did", "", a.verdict_text, ""]
    if a.price_blind is not None:
        out += ["**Price-blind check.** " + a.price_blind.text, ""]
    if a.probe is not None:
        out += [a.probe.text, "", frame_md(a.probe.top, digits=6), ""]
    about = _about_model(meta)
    if about:
        out += [about, ""]
    if a.errors:
        out += ["**Steps that failed** (the rest of the report is still valid):", ""]
        out += [f"- {e}" for e in a.errors] + [""]
    out += _design_md(a, meta)
    if meta.get("example_prompt"):
        out += ["The prompt of one request:", "", "```text", meta["example_prompt"], "```", ""]

    out += [f"## Models: `{s['rhs']}`", "",
            f"Belief: fractional logit (Bernoulli QMLE) of `{s['belief']}`. Choice: logit "
            f"(maximum likelihood) of the sampled choice (1 = {s['alternative']}). Both estimate "
            f"P({s['alternative']} | x) = Λ(x'b). Covariance: {s['cov_reason']}. Standard "
            "errors in parentheses.", "", _estimates_md(a), ""]
    if s.get("price"):
        out += ["### Price elasticity at the mean of the design", "",
                "d log P / d log price with the delta-method SE.", "", _elasticity_md(a), ""]
        out += ["### Standard error from a single run", "",
                "Fit on one run (one answer per condition), as the paper's single-run "
                "comparison (belief 0.264 against choice 138.09 there).", "", _single_md(a), ""]
    out += [f"## Efficiency: runs needed within ±{tol:.0%} of the target with probability "
            f"{level:g}", "",
            "The paper's criterion: the number of runs per condition that brings an estimate "
            f"within ±{tol:.0%} of the ground truth with probability {level:g}; the ground truth "
            "is the model's choice probability, estimated here from all the panel's choices "
            "(the *target*). The standard errors in this section come from the run-to-run "
            "variance at each condition (the criterion's own model of repeated runs; where "
            "every run of a condition chose alike, from the beliefs' b(1-b)), so they differ "
            "from the models' covariances above. A relative band means something only around a "
            "quantity clearly "
            f"away from 0: it is used for the demand level at each condition and their average "
            f"(an absolute ±{0.05:g} where a level is not clearly above 0), and for the "
            "elasticity and the price coefficient only when their target is significantly "
            "different from 0; otherwise the criterion **does not apply** and no number is "
            "given. Each measure's error is split into **bias** (its all-runs estimate minus "
            "the target, with the SE of that paired difference; *significant* or *not "
            "detectable* after a Bonferroni correction, a tag that changes no number) and "
            "**variance** (the SD of an estimate from one run per condition; R runs divide the "
            "variance by R). The normal approximation uses both: the smallest R with "
            "P(|N(bias, SD²/R)| ≤ half-width) ≥ level, at the point bias and at the ends of "
            f"the bias's interval (±{a.efficiency.bias_z if a.efficiency else math.nan:.2f} "
            f"SE: simultaneous {level:.0%} intervals over the quantities, Bonferroni). When "
            "that interval lies inside the band the runs needed are given (with their "
            "range); when it lies beyond the band's edge no number of runs is enough "
            "(*never: precise but centred elsewhere*); when it reaches "
            "across the edge (a point bias as large as the band that is not clearly beyond "
            "it, or a target known less well than the band) the runs needed are *not "
            "determinable*: at least the smallest number, or never. "
            f"Resampling draws R of the runs simulated ({s['n_boot']} resamples, seed "
            f"{s['seed']}); it cannot see beyond them ('> R'). The paper: belief "
            f"{PAPER['runs_belief']} runs, choice {PAPER['runs_choice']} (GPT-4o, price "
            "coefficient).", ""]
    out += [f"- {line.strip()}" for line in efficiency_reading(a)] + [""]
    out += [_efficiency_md(a), "", "### Demand level at each condition", "", _levels_md(a), ""]
    if a.notes:
        out += ["Notes:", ""] + [f"- {n}" for n in a.notes] + [""]
    out += ["## By condition", "", _by_condition_md(a), ""]
    out += ["## Plots", "", "![demand from belief and from choice](demand.png)", "",
            "![runs needed](runs_needed.png)", ""]
    if meta.get("real_model_help"):
        out += ["## Run the same study on a real model", "", REAL_MODEL_HELP, ""]
    files = meta.get("files") or []
    if files:
        out += ["## Files", ""] + [f"- `{f}`" for f in files] + [""]
    return "\n".join(out)


def console_summary(a: BinaryAnalysis, meta: dict[str, Any]) -> str:
    """What the command prints after the analysis."""
    lines = ["", "What the model did: " + a.verdict_text, ""]
    if a.price_blind is not None:
        lines += ["Price-blind check: " + a.price_blind.text, ""]
    if a.probe is not None:
        lines += [a.probe.text, ""]
    if meta.get("backend") == "local" and meta.get("embedded_model", False):
        lines += ["(A 270M base model is for running the pipeline offline and for tests, not a "
                  "credible consumer.)", ""]
    if a.table is not None:
        lines += [f"Models: {a.settings['rhs']}; covariance: {a.settings['cov_reason']}.",
                  str(a.table), ""]
    if a.settings.get("price"):
        lines += ["Price elasticity at the mean of the design (delta-method SE):"]
        for m in MEASURES:
            e = a.fits[m].elasticity
            if e is not None:
                r = e.iloc[0]
                se = (f"SE {r['std_err']:.4f}" if np.isfinite(r["std_err"]) else
                      "no standard error: the verdict above says why")
                lines.append(f"  {LABELS[m]:<27} {r['estimate']:9.4f}  ({se})")
            else:
                lines.append(f"  {LABELS[m]:<27} n/a" + (" (separated: the MLE does not exist)"
                                                          if a.fits[m].separated else ""))
    if a.single_run is not None:
        s = a.single_run
        lines += ["", f"Single-run SE of the price coefficient (median of {len(s.table)} runs): "
                      f"belief {_fmt(s.median('belief'))}, choice {_fmt(s.median('choice'))} "
                      f"({s.n_separated} separated); paper: {PAPER['se_belief']} vs "
                      f"{PAPER['se_choice']}"]
    if a.efficiency is not None:
        lines += ["", f"Efficiency (runs per condition to be within ±{a.settings['tolerance']:.0%} "
                      f"of the all-choice target with probability {a.settings['level']:g}; "
                      f"paper: belief {PAPER['runs_belief']}, choice {PAPER['runs_choice']}):"]
        lines += ["  " + line for line in efficiency_reading(a)]
    for n in a.notes:
        lines += ["", "Note: " + n]
    for e in a.errors:
        lines += ["", "FAILED: " + e]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- plots
def plot_demand_measures(a: BinaryAnalysis, title: str = "") -> Any:
    """Demand from belief and from choice: fitted curves with 95% bands, means per price."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    price = a.settings.get("price")
    if price is None or not len(a.sample):
        ax.text(0.5, 0.5, "no price variable: see the tables", ha="center", va="center")
        ax.set_axis_off()
        return fig
    belief = a.settings["belief"]
    colours = {"belief": "tab:blue", "choice": "tab:orange"}
    ax.scatter(a.sample[price], a.sample[belief], s=6, alpha=0.25, color=colours["belief"],
               linewidths=0, label="belief, each run")
    for m in MEASURES:
        fit = a.fits[m]
        if fit.curve is not None:
            x = fit.curve.index.to_numpy(dtype=float)
            ax.plot(x, fit.curve["estimate"], color=colours[m], label=f"fitted: {LABELS[m]}")
            ax.fill_between(x, fit.curve["ci_lower"], fit.curve["ci_upper"], color=colours[m],
                            alpha=0.2, linewidth=0)
    g = a.sample.groupby(price)
    x = np.asarray(list(g.groups.keys()), dtype=float)
    ax.plot(x, g[belief].mean(), "o", color=colours["belief"], ms=5,
            label=f"mean belief per {price}")
    ax.plot(x, g["buy"].mean(), "s", color=colours["choice"], ms=5,
            label=f"share choosing per {price}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(price)
    ax.set_ylabel(f"P({a.settings['alternative']})")
    ax.set_title(title or "Demand from model belief and model choice (95% bands)")
    ax.legend(fontsize=8, loc="best")
    return fig


def _normal_curve(c: Criterion, m: str, runs: np.ndarray) -> np.ndarray:
    e = c.measures[m]
    b, h = e.bias, c.half_width
    s = np.sqrt(max(e.v1, 1e-300) / runs)
    return stats.norm.cdf((h - b) / s) - stats.norm.cdf((-h - b) / s)


def plot_runs_needed(a: BinaryAnalysis) -> Any:
    """The criterion, as the report reads it.

    Left: runs needed for the demand level at each condition (bias-aware normal approximation,
    log scale; 'never' at the top; not determinable: a pale bar to the least runs the bias's
    interval allows, hatched above it up to 'never'). Then one panel per summary quantity: the
    probability of being within the band against R, resampled (points, up to the runs
    simulated) and by the bias-aware normal approximation (lines); a quantity for which the
    criterion does not apply shows why instead of a curve.
    """
    from matplotlib.figure import Figure

    eff = a.efficiency
    summary = _summary_criteria(a)
    n = 1 + len(summary)
    fig = Figure(figsize=(4.3 * n, 4.2), layout="constrained")
    if eff is None:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "runs needed not computed", ha="center", va="center")
        ax.set_axis_off()
        return fig
    colours = {"belief": "tab:blue", "choice": "tab:orange"}
    ax = fig.add_subplot(1, n, 1)
    levels = eff.get("level")
    top = 1
    for m in MEASURES:
        vals = [c.measures[m].runs_normal for c in levels]
        lows = [c.measures[m].runs_normal_low for c in levels
                if c.measures[m].outcome == "not determinable"]
        top = max([top] + [v for v in vals + lows if v is not None])
    never = top * 3
    for k, m in enumerate(MEASURES):
        xs = np.arange(len(levels)) + (k - 0.5) * 0.3
        for x, c in zip(xs, levels):
            e = c.measures[m]
            if e.outcome == "not determinable":
                # from the least runs the bias's interval allows up to 'never', hatched
                low = e.runs_normal_low or never
                ax.bar(x, never - low, bottom=low, width=0.3, color="none",
                       edgecolor=colours[m], hatch="///", linewidth=0.5)
                ax.bar(x, low, width=0.3, color=colours[m], alpha=0.4)
            else:
                ax.bar(x, never if e.runs_normal is None else e.runs_normal, width=0.3,
                       color=colours[m])
    ax.set_yscale("log")
    from matplotlib.patches import Patch

    handles = [Patch(color=colours[m], label=m) for m in MEASURES]
    if any(c.measures[m].runs_normal is None for c in levels for m in MEASURES):
        ax.axhline(never, color="grey", linestyle=":", linewidth=1)
        ax.text(0, never, " never (bias ≥ band)", fontsize=7, va="bottom")
        if any(c.measures[m].outcome == "not determinable" for c in levels for m in MEASURES):
            handles.append(Patch(facecolor="none", edgecolor="grey", hatch="///",
                                 label="not determinable\n(from the least runs)"))
    ax.set_xticks(np.arange(len(levels)))
    ax.set_xticklabels([c.quantity.removeprefix("demand at ").split("=")[-1] for c in levels],
                       rotation=90, fontsize=7)
    ax.set_ylabel("runs per condition (normal approx., with bias)")
    ax.set_title(f"demand level at each condition (±{eff.tolerance:.0%})", fontsize=10)
    ax.legend(handles=handles, fontsize=7, loc="lower right", framealpha=0.9)
    for i, c in enumerate(summary):
        ax = fig.add_subplot(1, n, i + 2)
        ax.set_title(c.quantity, fontsize=10)
        if not c.applies:
            ax.text(0.5, 0.5, "criterion does not apply:\n" + _wrap(c.reason, 38), ha="center",
                    va="center", fontsize=8, transform=ax.transAxes)
            ax.set_axis_off()
            continue
        finite = [c.measures[m].runs_normal for m in MEASURES
                  if c.measures[m].runs_normal is not None]
        r_max = max([10, *(2 * r for r in finite)])
        if c.resampling is not None:
            r_max = max(r_max, int(c.resampling.runs_available.min()))
        runs = np.unique(np.geomspace(1, r_max, 200).astype(int))
        for m in MEASURES:
            ax.plot(runs, _normal_curve(c, m, runs), color=colours[m],
                    label=f"{m}: {c.status(m).split(' (')[0]} (normal, with bias)")
            if c.resampling is not None:
                t = c.resampling.curve_table()
                if m in t:
                    ax.plot(t.index, t[m], "o", ms=3, color=colours[m],
                            label=f"{m}: resampled ({_resampled(c, m)})")
        ax.axhline(eff.level, color="grey", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("runs per condition (R)")
        ax.set_ylabel(f"P(within {c.band_text().split(' (')[0]})")
        ax.legend(fontsize=7, loc="lower right")
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


# ----------------------------------------------------------------------------- the folder
def write_report(a: BinaryAnalysis, out: str | Path, meta: dict[str, Any]) -> list[Path]:
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
    written += write_panel(a.panel, out, notes)
    a.estimates().to_csv(out / "estimates.csv", index=False)
    written.append(out / "estimates.csv")
    a.runs_table().to_csv(out / "runs_needed.csv", index=False)
    written.append(out / "runs_needed.csv")
    curves = [c.resampling.curves.assign(quantity=c.quantity) for c in
              (a.efficiency.criteria if a.efficiency else []) if c.resampling is not None]
    (pd.concat(curves, ignore_index=True) if curves else
     pd.DataFrame(columns=["measure", "runs", "p_within", "mc_se", "n_undefined", "quantity"])
     ).to_csv(out / "runs_needed_curves.csv", index=False)
    written.append(out / "runs_needed_curves.csv")
    a.by_condition.to_csv(out / "by_condition.csv")
    written.append(out / "by_condition.csv")
    try:
        title = meta.get("plot_title") or f"{meta.get('model', '')}: belief vs choice (95% bands)"
        plot_demand_measures(a, title).savefig(out / "demand.png", dpi=110)
        written.append(out / "demand.png")
        plot_runs_needed(a).savefig(out / "runs_needed.png", dpi=110)
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


def write_panel(panel: pd.DataFrame, out: Path, notes: list[str]) -> list[Path]:
    """``panel.csv`` and (with pyarrow) ``panel.parquet``."""
    written = [out / "panel.csv"]
    panel.to_csv(out / "panel.csv", index=False)
    try:
        panel.to_parquet(out / "panel.parquet", index=False)
        written.append(out / "panel.parquet")
    except ImportError as exc:
        notes.append(f"panel.parquet not written (pip install 'beliefreg[report]'): {exc}")
    return written
