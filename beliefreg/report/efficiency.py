r"""The paper's efficiency criterion, defined so that it always means something.

The paper (arXiv 2512.23184) asks how many runs per condition bring an estimate within ±10% of
the ground truth with probability 0.95; the ground truth is the model's choice probability,
estimated from many runs (here: from all the panel's choices, the *target*). A relative band is
meaningful only around a quantity that is clearly away from 0, so :func:`efficiency` computes
it for

* the **demand level at each condition** (the share buying) and their **average**: always
  meaningful for a probability clearly above 0 (else an absolute band of ``abs_level``,
  stated);
* the **elasticity** of demand at the mean of the design and the **coefficient** of the price
  term: only when the target is significantly different from 0 (its 95% interval, from the
  run-to-run variance, excludes 0); otherwise the criterion *does not apply* and the report
  says so instead of printing a number.

Each measure's error is split into **bias** and **variance**. Every quantity here is (to first
order) a weighted sum of the condition means of the outcome,
:math:`\hat\theta - \theta \approx \sum_c w_c(\bar y_c - m_c)`, with weights from the
estimating equation (for a logit coefficient :math:`w_c = e_j' A^{-1} x_c`,
:math:`A = \sum_c \Lambda_c(1-\Lambda_c)x_c x_c'`; for a smooth function :math:`g(\beta)`,
:math:`w_c = \nabla g' A^{-1} x_c`). With :math:`V_c` the run-to-run covariance of (belief,
choice) at condition c,

* the variance of an estimate from R runs per condition is :math:`v_1 / R`,
  :math:`v_1 = \sum_c w_c^2 V_c`;
* the bias of belief is its all-runs estimate minus the target, with the standard error of
  that difference under the hypothesis that each choice is a draw from its belief
  (:math:`\sum_c [w_c^2 \overline{b(1-b)}_c + (w^b_c - w^{ch}_c)^2 V_{c,bb}] / n_c`). A bias
  significantly different from 0 after a Bonferroni correction over the quantities is tagged
  *significant*, otherwise *not detectable*; the tag describes the bias and changes no number.

The **normal approximation** of the runs needed for a bias :math:`b` is the smallest R with
:math:`\Phi((h-b)/s_R) - \Phi((-h-b)/s_R) \ge` ``level``, :math:`s_R = \sqrt{v_1/R}`,
:math:`h` the half-width of the band (none when :math:`|b| \ge h`). It is increasing in
:math:`|b|`, so the bias's interval :math:`\hat b \pm z\,s` (:math:`s` the bias's SE,
:math:`z` the Bonferroni-corrected quantile of the tag, so that the intervals of all the
quantities hold together with probability ``level`` and one accident among 16 prices is not
called *never*) gives the runs needed as an interval, from the smallest to the largest
:math:`|b|` in it. The report states what that interval allows:

* the whole interval inside :math:`(-h, h)`: the runs needed at the point bias :math:`\hat b`
  (never set to 0), with the range;
* the whole interval at or beyond :math:`\pm h`: no number of runs is enough, *never:
  precise but centred elsewhere*;
* the interval across the band's edge (which includes every :math:`|\hat b| \ge h` that is
  not clearly beyond it): *not determinable* — at least the runs of the smallest :math:`|b|`,
  and never if the bias is as large as the band, which the panel cannot rule out. Knowing the
  bias to within the band needs about the runs that choice itself needs, so a panel with fewer
  runs than that leaves belief's answer open, however few runs belief would need.

The **resampling** answer
(:func:`beliefreg.efficiency.runs_needed`, runs drawn without replacement from the panel) is
computed where the band applies and the estimator exists; it cannot go beyond the runs simulated.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..efficiency import LogitCoefficient, MeasureMean, RunsNeeded, runs_needed
from ..exceptions import SeparationWarning

__all__ = ["MeasureError", "Criterion", "Efficiency", "efficiency", "normal_runs_needed",
           "condition_covariances", "logit_weights", "ABS_LEVEL", "MAX_RUNS"]

#: Absolute half-width for a demand level whose target is not clearly above 0 (stated in the
#: report).
ABS_LEVEL = 0.05
#: The normal approximation searches R up to this many runs per condition.
MAX_RUNS = 10**7

MEASURES = ("belief", "choice")


@dataclass
class MeasureError:
    """How one measure estimates one quantity.

    Attributes
    ----------
    estimate : float
        The estimate from all the panel's runs.
    bias, bias_se : float
        ``estimate - target`` and its standard error (0 and 0 for choice, which defines the
        target).
    bias_significant : bool
        ``|bias| > z * bias_se`` with z the two-sided normal quantile at ``level`` after a
        Bonferroni correction over the quantities examined (so that among 16 prices and their
        average a sampling accident is not called a bias). A tag only: the runs needed use the
        bias and its interval whatever the tag.
    v1 : float
        Variance of the estimate from one run per condition (R runs: ``v1 / R``).
    runs_normal : int or None
        Normal approximation of the runs needed at the point bias; None unless it is
        determinable (:attr:`outcome` ``'runs'``): when the bias's interval reaches the band's
        edge, when no R is enough, or when the criterion does not apply.
    runs_normal_low, runs_normal_high : int or None
        The runs needed at the smallest and at the largest ``|bias|`` in the bias's interval
        (``bias ± z * bias_se``, z the Bonferroni-corrected quantile of
        :attr:`bias_significant`); None when that bias is as large as the band
        (no R is enough) or the criterion does not apply.
    outcome : {'runs', 'not determinable', 'never', 'n/a'}
        What the bias's interval allows (module docstring); ``'n/a'`` before the criterion is
        computed or when it does not apply.
    runs_resampling : int or None
        Resampling answer; None when not reached with the runs simulated or not computed.
    """

    estimate: float
    bias: float
    bias_se: float
    bias_significant: bool
    v1: float
    runs_normal: int | None = None
    runs_resampling: int | None = None
    runs_normal_low: int | None = None
    runs_normal_high: int | None = None
    outcome: str = "n/a"
    bias_interval: tuple[float, float] = (math.nan, math.nan)

    def set_runs(self, half_width: float, *, level: float, z: float,
                 max_runs: int = MAX_RUNS) -> None:
        """Fill :attr:`runs_normal`, its range and :attr:`outcome` for a band of
        ``half_width`` (see the module docstring)."""
        h, b, s = float(half_width), abs(float(self.bias)), max(float(self.bias_se), 0.0)
        if not (math.isfinite(h) and math.isfinite(b) and math.isfinite(s)):
            self.outcome = "n/a"
            return
        self.bias_interval = (self.bias - z * s, self.bias + z * s)
        lo_b, hi_b = max(b - z * s, 0.0), b + z * s
        kw = dict(level=level, max_runs=max_runs)
        self.runs_normal_low = normal_runs_needed(self.v1, h, bias=lo_b, **kw)
        self.runs_normal_high = normal_runs_needed(self.v1, h, bias=hi_b, **kw)
        if lo_b >= h:
            self.outcome, self.runs_normal = "never", None
        elif hi_b < h:
            self.outcome = "runs"
            self.runs_normal = normal_runs_needed(self.v1, h, bias=b, **kw)
        else:
            self.outcome, self.runs_normal = "not determinable", None

    def sd(self, runs: float) -> float:
        """Standard deviation of the estimate from ``runs`` runs per condition."""
        return math.sqrt(max(self.v1, 0.0) / runs)


@dataclass
class Criterion:
    """The runs-needed criterion for one quantity.

    Attributes
    ----------
    quantity : str
        e.g. ``'demand at price=20'``, ``'average demand'``, ``'elasticity at the mean'``,
        ``'coefficient of np.log(price)'``.
    kind : {'level', 'average', 'elasticity', 'coefficient'}
    target, target_se : float
        The all-choice estimate and its standard error (run-to-run variance).
    target_se_null : float
        The target's standard error with each condition's choice variance taken as
        :math:`E[b(1-b)] + \\operatorname{Var}(b)` (choices drawn from the beliefs), which is
        not 0 when every run of a condition chose the same (2 of 2 runs): used only to say
        whether the target is known well enough (:attr:`target_loose`).
    band : {'relative', 'absolute', 'none'}
        ``'none'``: the criterion does not apply (``reason`` says why).
    half_width : float
        Half-width of the band in the quantity's units (NaN for ``'none'``).
    reason : str
    measures : dict
        ``{'belief': MeasureError, 'choice': MeasureError}``.
    resampling : RunsNeeded or None
    """

    quantity: str
    kind: str
    target: float
    target_se: float
    band: str
    half_width: float
    reason: str
    measures: dict[str, MeasureError]
    resampling: RunsNeeded | None = None
    resampling_error: str | None = None
    tolerance: float = 0.10
    target_se_null: float = math.nan

    @property
    def applies(self) -> bool:
        return self.band != "none"

    @property
    def target_loose(self) -> bool:
        """The target's own 95% interval is wider than the band: the panel has fewer runs than
        choice needs, so the target is not within the band of the truth with probability 0.95
        and the belief's runs needed, measured against it, is uncertain."""
        return self.applies and 1.96 * self.target_uncertainty > self.half_width

    @property
    def target_uncertainty(self) -> float:
        """The larger of :attr:`target_se` and :attr:`target_se_null` (a condition whose runs
        all chose the same has a sample variance of 0, not a known target)."""
        return _larger_se(self.target_se, self.target_se_null)

    def band_text(self) -> str:
        if self.band == "relative":
            return f"±{self.tolerance:.0%} of the target (±{self.half_width:.3g})"
        if self.band == "absolute":
            return f"±{self.half_width:g} (absolute)"
        return "does not apply"

    def status(self, measure: str) -> str:
        """A short reading: ``'5 runs'``, ``'6 runs (5 to 8)'``, ``'not determinable: at
        least 3 runs or never (bias interval -0.1 to +0.5 reaches the band ±0.04)'``,
        ``'never: precise but centred elsewhere'``,
        ``'does not apply'`` (the rule is in the module docstring)."""
        if not self.applies:
            return "does not apply"
        e = self.measures[measure]
        if e.outcome == "never":
            return "never: precise but centred elsewhere"
        if e.outcome == "not determinable":
            low = ("more than " + runs_phrase(MAX_RUNS) if e.runs_normal_low is None
                   else "at least " + runs_phrase(e.runs_normal_low))
            return (f"not determinable: {low} or never (bias interval "
                    f"{e.bias_interval[0]:+.3g} to {e.bias_interval[1]:+.3g} reaches the band "
                    f"±{self.half_width:.3g})")
        if e.outcome == "runs" and e.runs_normal is not None:
            lo, hi = e.runs_normal_low, e.runs_normal_high
            spread = (f" ({lo} to {hi})" if lo is not None and hi is not None and lo != hi
                      else "")
            return runs_phrase(e.runs_normal) + spread
        if e.outcome == "runs":
            return "more than " + runs_phrase(MAX_RUNS)
        return "n/a"

    def row(self, measure: str) -> dict[str, Any]:
        e = self.measures[measure]
        avail = None if self.resampling is None else int(self.resampling.runs_available.min())
        return {"quantity": self.quantity, "kind": self.kind, "measure": measure,
                "target": self.target, "target_se": self.target_se, "band": self.band,
                "half_width": self.half_width, "estimate": e.estimate, "bias": e.bias,
                "bias_se": e.bias_se, "bias_significant": e.bias_significant,
                "sd_one_run": math.sqrt(max(e.v1, 0.0)), "one_run_variance": e.v1,
                "runs_normal": e.runs_normal, "runs_normal_low": e.runs_normal_low,
                "runs_normal_high": e.runs_normal_high, "outcome": e.outcome,
                "runs_resampling": e.runs_resampling,
                "runs_available": avail, "status": self.status(measure),
                "target_se_null": self.target_se_null,
                "target_looser_than_band": self.target_loose,
                "reason": self.reason}


