r"""The analysis of a panel with two or more alternatives: belief shares against choices.

:func:`analyse_shares` fits

* the **belief model**: a multinomial fractional logit
  (:class:`~beliefreg.MultinomialFractionalLogit`, the Papke-Wooldridge / Sivakumar-Bhat
  multinomial QMLE) of the belief shares ``belief_<alt>`` on the condition variables, and
* the **choice model**: the same model on the 0/1 indicators of the sampled choice, which is the
  multinomial logit maximum likelihood,

with the covariance chosen from the design (clustered by condition with several runs per
condition), the own- and cross-elasticities of every alternative's share with respect to each
numeric condition variable (delta-method SEs, from each model), the predicted shares at the
lowest and highest value of the price variable, the covered mass per condition, and the
efficiency criterion for each alternative's share at each condition and on average
(:mod:`beliefreg.report.efficiency`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..models.multinomial import MultinomialFractionalLogit
from .design import PanelDesign, _default_rhs_or_note, checked_rhs, panel_design
from .efficiency import Efficiency, efficiency

__all__ = ["SharesAnalysis", "analyse_shares", "shares_sample"]

MEASURES = ("belief", "choice")


@dataclass
class SharesAnalysis:
    """Everything the report says about a panel with several alternatives."""

    panel: pd.DataFrame
    sample: pd.DataFrame
    dropped: dict[str, int]
    design: PanelDesign
    rhs: str
    by_condition: pd.DataFrame
    results: dict[str, Any]
    elasticities: dict[str, Any]
    predicted: pd.DataFrame | None
    efficiency: dict[str, Efficiency]
    verdict_text: str
    notes: list[str]
    errors: list[str]
    settings: dict[str, Any]
    kind: str = "shares"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def estimates(self) -> pd.DataFrame:
        """One row per (measure, parameter): estimate, SE, CI."""
        rows = []
        for m, res in self.results.items():
            ci = res.conf_int()
            for name in res.params.index:
                rows.append({"measure": m, "parameter": name, "estimate": res.params[name],
                             "std_err": res.bse[name], "ci_lower": ci.loc[name].iloc[0],
                             "ci_upper": ci.loc[name].iloc[1], "cov_type": res._cov_label(),
                             "nobs": int(res.nobs)})
        return pd.DataFrame(rows)

    def elasticity_table(self) -> pd.DataFrame:
        """One row per (measure, share, variable): own or cross elasticity with SE and CI."""
        frames = []
        for m, eff in self.elasticities.items():
            f = eff.summary_frame().reset_index()
            f.columns = ["share", "variable", *f.columns[2:]]
            f.insert(0, "measure", m)
            frames.append(f)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def runs_table(self) -> pd.DataFrame:
        frames = [e.table().assign(alternative=a) for a, e in self.efficiency.items()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def shares_sample(panel: pd.DataFrame, alternatives: list[str]
                  ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows with a successful request, every belief and a valid choice; 0/1 ``choice_<alt>``."""
    beliefs = [f"belief_{a}" for a in alternatives]
    failed = panel["error"].notna() if "error" in panel else pd.Series(False, panel.index)
    no_belief = ~failed & panel[beliefs].isna().any(axis=1)
    from ..simulation.panel import recommended_rows

    valid = panel["choice"].isin(alternatives)
    no_choice = ~failed & ~no_belief & ~valid
    keep = ~(failed | no_belief | no_choice) & recommended_rows(panel)
    low_mass = ~(failed | no_belief | no_choice) & ~keep
    sample = panel.loc[keep].copy().reset_index(drop=True)
    for a in alternatives:
        sample[f"choice_{a}"] = (sample["choice"] == a).astype(float)
    dropped = {"failed request": int(failed.sum()), "no belief": int(no_belief.sum()),
               "answer not an alternative": int(no_choice.sum()),
               "low mass on the alternatives (< 0.5)": int(low_mass.sum())}
    return sample, dropped


def _price_variables(design: PanelDesign, sample: pd.DataFrame) -> list[str]:
    out = []
    for v in design.conditions:
        col = sample[v]
        if (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
                and col.nunique() > 1):
            out.append(v)
    return out


