r"""The analysis of a two-alternative panel: belief and choice side by side.

:func:`analyse` takes any panel the simulator produced with two alternatives (one row per
condition and run) and computes

* the **belief model**: a fractional logit of the belief in the first (or the named)
  alternative on the condition variables (Bernoulli QMLE), and the **choice model**: a logit
  of the sampled choice (0/1) on the same right-hand side, with the covariance chosen from
  the design (clustered by condition when there are several runs per condition; t(G-1)
  critical values when the clusters are few);
* the price elasticity at the mean of the design, with its delta-method SE, from each;
* the standard errors from a single run;
* the paper's efficiency criterion, defined so that it always means something
  (:mod:`beliefreg.report.efficiency`): runs needed for the demand level at each condition and
  their average, for the elasticity and the price coefficient only when their target is
  significantly different from 0; each measure's error split into bias and variance;
* a verdict that reads sign, size (percentage points across the price range, prices named) and
  significance, the covered mass per condition and a price-blind check
  (:mod:`beliefreg.report.verdict`).

Every step that can fail on real data (a separated choice logit, too few runs, a single
condition) is recorded in ``notes`` and ``errors`` instead of stopping the analysis.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import SeparationWarning
from ..models.binary import FractionalLogit, Logit
from ..results import BinaryResults
from ..tables import ComparisonTable, compare
from .design import PanelDesign, _default_rhs_or_note, checked_rhs, panel_design
from .efficiency import Efficiency, coefficient_estimator, efficiency, model_quantity_weights
from .verdict import PriceBlind, Verdict, describe_demand, price_blind_check

__all__ = ["MeasureFit", "SingleRun", "DemandAnalysis", "BinaryAnalysis", "analyse",
           "analysis_sample", "MEASURES", "LABELS", "PAPER", "elasticity_at_mean"]

MEASURES = ("belief", "choice")
#: Column names in tables and files.
LABELS = {"belief": "belief (fractional logit)", "choice": "choice (logit)"}
#: The paper's numbers (GPT-4o, Pampers, 16 prices).
PAPER = {"runs_belief": 5, "runs_choice": 93, "se_belief": 0.264, "se_choice": 138.09}


@dataclass
class MeasureFit:
    """One demand model.

    Attributes
    ----------
    measure : {'belief', 'choice'}
    formula : str
    results : BinaryResults or None
        None when the fit failed (``error`` says why).
    separated : bool
        The choice logit is (quasi-)separated: the MLE does not exist, its SEs mean nothing.
    elasticity : pandas.DataFrame or None
        The price elasticity at the mean of the design (one row, delta-method SE).
    curve : pandas.DataFrame or None
        The fitted demand over a price grid with its 95% band (``demand_curve``).
    error : str or None
    """

    measure: str
    formula: str
    results: BinaryResults | None = None
    separated: bool = False
    elasticity: pd.DataFrame | None = None
    curve: pd.DataFrame | None = None
    error: str | None = None


@dataclass
class SingleRun:
    """Standard errors of the price coefficient from one run at each condition.

    ``table``: one row per run: ``belief_se`` (fractional logit, HC0), ``choice_se`` (logit,
    inverse information, as the paper's) and ``choice_separated``.
    """

    table: pd.DataFrame

    def median(self, measure: str) -> float:
        t = self.table
        if measure == "choice":
            t = t[~t["choice_separated"]]
        return float(t[f"{measure}_se"].median()) if len(t) else math.nan

    @property
    def n_separated(self) -> int:
        return int(self.table["choice_separated"].sum())


@dataclass
class BinaryAnalysis:
    """Everything the report says about a two-alternative panel (see :func:`analyse`)."""

    panel: pd.DataFrame
    sample: pd.DataFrame
    dropped: dict[str, int]
    design: PanelDesign | None
    rhs: str
    by_condition: pd.DataFrame
    fits: dict[str, MeasureFit]
    table: ComparisonTable | None
    single_run: SingleRun | None
    efficiency: Efficiency | None
    verdict: Verdict | None
    price_blind: PriceBlind | None
    notes: list[str]
    errors: list[str]
    settings: dict[str, Any]
    kind: str = "binary"
    probe: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every step ran (separation and flat demand are findings, not failures)."""
        return not self.errors

    @property
    def by_price(self) -> pd.DataFrame:
        """``by_condition`` (the demo's name)."""
        return self.by_condition

    @property
    def verdict_text(self) -> str:
        return self.verdict.text if self.verdict is not None else "Nothing could be estimated."

    def estimates(self) -> pd.DataFrame:
        """Long table: one row per (measure, quantity, term) with estimate, SE and CI."""
        rows = []
        for m, fit in self.fits.items():
            res = fit.results
            if res is None:
                continue
            ci = res.conf_int()
            for term in res.params.index:
                rows.append({"measure": m, "quantity": "coefficient", "term": term,
                             "estimate": res.params[term], "std_err": res.bse[term],
                             "ci_lower": ci.loc[term].iloc[0], "ci_upper": ci.loc[term].iloc[1],
                             "cov_type": res._cov_label(), "nobs": int(res.nobs),
                             "separated": fit.separated})
            if fit.elasticity is not None:
                e = fit.elasticity.iloc[0]
                rows.append({"measure": m, "quantity": "elasticity at the mean",
                             "term": self.settings["price"], "estimate": e["estimate"],
                             "std_err": e["std_err"], "ci_lower": e["ci_lower"],
                             "ci_upper": e["ci_upper"], "cov_type": res._cov_label(),
                             "nobs": int(res.nobs), "separated": fit.separated})
        return pd.DataFrame(rows, columns=["measure", "quantity", "term", "estimate", "std_err",
                                           "ci_lower", "ci_upper", "cov_type", "nobs",
                                           "separated"])

    def runs_table(self) -> pd.DataFrame:
        """One row per (quantity, measure) of the efficiency criterion."""
        if self.efficiency is None:
            return pd.DataFrame()
        return self.efficiency.table()


#: The demo's name for the analysis.
DemandAnalysis = BinaryAnalysis


def analysis_sample(panel: pd.DataFrame, *, alternative: str = "yes",
                    alternatives: list[str] | None = None
                    ) -> tuple[pd.DataFrame, dict[str, int]]:
    """The rows both models use, with a 0/1 ``buy`` column; and why the others were dropped.

    A row is used when :func:`beliefreg.simulation.recommended_rows` keeps it: its request
    succeeded, its belief exists, its sampled answer is one of the alternatives (the base model
    sometimes samples another token: its belief is then defined but its choice is not) and the
    alternatives carry at least half the probability at the pivot (not ``low_mass``).
    """
    from ..simulation.panel import recommended_rows

    belief = f"belief_{alternative}"
    failed = panel["error"].notna() if "error" in panel else pd.Series(False, panel.index)
    no_belief = ~failed & panel[belief].isna()
    valid = panel["choice_valid"].astype(bool) if "choice_valid" in panel \
        else panel["choice"].notna()
    no_choice = ~failed & ~no_belief & ~valid
    keep = recommended_rows(panel)
    low_mass = ~(failed | no_belief | no_choice) & ~keep
    sample = panel.loc[keep].copy()
    sample["buy"] = (sample["choice"] == alternative).astype(int)
    dropped = {"failed request": int(failed.sum())}
    if no_belief.any():
        flags = panel.loc[no_belief, "belief_flags"].fillna("") if "belief_flags" in panel \
            else pd.Series("", index=panel.index[no_belief])
        for flag, n in flags.replace("", "unscored").value_counts().sort_index().items():
            dropped[f"no belief ({flag})"] = int(n)
    names = " nor ".join(a.capitalize() for a in (alternatives or ["yes", "no"]))
    dropped[f"answer neither {names}"] = int(no_choice.sum())
    if low_mass.any():
        dropped[f"low mass on {'/'.join(a.capitalize() for a in (alternatives or ['yes', 'no']))}"
                " (< 0.5)"] = int(low_mass.sum())
    return sample.reset_index(drop=True), dropped


def _by_condition(sample: pd.DataFrame, design: PanelDesign, belief: str) -> pd.DataFrame:
    keys = design.conditions or ["condition_id"]
    g = sample.groupby(keys, sort=True)
    out = pd.DataFrame({
        "runs": g.size(),
        "mean_belief": g[belief].mean(),
        "sd_belief": g[belief].std(ddof=1),
        "mean_choice": g["buy"].mean(),
        "sd_choice": g["buy"].std(ddof=1),
    })
    if "covered_mass" in sample:
        out["covered_mass"] = g["covered_mass"].mean()
        out["min_covered_mass"] = g["covered_mass"].min()
    return out


def _accepts_use_t(model_class: type) -> bool:
    try:
        return "use_t" in inspect.signature(model_class.fit).parameters
    except (TypeError, ValueError):
        return False


def _fit(measure: str, sample: pd.DataFrame, outcome: str, rhs: str, cov: tuple[str, dict],
         few: bool, price: str | None, grid: np.ndarray | None) -> MeasureFit:
    formula = f"{outcome} ~ {rhs}"
    fit = MeasureFit(measure, formula)
    model_class = FractionalLogit if measure == "belief" else Logit
    kw: dict[str, Any] = {"cov_type": cov[0]}
    if cov[1]:
        kw["cov_kwds"] = dict(cov[1])
    if few and _accepts_use_t(model_class):
        kw["use_t"] = True
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit.results = model_class.from_formula(formula, sample).fit(**kw)
            fit.separated = any(issubclass(w.category, SeparationWarning) for w in caught)
            if price is not None and not fit.separated:  # no MLE: no elasticity either
                fit.elasticity = fit.results.elasticity(price, at="mean")
                fit.curve = fit.results.demand_curve(price, grid)
    except Exception as exc:  # noqa: BLE001 - the report records the failure and goes on
        fit.error = f"{type(exc).__name__}: {exc}"
    return fit


def _single_runs(sample: pd.DataFrame, belief: str, rhs: str, term: str | None
                 ) -> SingleRun | None:
    """SEs of the price coefficient from each single run (one answer per condition)."""
    if term is None or sample["condition_id"].nunique() < 3:
        return None
    rows = []
    for run, part in sample.groupby("run", sort=True):
        if part["condition_id"].nunique() < 3:
            continue
        row: dict[str, Any] = {"run": run, "conditions": part["condition_id"].nunique()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                rb = FractionalLogit.from_formula(f"{belief} ~ {rhs}", part).fit()
                row["belief_se"] = float(rb.bse[term])
            except Exception:  # noqa: BLE001
                row["belief_se"] = math.nan
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                rc = Logit.from_formula(f"buy ~ {rhs}", part).fit()
                row["choice_se"] = float(rc.bse[term])
            except Exception:  # noqa: BLE001 - e.g. every answer the same
                row["choice_se"] = math.inf
            row["choice_separated"] = bool(
                any(issubclass(w.category, SeparationWarning) for w in caught)
                or part["buy"].nunique() < 2)
        rows.append(row)
    if not rows:
        return None
    return SingleRun(pd.DataFrame(rows).set_index("run"))


def price_term(results: BinaryResults, price: str | None) -> str | None:
    """The coefficient of the price: ``np.log(price)`` or ``price`` (None when neither)."""
    if price is None:
        return None
    names = list(results.params.index)
    for t in (f"np.log({price})", price):
        if t in names:
            return t
    return None


def _mean_frame(sample: pd.DataFrame, design: PanelDesign) -> pd.DataFrame:
    row = {}
    for v in design.conditions:
        col = sample[v]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            row[v] = float(col.mean())
        else:
            row[v] = col.mode().iloc[0]
    return pd.DataFrame([row])


def elasticity_at_mean(results: BinaryResults, frame: pd.DataFrame, price: str,
                       h: float = 1e-5) -> tuple[Any, Any]:
    r"""The logit's price elasticity at one design point, as a function of the parameters.

    :math:`e(\beta) = (1 - \Lambda(x_0'\beta))\, \partial(x'\beta)/\partial \log p`, the
    derivative by a central difference of the rebuilt design (so ``np.log(price)``, powers and
    interactions are handled). Returns ``(e, gradient)``, functions of ``params``.
    """
    vmap = results._variable_map()
    x0 = vmap.build(frame)[0]
    up, down = frame.copy(), frame.copy()
    up[price] = up[price] * (1 + h)
    down[price] = down[price] * (1 - h)
    d = (vmap.build(up)[0] - vmap.build(down)[0]) / math.log((1 + h) / (1 - h))

    def value(b: np.ndarray) -> float:
        lam = 1.0 / (1.0 + math.exp(-float(x0 @ b)))
        return (1.0 - lam) * float(d @ b)

    def gradient(b: np.ndarray) -> np.ndarray:
        lam = 1.0 / (1.0 + math.exp(-float(x0 @ b)))
        return -lam * (1.0 - lam) * float(d @ b) * x0 + (1.0 - lam) * d

    return value, gradient


def _model_quantities(fits: dict[str, MeasureFit], sample: pd.DataFrame, design: PanelDesign,
                      rhs: str) -> dict[str, dict[str, Any]]:
    if any(f.results is None or f.separated for f in fits.values()):
        return {}
    res = {m: f.results for m, f in fits.items()}
    term = price_term(res["belief"], design.price)
    if term is None:
        return {}
    cond = sample.groupby("condition_id", sort=True).first()
    runs = sample.groupby("condition_id", sort=True).size().to_numpy(dtype=float)
    exog_c = res["belief"]._variable_map().build(cond.reset_index())
    out: dict[str, dict[str, Any]] = {}
    names = list(res["belief"].params.index)
    j = names.index(term)
    e_j = np.zeros(len(names))
    e_j[j] = 1.0
    value, gradient = elasticity_at_mean(res["belief"], _mean_frame(sample, design),
                                         design.price)
    out["elasticity at the mean"] = {
        "kind": "elasticity",
        "estimates": {m: value(r.params.to_numpy(dtype=float)) for m, r in res.items()},
        "weights": model_quantity_weights(res, exog_c, gradient, runs),
        "estimator": None}
    out[f"coefficient of {term}"] = {
        "kind": "coefficient",
        "estimates": {m: float(r.params[term]) for m, r in res.items()},
        "weights": model_quantity_weights(res, exog_c, lambda b: e_j, runs),
        "estimator": coefficient_estimator(rhs, term)}
    return out


def analyse(panel: pd.DataFrame, *, formula: str | None = None, price: str | None = "price",
            alternative: str | None = None, cov_type: str | None = None, n_boot: int = 1000,
            seed: int = 0, tolerance: float = 0.10, level: float = 0.95,
            probe: Any = None) -> BinaryAnalysis:
    """Fit the belief and the choice models of a two-alternative panel and compare them.

    Parameters
    ----------
    panel : pandas.DataFrame
        A panel from :func:`beliefreg.simulate` (one draw: each (condition, run) once).
    formula : str, optional
        Right-hand side of both models (``'~ np.log(price) + C(organic)'``; an outcome on the
        left is ignored: each model uses its own). Default from the design
        (:func:`~beliefreg.report.design.default_rhs`).
    price : str or None
        The price variable (named in the verdict, the elasticity and the criterion); ignored
        when it is not a condition variable of the panel.
    alternative : str, optional
        The alternative whose belief and choice are modelled (default ``'yes'`` if present,
        else the first).
    cov_type : str, optional
        ``'cluster'`` (by ``condition_id``), ``'HC0'``, ``'HC1'``; default chosen from the
        design (:meth:`PanelDesign.cluster_choice`).
    n_boot, seed, tolerance, level
        The efficiency criterion (:func:`beliefreg.report.efficiency.efficiency`).
    probe : PriceBlindProbe, optional
        A direct price-blind check of the next-token distribution (the built-in study runs
        one on the local backend), shown with the verdict.

    Returns
    -------
    BinaryAnalysis

    Raises
    ------
    DataError
        Not a simulator panel, fewer than two alternatives, or ``price`` not a condition
        variable.
    """
    from ..exceptions import DataError

    if price is not None and price not in panel.columns:
        price = None
    design = panel_design(panel, price=price)
    if not design.binary:
        raise DataError(f"analyse() is for two alternatives; the panel has "
                        f"{design.alternatives}: use beliefreg.report.report()")
    alt = alternative or ("yes" if "yes" in design.alternatives else design.alternatives[0])
    if alt not in design.alternatives:
        raise DataError(f"alternative {alt!r} is not among {design.alternatives}")
    belief = f"belief_{alt}"
    sample, dropped = analysis_sample(panel, alternative=alt, alternatives=design.alternatives)
    notes: list[str] = []
    errors: list[str] = []
    if cov_type is None:
        ct, kwds, cov_reason = design.cluster_choice()
    else:
        ct = cov_type
        kwds = {"groups": "condition_id"} if cov_type == "cluster" else {}
        cov_reason = f"{cov_type} (as asked)"
    few = ct == "cluster" and design.n_conditions < 42
    rhs = checked_rhs(formula, panel, design) or _default_rhs_or_note(design, panel, errors)
    settings = {"price": design.price, "alternative": alt, "belief": belief,
                "cov_type": ct, "cov_reason": cov_reason, "few_clusters": few,
                "n_boot": n_boot, "seed": seed, "tolerance": tolerance, "level": level,
                "rhs": rhs, "formula_given": formula is not None}
    n_lost = sum(dropped.values())
    if n_lost:
        why = ", ".join(f"{v} {k}" for k, v in dropped.items() if v)
        notes.append(f"{n_lost} of {len(panel)} rows are not used ({why}); both models use the "
                     f"same {len(sample)} rows.")
    if not len(sample):
        errors.append("no row has both a belief and a valid answer: nothing to estimate")
        fits = {m: MeasureFit(m, "", error="no usable rows") for m in MEASURES}
        return BinaryAnalysis(panel, sample, dropped, design, rhs,
                              pd.DataFrame(columns=["runs", "mean_belief", "sd_belief",
                                                    "mean_choice", "sd_choice"]),
                              fits, None, None, None, None, None, notes, errors, settings,
                              probe=probe)
    by_condition = _by_condition(sample, design, belief)
    grid = None
    if design.price is not None:
        prices = sample[design.price].to_numpy(dtype=float)
        grid = np.linspace(prices.min(), prices.max(), 31)
    outcome = {"belief": belief, "choice": "buy"}
    fits = {m: _fit(m, sample, outcome[m], rhs, (ct, kwds), few, design.price, grid)
            for m in MEASURES}
    for m, fit in fits.items():
        if fit.error:
            errors.append(f"the {LABELS[m]} could not be fitted: {fit.error}")
    if fits["choice"].separated:
        notes.append("The logit of choice is separated (the sampled answers are perfectly "
                     "predicted by the regressors): its MLE does not exist, and its "
                     "coefficients are where the iterations stopped, not estimates (no standard "
                     "errors, no elasticity). The efficiency criterion therefore has no rows "
                     "for the elasticity and the price coefficient: their target, the "
                     "all-choice estimate, does not exist; simulate more runs per condition.")
    if few and not (fits["belief"].results is not None
                    and getattr(fits["belief"].results, "use_t", False)):
        notes.append(f"{design.n_conditions} clusters are few: the intervals printed by the "
                     "models use normal critical values, which under-cover with so few "
                     "clusters (measured 0.91 for a nominal 0.95 with 16); the verdict uses "
                     f"t({design.n_conditions - 1}) critical values.")
    done = {LABELS[m]: f.results for m, f in fits.items() if f.results is not None}
    table = compare(done) if done else None
    term = price_term(fits["belief"].results, design.price) \
        if fits["belief"].results is not None else None
    single = _single_runs(sample, belief, rhs, term)

    eff = None
    labels = {cid: design.label(row) for cid, row in
              sample.groupby("condition_id", sort=True).first().iterrows()}
    try:
        eff = efficiency(sample, belief=belief, choice="buy", condition_labels=labels,
                         model_quantities=_model_quantities(fits, sample, design, rhs),
                         tolerance=tolerance, level=level, n_boot=n_boot, seed=seed)
    except (ValueError, np.linalg.LinAlgError) as exc:
        errors.append(f"the runs needed could not be computed: {exc}")
    verdict = describe_demand(fits, sample, design, by_condition, belief=belief, few=few,
                              level=level)
    blind = None
    try:
        blind = price_blind_check(sample, design, belief)
    except Exception as exc:  # noqa: BLE001 - a check, reported
        notes.append(f"The price-blind check could not be computed: {exc}")
    return BinaryAnalysis(panel=panel, sample=sample, dropped=dropped, design=design, rhs=rhs,
                          by_condition=by_condition, fits=fits, table=table,
                          single_run=single, efficiency=eff, verdict=verdict,
                          price_blind=blind, notes=notes, errors=errors, settings=settings,
                          probe=probe)