@dataclass
class Efficiency:
    """Runs needed for every quantity (see :func:`efficiency`)."""

    criteria: list[Criterion]
    tolerance: float
    level: float
    runs_per_condition: float
    bias_z: float = math.nan
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """One row per (quantity, measure)."""
        rows = [c.row(m) for c in self.criteria for m in MEASURES]
        return pd.DataFrame(rows)

    @property
    def runs_text(self) -> str:
        """``'10 runs per condition'``, or ``'9.75 runs per condition on average'``."""
        r = self.runs_per_condition
        return (f"{r:g} runs per condition" if float(r).is_integer()
                else f"{r:.3g} runs per condition on average")

    def get(self, kind: str) -> list[Criterion]:
        return [c for c in self.criteria if c.kind == kind]


# ----------------------------------------------------------------------------- pieces
def runs_phrase(r: int) -> str:
    """``'1 run'``, ``'12 runs'``."""
    return f"{r} run{'s' if r != 1 else ''}"


def normal_runs_needed(v1: float, half_width: float, *, bias: float = 0.0,
                       level: float = 0.95, max_runs: int = MAX_RUNS) -> int | None:
    r"""Smallest R with :math:`P(|N(b, v_1/R)| \le h) \ge` ``level``.

    Returns None when :math:`|b| \ge h` (no number of runs is enough) or when the answer
    exceeds ``max_runs``; 1 when :math:`v_1 = 0` and :math:`|b| < h`.

    Examples
    --------
    >>> normal_runs_needed(0.346 ** 2, 0.28)          # unbiased: ceil(v1 (1.96 / h)^2)
    6
    >>> normal_runs_needed(0.01, 0.1, bias=0.12) is None
    True
    """
    if not (math.isfinite(v1) and math.isfinite(half_width) and math.isfinite(bias)):
        return None
    h, b = float(half_width), abs(float(bias))
    if h <= 0 or b >= h:
        return None
    if v1 <= 0:
        return 1

    def ok(r: int) -> bool:
        s = math.sqrt(v1 / r)
        return stats.norm.cdf((h - b) / s) - stats.norm.cdf((-h - b) / s) >= level - 1e-12

    if ok(1):
        return 1
    lo, hi = 1, 2
    while not ok(hi):
        lo, hi = hi, hi * 2
        if hi > max_runs:
            return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def condition_covariances(sample: pd.DataFrame, columns: tuple[str, str], *,
                          condition: str = "condition_id"
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Any]]:
    """Per condition: runs, means (C, 2) and run-to-run covariance (C, 2, 2) of two columns
    (belief first).

    Raises ValueError when a condition has fewer than 2 runs (no run-to-run variance).
    """
    ids = sorted(sample[condition].unique())
    n = np.empty(len(ids))
    means = np.empty((len(ids), 2))
    cov = np.empty((len(ids), 2, 2))
    groups = sample.groupby(condition, sort=True)
    for i, (cid, part) in enumerate(groups):
        y = part[list(columns)].to_numpy(dtype=float)
        n[i] = len(y)
        if len(y) < 2:
            raise ValueError(f"condition {cid} has {len(y)} run: the run-to-run variance needs "
                             "at least 2")
        means[i] = y.mean(axis=0)
        cov[i] = np.cov(y, rowvar=False, ddof=1)
    return n, means, cov, ids