def analyse_shares(panel: pd.DataFrame, *, formula: str | None = None,
                   price: str | None = "price", cov_type: str | None = None,
                   base: str | None = None, n_boot: int = 1000, seed: int = 0,
                   tolerance: float = 0.10, level: float = 0.95) -> SharesAnalysis:
    """Belief shares (multinomial fractional logit) against choices (multinomial logit).

    Parameters
    ----------
    panel : pandas.DataFrame
        A panel from :func:`beliefreg.simulate` with two or more alternatives.
    formula : str, optional
        Right-hand side (default from the design).
    price : str, optional
        The price variable named in the verdict (ignored when not a condition variable).
    cov_type : str, optional
        Default chosen from the design (clustered by condition).
    base : str, optional
        The base alternative (default the last).
    n_boot, seed, tolerance, level
        The efficiency criterion.

    Returns
    -------
    SharesAnalysis
    """
    if price is not None and price not in panel.columns:
        price = None
    design = panel_design(panel, price=price)
    alts = design.alternatives
    sample, dropped = shares_sample(panel, alts)
    notes: list[str] = []
    errors: list[str] = []
    if cov_type is None:
        ct, kwds, reason = design.cluster_choice()
    else:
        ct, kwds = cov_type, ({"groups": "condition_id"} if cov_type == "cluster" else {})
        reason = f"{cov_type} (as asked)"
    rhs = checked_rhs(formula, panel, design) or _default_rhs_or_note(design, panel, errors)
    base = base or alts[-1]
    settings = {"price": design.price, "cov_type": ct, "cov_reason": reason, "rhs": rhs,
                "base": base, "tolerance": tolerance, "level": level, "n_boot": n_boot,
                "seed": seed}
    if sum(dropped.values()):
        notes.append(f"{sum(dropped.values())} of {len(panel)} rows are not used ("
                     + ", ".join(f"{v} {k}" for k, v in dropped.items() if v) + ").")
    g = sample.groupby(design.conditions or ["condition_id"], sort=True)
    by = {}
    for a in alts:
        by[f"belief_{a}"] = g[f"belief_{a}"].mean()
        by[f"share_{a}"] = g[f"choice_{a}"].mean()
    by_condition = pd.DataFrame(by)
    by_condition.insert(0, "runs", g.size())
    if "covered_mass" in sample:
        by_condition["covered_mass"] = g["covered_mass"].mean()
    results: dict[str, Any] = {}
    elasticities: dict[str, Any] = {}
    variables = _price_variables(design, sample)
    kw: dict[str, Any] = {"cov_type": ct}
    if kwds:
        kw["cov_kwds"] = dict(kwds)
    for m, prefix in (("belief", "belief_"), ("choice", "choice_")):
        cols = [f"{prefix}{a}" for a in alts]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = MultinomialFractionalLogit.from_formula(rhs, sample, shares=cols,
                                                                base=f"{prefix}{base}")
                res = model.fit(**kw)
            results[m] = res
            if variables:
                elasticities[m] = res.elasticities(variables)
        except Exception as exc:  # noqa: BLE001 - reported
            errors.append(f"the {m} model could not be fitted: {type(exc).__name__}: {exc}")
    predicted = None
    if design.price is not None and results:
        lo, hi = float(sample[design.price].min()), float(sample[design.price].max())
        cond = sample.groupby("condition_id", sort=True).first().reset_index()
        rows = []
        for m, res in results.items():
            for p in (lo, hi):
                frame = cond.copy()
                frame[design.price] = p
                pred = np.asarray(res.predict(frame), dtype=float).mean(axis=0)
                rows.append({"measure": m, design.price: p,
                             **{a: pred[i] for i, a in enumerate(alts)}})
        predicted = pd.DataFrame(rows)
    eff: dict[str, Efficiency] = {}
    labels = {cid: design.label(row) for cid, row in
              sample.groupby("condition_id", sort=True).first().iterrows()}
    for a in alts:
        try:
            eff[a] = efficiency(sample, belief=f"belief_{a}", choice=f"choice_{a}",
                                condition_labels=labels, tolerance=tolerance, level=level,
                                n_boot=n_boot, seed=seed)
        except ValueError as exc:
            errors.append(f"runs needed for {a} could not be computed: {exc}")
            break
    verdict = _verdict(design, alts, predicted, elasticities, level)
    return SharesAnalysis(panel, sample, dropped, design, rhs, by_condition, results,
                          elasticities, predicted, eff, verdict, notes, errors, settings)


def _verdict(design: PanelDesign, alts: list[str], predicted: pd.DataFrame | None,
             elasticities: dict[str, Any], level: float) -> str:
    if design.price is None or predicted is None or "belief" not in elasticities:
        return "No price variable: see the share models and the elasticities."
    price = design.price
    pb = predicted[predicted["measure"] == "belief"].set_index(price)
    lo, hi = pb.index.min(), pb.index.max()
    eff = elasticities["belief"]
    est, se = eff.estimate, eff.std_err
    l_ci, u_ci = eff.conf_int(1 - level)
    parts = []
    for a in alts:
        row = f"belief_{a}"
        e = float(est.loc[row, price]) if price in est.columns else math.nan
        lo_ci, hi_ci = float(l_ci.loc[row, price]), float(u_ci.loc[row, price])
        sig = lo_ci > 0 or hi_ci < 0
        parts.append(f"{a} {pb.loc[lo, a]:.1%} at {price} {lo:g} → {pb.loc[hi, a]:.1%} at {hi:g} "
                     f"({100 * (pb.loc[hi, a] - pb.loc[lo, a]):+.1f} points; elasticity "
                     f"{e:.3f}, {level:.0%} CI {lo_ci:.3f} to {hi_ci:.3f}, "
                     f"{'significant' if sig else 'not significant'})")
    return (f"Belief shares across the range of {price} (multinomial fractional logit, shares "
            "averaged over the conditions): " + "; ".join(parts) + ".")
