"""The report folder of a study with several alternatives (see :mod:`beliefreg.report.shares`).

Writes ``panel.csv``/``panel.parquet``, ``summary.md``, ``estimates.csv``,
``elasticities.csv`` (own and cross, from belief and from choice), ``runs_needed.csv``
(per alternative, condition and measure), ``by_condition.csv`` and ``shares.png``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any



from .shares import SharesAnalysis
from .writer import _count_range, _md_table, efficiency_reading, frame_md, write_panel

__all__ = ["write_shares_report", "shares_markdown", "shares_console"]


def _elasticity_md(a: SharesAnalysis) -> str:
    t = a.elasticity_table()
    if t.empty:
        return "_no numeric condition variable: no elasticities_"
    rows = []
    for _, r in t.iterrows():
        share = r["share"].split("_", 1)[1]
        own = "own" if a.settings.get("price") and r["variable"] == a.settings["price"] \
            and share == a.design.alternatives[0] else ""
        rows.append([r["measure"], share, r["variable"], f"{r['estimate']:.4f}",
                     f"{r['std_err']:.4f}", f"{r['ci_lower']:.4f} to {r['ci_upper']:.4f}", own])
    return _md_table(["measure", "share of", "with respect to", "elasticity", "SE", "95% CI",
                      ""], rows, ["---", "---", "---", "---:", "---:", "---:", "---"])


def _eff_lines(a: SharesAnalysis) -> list[str]:
    out = []
    for alt, eff in a.efficiency.items():
        shim = type("A", (), {"efficiency": eff, "settings": a.settings})()
        out += [f"**{alt}**: " + " ".join(efficiency_reading(shim))]
    return out


def shares_markdown(a: SharesAnalysis, meta: dict[str, Any]) -> str:
    s = a.settings
    out = [f"# {meta.get('title', 'beliefreg report: belief shares and choices')}", "",
           f"`{meta.get('command', 'beliefreg report')}` — beliefreg {meta.get('version', '')}, "
           f"{meta.get('date', '')}.", "", "## What the model did", "", a.verdict_text, ""]
    if a.errors:
        out += ["**Steps that failed**:", ""] + [f"- {e}" for e in a.errors] + [""]
    d = a.design
    out += ["## The study", "",
            f"- Alternatives: {', '.join(d.alternatives)} (base {s['base']}).",
            f"- Condition variables: {', '.join(d.conditions) or 'none'}; {d.n_conditions} "
            f"conditions, {_count_range([int(d.runs.min()), int(d.runs.max())])} each."
            + (f" Sampled per run: {', '.join(d.sampled)}." if d.sampled else ""),
            f"- Rows: {len(a.panel)}; used {len(a.sample)}.", ""]
    out += [f"## Share models: `{s['rhs']}`", "",
            "Belief: multinomial fractional logit (QMLE) of the belief shares. Choice: the same "
            "model on the 0/1 indicators of the sampled choice (the multinomial logit MLE). "
            f"Covariance: {s['cov_reason']}.", ""]
    est = a.estimates()
    if not est.empty:
        wide = est.pivot(index="parameter", columns="measure", values=["estimate", "std_err"])
        rows = [[f"`{p}`"] + [f"{wide.loc[p, ('estimate', m)]:.4f} "
                              f"({wide.loc[p, ('std_err', m)]:.4f})"
                              if ("estimate", m) in wide.columns else "-"
                              for m in ("belief", "choice")] for p in wide.index]
        out += [_md_table(["parameter", "belief", "choice"], rows, ["---", "---:", "---:"]), ""]
    out += ["### Own and cross elasticities (mean of the observation elasticities)", "",
            _elasticity_md(a), ""]
    if a.predicted is not None:
        out += ["### Predicted shares at the lowest and the highest price", "",
                frame_md(a.predicted, index=False), ""]
    out += [f"## Efficiency: runs needed within ±{s['tolerance']:.0%} of each share", "",
            "Per alternative: the share at each condition and on average (target: the share "
            "choosing it from all runs), bias-aware normal approximation; see the two-"
            "alternative report for the definitions.", ""]
    out += [f"- {line}" for line in _eff_lines(a)] + [""]
    if a.notes:
        out += ["Notes:", ""] + [f"- {n}" for n in a.notes] + [""]
    out += ["## By condition", "", frame_md(a.by_condition, digits=3), "",
            "![shares](shares.png)", ""]
    return "\n".join(out)


def shares_console(a: SharesAnalysis, meta: dict[str, Any]) -> str:
    lines = ["", "What the model did: " + a.verdict_text, ""]
    t = a.elasticity_table()
    if not t.empty:
        lines += ["Elasticities (share of x with respect to variable):",
                  t[["measure", "share", "variable", "estimate", "std_err"]].to_string(
                      index=False, float_format=lambda v: f"{v:.4f}"), ""]
    lines += ["Efficiency:"] + ["  " + line for line in _eff_lines(a)]
    lines += [f"\nNote: {n}" for n in a.notes]
    lines += ["FAILED: " + e for e in a.errors]
    return "\n".join(lines)


def plot_shares(a: SharesAnalysis) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    price = a.settings.get("price")
    if price is None:
        ax.text(0.5, 0.5, "no price variable", ha="center", va="center")
        ax.set_axis_off()
        return fig
    g = a.sample.groupby(price)
    x = sorted(g.groups)
    for i, alt in enumerate(a.design.alternatives):
        colour = f"C{i}"
        ax.plot(x, g[f"belief_{alt}"].mean(), "o-", color=colour, label=f"belief: {alt}")
        ax.plot(x, g[f"choice_{alt}"].mean(), "s--", color=colour, alpha=0.6,
                label=f"share choosing: {alt}")
    ax.set_xlabel(price)
    ax.set_ylabel("share")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    return fig


def write_shares_report(a: SharesAnalysis, out: str | Path, meta: dict[str, Any]) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    written = write_panel(a.panel, out, notes)
    a.estimates().to_csv(out / "estimates.csv", index=False)
    a.elasticity_table().to_csv(out / "elasticities.csv", index=False)
    a.runs_table().to_csv(out / "runs_needed.csv", index=False)
    a.by_condition.to_csv(out / "by_condition.csv")
    written += [out / n for n in ("estimates.csv", "elasticities.csv", "runs_needed.csv",
                                  "by_condition.csv")]
    try:
        plot_shares(a).savefig(out / "shares.png", dpi=110)
        written.append(out / "shares.png")
    except ImportError as exc:
        notes.append(f"plot not drawn: {exc}")
    a.notes.extend(notes)
    timings = meta.get("timings")
    if timings is not None and meta.get("started") is not None:
        timings["total"] = time.perf_counter() - meta["started"]
    (out / "summary.md").write_text(shares_markdown(a, meta))
    written.append(out / "summary.md")
    return written