def logit_weights(params: np.ndarray, exog_c: np.ndarray, gradient: np.ndarray,
                  runs: np.ndarray | None = None) -> np.ndarray:
    r"""Influence weights of a smooth function :math:`g` of a pooled logit's parameters on the
    condition means.

    The logit is fitted on every run (row) of the panel; with :math:`n_c` runs at condition
    :math:`c`, :math:`\hat\theta - \theta \approx A^{-1} \sum_c n_c x_c (\bar y_c -
    \Lambda_c)` with :math:`A = \sum_c n_c \Lambda_c(1-\Lambda_c) x_c x_c'`, so
    :math:`w_c = n_c \nabla g' A^{-1} x_c` and :math:`\operatorname{Var}(g(\hat\theta))
    \approx \sum_c w_c^2 \sigma_c^2 / n_c`. With equal runs (``runs=None``, the design the
    criterion asks about: R runs at every condition) the weights do not depend on R.

    Parameters
    ----------
    params : ndarray (k,)
    exog_c : ndarray (C, k)
        One row per condition.
    gradient : ndarray (k,)
        :math:`\nabla g` at ``params``.
    runs : ndarray (C,), optional
        Runs per condition in the panel (unequal runs change the weights).

    Returns
    -------
    ndarray (C,)
    """
    n = np.ones(len(exog_c)) if runs is None else np.asarray(runs, dtype=float)
    mu = 1.0 / (1.0 + np.exp(-(exog_c @ params)))
    a = (exog_c * (n * mu * (1.0 - mu))[:, None]).T @ exog_c
    return n * (exog_c @ np.linalg.solve(a, gradient))


