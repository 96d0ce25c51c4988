r"""The demo's analysis of a demand panel: belief and choice side by side.

:func:`analyse` takes a panel in the simulator's schema (one row per price and run, with
``price``, ``condition_id``, ``run``, ``choice`` and ``belief_yes``) and computes

* the **belief model**: a fractional logit of the purchase belief on log price (Bernoulli
  QMLE), and the **choice model**: a logit of the sampled purchase (0/1) on log price, both
  with standard errors clustered by price (the condition);
* the price elasticity of demand at the mean price, with its delta-method SE, from each;
* the standard errors from a single run (the paper: 0.264 from beliefs, 138 from choices);
* the runs needed (:func:`beliefreg.efficiency.runs_needed`) for the price coefficient (the
  paper's criterion) and for the mean purchase probability, within ±10% of the all-choice
  estimate with probability 0.95, by resampling runs; and the normal approximation of the same
  number, which extrapolates beyond the runs simulated (:func:`normal_runs_needed`);
* a plain statement of what the model's demand did (:func:`describe_demand`).

Every step that can fail on real data (a separated choice logit, too few runs, a single price)
is recorded in ``notes`` and ``errors`` instead of stopping the analysis.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import SeparationWarning
from ..models.binary import FractionalLogit, Logit
from ..results import BinaryResults
from ..tables import ComparisonTable, compare
from ..efficiency import MeasureMean, RunsNeeded, price_coefficient, runs_needed

__all__ = ["MeasureFit", "RunsComparison", "SingleRun", "DemandAnalysis", "analyse",
           "analysis_sample", "normal_runs_needed", "one_run_variance", "describe_demand",
           "MEASURES", "LABELS"]

MEASURES = ("belief", "choice")
#: Column names in tables and files.
LABELS = {"belief": "belief (fractional logit)", "choice": "choice (logit)"}
#: The outcome column of each measure in the analysis sample.
OUTCOME = {"belief": "belief_yes", "choice": "buy"}
#: The paper's numbers (GPT-4o, Pampers, 16 prices).
PAPER = {"runs_belief": 5, "runs_choice": 93, "se_belief": 0.264, "se_choice": 138.09}
#: A change in the fitted purchase probability across the whole price range smaller than this
#: is called flat, whatever its statistical significance.
FLAT = 0.05


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
        The price elasticity at the mean price (one row, delta-method SE).
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

    @property
    def slope(self) -> float:
        """The price coefficient (NaN when the fit failed)."""
        if self.results is None:
            return math.nan
        return float(self.results.params.iloc[1])


@dataclass
class SingleRun:
    """Standard errors of the price coefficient from one run at each price.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per run: ``belief_se`` (fractional logit, HC0), ``choice_se`` (logit, inverse
        information, as the paper's) and ``choice_separated``.
    """

    table: pd.DataFrame

    def median(self, measure: str) -> float:
        """Median SE over the runs (for choice: over the runs whose logit is not separated)."""
        t = self.table
        if measure == "choice":
            t = t[~t["choice_separated"]]
        return float(t[f"{measure}_se"].median()) if len(t) else math.nan

    @property
    def n_separated(self) -> int:
        return int(self.table["choice_separated"].sum())


@dataclass
class RunsComparison:
    """Runs needed for one quantity, by resampling and by the normal approximation.

    Attributes
    ----------
    quantity : str
        ``'price coefficient'`` or ``'mean purchase probability'``.
    result : RunsNeeded or None
        The resampling answer (None when it could not be computed: ``error``).
    normal : dict
        ``{measure: runs}`` from :func:`normal_runs_needed` (None where unavailable).
    one_run_variance : dict
        ``{measure: v1}``, the variance of the estimate from one run per price.
    target_se : float
        The sampling SE of the target (the all-choice estimate), from the choice's ``v1``.
    meaningful : bool
        The target is more than two of its SEs from 0 (else a ±10% band around it is narrower
        than its own uncertainty).
    """

    quantity: str
    result: RunsNeeded | None = None
    normal: dict[str, int | None] = field(default_factory=dict)
    one_run_variance: dict[str, float] = field(default_factory=dict)
    target_se: float = math.nan
    meaningful: bool = True
    error: str | None = None


@dataclass
class DemandAnalysis:
    """Everything the demo reports (see :func:`analyse`)."""

    panel: pd.DataFrame
    sample: pd.DataFrame
    dropped: dict[str, int]
    by_price: pd.DataFrame
    fits: dict[str, MeasureFit]
    table: ComparisonTable | None
    single_run: SingleRun | None
    runs: list[RunsComparison]
    verdict: str
    notes: list[str]
    errors: list[str]
    settings: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Every step ran (separation and flat demand are findings, not failures)."""
        return not self.errors

    def estimates(self) -> pd.DataFrame:
        """Long table: one row per (measure, quantity, term) with estimate, SE and CI."""
        rows = []
        for m, fit in self.fits.items():
            if fit.results is not None:
                ci = fit.results.conf_int()
                for term in fit.results.params.index:
                    rows.append({"measure": m, "quantity": "coefficient", "term": term,
                                 "estimate": fit.results.params[term],
                                 "std_err": fit.results.bse[term],
                                 "ci_lower": ci.loc[term].iloc[0],
                                 "ci_upper": ci.loc[term].iloc[1],
                                 "cov_type": fit.results._cov_label(),
                                 "nobs": int(fit.results.nobs),
                                 "separated": fit.separated})
            if fit.elasticity is not None:
                e = fit.elasticity.iloc[0]
                rows.append({"measure": m, "quantity": "elasticity at mean price",
                             "term": self.settings["price"], "estimate": e["estimate"],
                             "std_err": e["std_err"], "ci_lower": e["ci_lower"],
                             "ci_upper": e["ci_upper"],
                             "cov_type": fit.results._cov_label() if fit.results else "",
                             "nobs": int(fit.results.nobs) if fit.results else 0,
                             "separated": fit.separated})
        return pd.DataFrame(rows, columns=["measure", "quantity", "term", "estimate", "std_err",
                                           "ci_lower", "ci_upper", "cov_type", "nobs",
                                           "separated"])

    def runs_table(self) -> pd.DataFrame:
        """One row per (quantity, measure): runs needed by resampling and by the normal
        approximation."""
        rows = []
        for rc in self.runs:
            for m in MEASURES:
                res = rc.result
                reached = None if res is None else res.runs.get(m)
                lo, hi = (None, None) if res is None else res.runs_range.get(m, (None, None))
                rows.append({
                    "quantity": rc.quantity, "measure": m,
                    "target": math.nan if res is None else res.target,
                    "runs_available": None if res is None else int(res.runs_available.min()),
                    "runs_needed": reached,
                    "mc_range_low": lo, "mc_range_high": hi,
                    "normal_approximation": rc.normal.get(m),
                    "one_run_variance": rc.one_run_variance.get(m, math.nan),
                    "target_meaningful": rc.meaningful,
                })
        return pd.DataFrame(rows)


def analysis_sample(panel: pd.DataFrame, *, alternative: str = "yes"
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
        # e.g. 'pivot_out_of_range': the sampled first token ended the answer
        flags = panel.loc[no_belief, "belief_flags"].fillna("") if "belief_flags" in panel \
            else pd.Series("", index=panel.index[no_belief])
        for flag, n in flags.replace("", "unscored").value_counts().sort_index().items():
            dropped[f"no belief ({flag})"] = int(n)
    dropped["answer neither Yes nor No"] = int(no_choice.sum())
    if low_mass.any():
        dropped["low mass on Yes/No (< 0.5)"] = int(low_mass.sum())
    return sample.reset_index(drop=True), dropped


def _by_price(sample: pd.DataFrame, price: str) -> pd.DataFrame:
    g = sample.groupby(price, sort=True)
    out = pd.DataFrame({
        "runs": g.size(),
        "mean_belief": g["belief_yes"].mean(),
        "sd_belief": g["belief_yes"].std(ddof=1),
        "mean_choice": g["buy"].mean(),
        "sd_choice": g["buy"].std(ddof=1),
    })
    if "covered_mass" in sample:
        out["covered_mass"] = g["covered_mass"].mean()
    return out


def _fit(measure: str, sample: pd.DataFrame, price: str, cov_type: str,
         grid: np.ndarray) -> MeasureFit:
    formula = f"{OUTCOME[measure]} ~ np.log({price})"
    fit = MeasureFit(measure, formula)
    model_class = FractionalLogit if measure == "belief" else Logit
    kw: dict[str, Any] = {"cov_type": cov_type}
    if cov_type == "cluster":
        kw["cov_kwds"] = {"groups": "condition_id"}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit.results = model_class.from_formula(formula, sample).fit(**kw)
            fit.separated = any(issubclass(w.category, SeparationWarning) for w in caught)
            fit.elasticity = fit.results.elasticity(price, at="mean")
            fit.curve = fit.results.demand_curve(price, grid)
    except Exception as exc:  # noqa: BLE001 - the demo reports the failure and goes on
        fit.error = f"{type(exc).__name__}: {exc}"
    return fit


def _single_runs(sample: pd.DataFrame, price: str) -> SingleRun | None:
    """SEs of the price coefficient from each single run (one answer per price)."""
    n_prices = sample[price].nunique()
    if n_prices < 3:
        return None
    rows = []
    for run, part in sample.groupby("run", sort=True):
        if part[price].nunique() < 3:
            continue
        row: dict[str, Any] = {"run": run, "prices": part[price].nunique()}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                rb = FractionalLogit.from_formula(f"belief_yes ~ np.log({price})", part).fit()
                row["belief_se"] = float(rb.bse.iloc[1])
            except Exception:  # noqa: BLE001
                row["belief_se"] = math.nan
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                rc = Logit.from_formula(f"buy ~ np.log({price})", part).fit()
                row["choice_se"] = float(rc.bse.iloc[1])
            except Exception:  # noqa: BLE001 - e.g. every answer the same
                row["choice_se"] = math.inf
            row["choice_separated"] = bool(
                any(issubclass(w.category, SeparationWarning) for w in caught)
                or part["buy"].nunique() < 2)
        rows.append(row)
    if not rows:
        return None
    return SingleRun(pd.DataFrame(rows).set_index("run"))


def one_run_variance(sample: pd.DataFrame, outcome: str, *, quantity: str, price: str,
                     params: np.ndarray | None = None) -> float:
    r"""The variance of an estimate from one run per condition, given the conditions.

    Both estimates are functions of the condition means :math:`\bar y_c` of the outcome, and
    the runs are independent given the condition, so with R runs per condition the variance
    is :math:`v_1 / R` (the delta method), with :math:`s_c^2` the run-to-run variance of the
    outcome at condition c (ddof 1):

    * the mean over C conditions: :math:`v_1 = \sum_c s_c^2 / C^2`;
    * a logit coefficient on :math:`x_c = (1, \log p_c)`:
      :math:`v_1 = [A^{-1} M A^{-1}]_{jj}` with :math:`A = \sum_c \Lambda_c(1-\Lambda_c)
      x_c x_c'` and :math:`M = \sum_c s_c^2 x_c x_c'` (the sandwich of the estimating
      equation :math:`\sum_c x_c(\bar y_c - \Lambda(x_c'b)) = 0`).

    Parameters
    ----------
    sample : pandas.DataFrame
        One row per (condition, run), with ``condition_id``.
    outcome : str
        The belief or the 0/1 choice column.
    quantity : {'mean', 'coefficient'}
    price : str
    params : array, optional
        The logit parameters (intercept, slope) at which :math:`\Lambda_c` is evaluated
        (required for ``'coefficient'``).
    """
    g = sample.groupby("condition_id", sort=True)
    var = g[outcome].var(ddof=1).to_numpy(dtype=float)
    if np.isnan(var).any():
        raise ValueError("one_run_variance needs at least 2 runs at every condition")
    if quantity == "mean":
        return float(var.sum() / len(var) ** 2)
    x = np.column_stack([np.ones(len(var)), np.log(g[price].first().to_numpy(dtype=float))])
    mu = 1.0 / (1.0 + np.exp(-(x @ np.asarray(params, dtype=float))))
    a = (x * (mu * (1.0 - mu))[:, None]).T @ x
    m = (x * var[:, None]).T @ x
    a_inv = np.linalg.inv(a)
    return float((a_inv @ m @ a_inv)[1, 1])


def normal_runs_needed(v1: float, target: float, *, tolerance: float = 0.10,
                       level: float = 0.95) -> int | None:
    r"""Runs per condition for :math:`P(|\hat\theta_R - \theta| \le \tau|\theta|) \ge`
    ``level`` when :math:`\hat\theta_R \sim N(\theta, v_1 / R)`.

    :math:`R = \lceil v_1 (z / (\tau |\theta|))^2 \rceil` with :math:`z` the
    :math:`(1+level)/2` normal quantile; at least 1 (a belief that does not vary from run to
    run, :math:`v_1 = 0`, needs one run). None when the target is 0 or not finite.

    Examples
    --------
    >>> normal_runs_needed(0.346 ** 2, -2.8)   # the synthetic respondent's belief, kappa = 18
    6
    """
    if not (math.isfinite(v1) and math.isfinite(target)) or target == 0:
        return None
    z = stats.norm.ppf(0.5 + level / 2.0)
    return max(1, math.ceil(v1 * (z / (tolerance * abs(target))) ** 2 - 1e-9))


def _runs(sample: pd.DataFrame, quantity: str, price: str, fits: dict[str, MeasureFit], *,
          n_boot: int, seed: int, tolerance: float, level: float) -> RunsComparison:
    rc = RunsComparison(quantity)
    estimator = price_coefficient(price) if quantity == "price coefficient" else MeasureMean()
    kind = "coefficient" if quantity == "price coefficient" else "mean"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SeparationWarning)
            rc.result = runs_needed(sample, estimator, tolerance=tolerance, level=level,
                                    n_boot=n_boot, seed=seed, choice="buy")
    except Exception as exc:  # noqa: BLE001 - reported, the demo goes on
        rc.error = f"{type(exc).__name__}: {exc}"
        return rc
    counts = sample.groupby("condition_id").size()
    for m in MEASURES:
        fit = fits[m]
        if kind == "coefficient" and (fit.results is None or fit.separated):
            continue
        params = None if kind == "mean" else fit.results.params.to_numpy()
        try:
            v1 = one_run_variance(sample, OUTCOME[m], quantity=kind, price=price, params=params)
        except (ValueError, np.linalg.LinAlgError):
            continue
        rc.one_run_variance[m] = v1
        rc.normal[m] = normal_runs_needed(v1, rc.result.target, tolerance=tolerance,
                                          level=level)
    if "choice" in rc.one_run_variance:
        rc.target_se = math.sqrt(rc.one_run_variance["choice"] / counts.mean())
        rc.meaningful = abs(rc.result.target) > 2.0 * rc.target_se
    return rc


def describe_demand(analysis_fits: dict[str, MeasureFit], by_price: pd.DataFrame,
                    price: str) -> str:
    """A plain statement of what the model's demand did, with the numbers."""
    fit = analysis_fits["belief"] if analysis_fits["belief"].results is not None \
        else analysis_fits["choice"]
    p_lo, p_hi = by_price.index.min(), by_price.index.max()
    raw = (f"Mean belief per {price}: {by_price['mean_belief'].iloc[0]:.3f} at {p_lo:g} and "
           f"{by_price['mean_belief'].iloc[-1]:.3f} at {p_hi:g} (range over all prices "
           f"{by_price['mean_belief'].min():.3f} to {by_price['mean_belief'].max():.3f}); "
           f"share of Yes answers {by_price['mean_choice'].iloc[0]:.2f} and "
           f"{by_price['mean_choice'].iloc[-1]:.2f}.")
    if fit.results is None:
        return "Neither demand model could be fitted. " + raw
    curve = fit.results.demand_curve(price, [p_lo, p_hi])
    d_lo, d_hi = float(curve["estimate"].iloc[0]), float(curve["estimate"].iloc[1])
    change = d_hi - d_lo
    b = fit.slope
    lo, hi = fit.results.conf_int().iloc[1]
    sig = lo > 0 or hi < 0
    coef = (f"price coefficient {b:.3f} (95% CI {lo:.3f} to {hi:.3f}, "
            f"{'excludes' if sig else 'includes'} 0)")
    fitted = (f"the fitted {fit.measure} model's purchase probability goes from {d_lo:.3f} at "
              f"{p_lo:g} to {d_hi:.3f} at {p_hi:g}")
    if abs(change) < FLAT:
        head = (f"Demand is essentially flat: {fitted}, a change of {100 * change:+.1f} "
                f"percentage points over the whole price range; {coef}"
                + (", statistically different from 0 but economically negligible." if sig
                   else "."))
    elif change < 0:
        head = f"Demand falls with price: {fitted}; {coef}."
    else:
        head = (f"Demand RISES with price, which no consumer does: {fitted}; {coef}.")
    return head + " " + raw


def analyse(panel: pd.DataFrame, *, price: str = "price", cov_type: str = "cluster",
            n_boot: int = 1000, seed: int = 0, tolerance: float = 0.10,
            level: float = 0.95) -> DemandAnalysis:
    """Fit the belief and the choice demand models and compare them (see the module docs).

    Parameters
    ----------
    panel : pandas.DataFrame
        The simulator's panel (one draw: each (condition, run) once).
    price : str
        The price column.
    cov_type : str
        Covariance of the two demand models (default clustered by ``condition_id``).
    n_boot, seed, tolerance, level
        Passed to :func:`~beliefreg.efficiency.runs_needed`.

    Returns
    -------
    DemandAnalysis
    """
    sample, dropped = analysis_sample(panel)
    notes: list[str] = []
    errors: list[str] = []
    settings = {"price": price, "cov_type": cov_type, "n_boot": n_boot, "seed": seed,
                "tolerance": tolerance, "level": level}
    n_lost = sum(dropped.values())
    if n_lost:
        why = ", ".join(f"{v} {k}" for k, v in dropped.items() if v)
        notes.append(f"{n_lost} of {len(panel)} rows are not used ({why}); both models use the "
                     f"same {len(sample)} rows.")
    if not len(sample):
        errors.append("no row has both a belief and a Yes/No answer: nothing to estimate")
        empty = pd.DataFrame(columns=["runs", "mean_belief", "sd_belief", "mean_choice",
                                      "sd_choice"])
        fits = {m: MeasureFit(m, "", error="no usable rows") for m in MEASURES}
        return DemandAnalysis(panel, sample, dropped, empty, fits, None, None, [],
                              "Nothing could be estimated: no usable rows.", notes, errors,
                              settings)
    by_price = _by_price(sample, price)
    prices = by_price.index.to_numpy(dtype=float)
    grid = np.linspace(prices.min(), prices.max(), 61)
    fits = {m: _fit(m, sample, price, cov_type, grid) for m in MEASURES}
    for m, fit in fits.items():
        if fit.error:
            errors.append(f"the {LABELS[m]} could not be fitted: {fit.error}")
    if fits["choice"].separated:
        notes.append("The logit of choice is separated (the sampled answers are perfectly "
                     "predicted by price): its MLE does not exist, and its estimates and "
                     "standard errors are where the iterations stopped, not estimates.")
    done = {LABELS[m]: f.results for m, f in fits.items() if f.results is not None}
    table = compare(done) if done else None

    single = _single_runs(sample, price)
    runs: list[RunsComparison] = []
    for quantity in ("price coefficient", "mean purchase probability"):
        rc = _runs(sample, quantity, price, fits, n_boot=n_boot, seed=seed,
                   tolerance=tolerance, level=level)
        runs.append(rc)
        if rc.error:
            errors.append(f"runs needed for the {quantity} could not be computed: {rc.error}")
            continue
        n_min = int(rc.result.runs_available.min())
        at_end = [m for m, r in rc.result.runs.items() if r is not None and r == n_min]
        late = [m for m, r in rc.result.runs.items() if r is not None and 1 < r < n_min
                and r > 0.1 * n_min]
        if at_end:
            notes.append(
                f"Runs needed for the {quantity}: {' and '.join(at_end)} reached the level only "
                f"at R = {n_min}, all the runs available (at the price with the fewest), where "
                f"a resample is (nearly) the whole panel; read it as 'more than {n_min - 1}' "
                "and see the normal approximation.")
        if late:
            notes.append(
                f"Runs needed for the {quantity}: {' and '.join(late)} needed more than a tenth "
                f"of the {n_min} runs available (at the price with the fewest); resamples drawn "
                "without replacement from so few runs overlap, which makes the answer "
                "optimistic (simulate more runs).")
        if not rc.meaningful:
            notes.append(
                f"The target for the {quantity} (the all-choice estimate, "
                f"{rc.result.target:.4g}) is within two of its standard errors "
                f"({rc.target_se:.3g}) of 0: a ±{tolerance:.0%} band around it is narrower than "
                "its own uncertainty, so the runs needed for this quantity say little here.")
    verdict = describe_demand(fits, by_price, price)
    return DemandAnalysis(panel=panel, sample=sample, dropped=dropped, by_price=by_price,
                          fits=fits, table=table, single_run=single, runs=runs,
                          verdict=verdict, notes=notes, errors=errors, settings=settings)