def _split(w_b: np.ndarray, w_c: np.ndarray, n: np.ndarray, cov: np.ndarray,
           bernoulli: np.ndarray, p_b: np.ndarray, p_c: np.ndarray
           ) -> tuple[float, float, float, float, float]:
    r"""(v1 belief, v1 choice, var of the full-panel target, var of the full-panel difference
    under calibration, var of the full-panel target under calibration).

    ``w_b``, ``w_c`` are the weights with equal runs (the design the criterion asks about, whose
    one-run variance is :math:`v_1 = \sum_c w_c^2 \sigma_c^2`); ``p_b``, ``p_c`` those of the
    panel's own estimates (its runs per condition ``n``, which may differ by condition), whose
    variance is :math:`\sum_c p_c^2 \sigma_c^2 / n_c`.

    The difference's variance is computed under the null hypothesis that the choice is a
    draw from the belief (:math:`E[c \mid b] = b`): then :math:`\operatorname{Var}(c - b
    \mid b) = b(1-b)` and :math:`\operatorname{Cov}(c - b, b) = 0`, so
    :math:`\operatorname{Var}(w_b b - w_c c) = w_c^2 E[b(1-b)] + (w_b - w_c)^2
    \operatorname{Var}(b)`. This uses the beliefs' own :math:`b(1-b)` instead of the sample
    variance of rare choices, which understates it when a condition has few of them.
    """
    v1_b = float(np.sum(w_b ** 2 * cov[:, 0, 0]))
    v1_c = float(np.sum(w_c ** 2 * cov[:, 1, 1]))
    var_target = float(np.sum(p_c ** 2 * cov[:, 1, 1] / n))
    var_diff = float(np.sum((p_c ** 2 * bernoulli + (p_b - p_c) ** 2 * cov[:, 0, 0]) / n))
    var_target_null = float(np.sum(p_c ** 2 * (bernoulli + cov[:, 0, 0]) / n))
    return v1_b, v1_c, var_target, var_diff, var_target_null


def _larger_se(se: float, se_null: float) -> float:
    """The target's uncertainty: the larger of its sample SE and its SE under "choice is a
    draw from belief" (a sample variance of 0, every run alike, is not a known target)."""
    return max(se, se_null) if math.isfinite(se_null) else se


def _criterion(quantity: str, kind: str, est: dict[str, float], w: dict[str, np.ndarray],
               n: np.ndarray, cov: np.ndarray, bernoulli: np.ndarray, *, tolerance: float,
               level: float, z: float, z_bias: float, absolute_ok: bool) -> Criterion:
    p = w.get("panel") or w
    v1_b, v1_c, var_t, var_d, var_t0 = _split(w["belief"], w["choice"], n, cov, bernoulli,
                                      p["belief"], p["choice"])
    target = est["choice"]
    target_se = math.sqrt(max(var_t, 0.0))
    bias = est["belief"] - target
    bias_se = math.sqrt(max(var_d, 0.0))
    sig = abs(bias) > z_bias * bias_se + 1e-12
    errors = {"belief": MeasureError(est["belief"], bias, bias_se, bool(sig), v1_b),
              "choice": MeasureError(target, 0.0, 0.0, False, v1_c)}
    se_null = math.sqrt(max(var_t0, 0.0))
    se = _larger_se(target_se, se_null)  # the rule of Criterion.target_uncertainty
    clear = math.isfinite(target) and abs(target) > z * se and target != 0.0
    if clear:
        band, hw = "relative", tolerance * abs(target)
        reason = (f"the target {target:.4g} is {abs(target) / se:.1f} standard errors "
                  f"from 0" if se > 0 else f"the target {target:.4g} has no sampling "
                  "error")
    elif absolute_ok:
        band, hw = "absolute", ABS_LEVEL
        reason = (f"the target {target:.4g} is not clearly above 0 (SE {se:.3g}): an "
                  f"absolute band of ±{ABS_LEVEL:g} is used")
    else:
        band, hw = "none", math.nan
        reason = (f"the target {target:.4g} (SE {se:.3g}) is not significantly "
                  f"different from 0: a ±{tolerance:.0%} band around it is narrower than its "
                  "own uncertainty, so no number of runs answers the question")
    c = Criterion(quantity, kind, target, target_se, band, hw, reason, errors,
                  tolerance=tolerance, target_se_null=se_null)
    if c.applies:
        for e in errors.values():
            e.set_runs(hw, level=level, z=z_bias)
    return c


def _resample(c: Criterion, sample: pd.DataFrame, estimator: Any, *, n_boot: int, seed: int,
              level: float, belief: str, choice: str) -> None:
    if not c.applies or estimator is None:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SeparationWarning)
            res = runs_needed(sample, estimator, target=c.target,
                              tolerance=c.tolerance if c.band == "relative" else c.half_width,
                              relative=c.band == "relative", level=level, n_boot=n_boot,
                              seed=seed, belief=belief, choice=choice, alternative=1)
    except Exception as exc:  # noqa: BLE001 - reported; the normal approximation stands
        c.resampling_error = f"{type(exc).__name__}: {exc}"
        return
    c.resampling = res
    for m in MEASURES:
        c.measures[m].runs_resampling = res.runs.get(m)


def efficiency(sample: pd.DataFrame, *, belief: str, choice: str,
               condition_labels: dict[Any, str] | None = None,
               model_quantities: dict[str, dict[str, Any]] | None = None,
               tolerance: float = 0.10, level: float = 0.95, n_boot: int = 1000,
               seed: int = 0, resample_levels: bool = True) -> Efficiency:
    """Runs needed for the demand levels, their average and the model quantities.

    Parameters
    ----------
    sample : pandas.DataFrame
        One row per (condition, run) with ``condition_id``, ``run``, the belief column and a 0/1
        choice column.
    belief, choice : str
        Column names.
    condition_labels : dict, optional
        ``{condition_id: 'price=20'}`` for the level quantities.
    model_quantities : dict, optional
        ``{name: {'kind': 'coefficient' | 'elasticity', 'estimates': {measure: value},
        'weights': {measure: ndarray (C,), 'panel': {measure: ndarray (C,)}}, 'estimator':
        callable or None}}``, the weights as :func:`model_quantity_weights` gives them.
    tolerance, level : float
        The paper's ±10% and 0.95.
    n_boot, seed : int
        Resampling.

    Returns
    -------
    Efficiency
    """
    n, means, cov, ids = condition_covariances(sample, (belief, choice))
    b = sample[belief].to_numpy(dtype=float)
    bernoulli = (pd.Series(b * (1.0 - b), index=sample.index)
                 .groupby(sample["condition_id"]).mean().sort_index().to_numpy())
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    n_tests = len(ids) + 1 + len(model_quantities or {})
    z_bias = float(stats.norm.ppf(1.0 - (1.0 - level) / (2.0 * n_tests)))
    kw = dict(tolerance=tolerance, level=level, z=z, z_bias=z_bias)
    labels = condition_labels or {c: f"condition {c}" for c in ids}
    criteria: list[Criterion] = []
    C = len(ids)
    for i, cid in enumerate(ids):
        w = np.zeros(C)
        w[i] = 1.0
        c = _criterion(f"demand at {labels[cid]}", "level",
                       {"belief": means[i, 0], "choice": means[i, 1]},
                       {"belief": w, "choice": w}, n, cov, bernoulli, absolute_ok=True, **kw)
        if resample_levels:
            _resample(c, sample, MeasureMean(condition=cid), n_boot=n_boot, seed=seed,
                      level=level, belief=belief, choice=choice)
        criteria.append(c)
    w = np.full(C, 1.0 / C)
    avg = _criterion("average demand", "average",
                     {"belief": float(means[:, 0].mean()), "choice": float(means[:, 1].mean())},
                     {"belief": w, "choice": w}, n, cov, bernoulli, absolute_ok=True, **kw)
    _resample(avg, sample, MeasureMean(), n_boot=n_boot, seed=seed, level=level, belief=belief,
              choice=choice)
    criteria.append(avg)
    for name, spec in (model_quantities or {}).items():
        c = _criterion(name, spec["kind"], spec["estimates"], spec["weights"], n, cov,
                       bernoulli, absolute_ok=False, **kw)
        _resample(c, sample, spec.get("estimator"), n_boot=n_boot, seed=seed, level=level,
                  belief=belief, choice=choice)
        criteria.append(c)
    return Efficiency(criteria, tolerance, level, float(n.mean()), bias_z=z_bias)


def model_quantity_weights(results: dict[str, Any], exog_c: np.ndarray, gradient: Any,
                           runs: np.ndarray | None = None) -> dict[str, Any]:
    """Influence weights of each measure's fit: ``gradient(params) -> ndarray (k,)``.

    ``{measure: weights with equal runs}``, and under ``'panel'`` the same for the panel's runs
    per condition ``runs`` (C,) when given (see :func:`logit_weights`).
    """
    out: dict[str, Any] = {}
    panel: dict[str, np.ndarray] = {}
    for m, res in results.items():
        params = res.params.to_numpy(dtype=float)
        g = np.asarray(gradient(params), dtype=float)
        out[m] = logit_weights(params, exog_c, g)
        if runs is not None:
            panel[m] = logit_weights(params, exog_c, g, runs)
    if runs is not None:
        out["panel"] = panel
    return out


def coefficient_estimator(rhs: str, term: str) -> LogitCoefficient:
    """The resampling estimator of one coefficient of the demand model."""
    import patsy

    return LogitCoefficient(f"~ {rhs}", term=term, eval_env=patsy.EvalEnvironment([{"np": np}]))
