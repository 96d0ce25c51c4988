r"""How many runs per condition does each measure need? (``runs_needed``)

For R = 1, 2, ... the panel is resampled: R runs per condition, drawn without replacement from
the runs available; the estimator is applied to the resample, once with belief and once with
choice as the outcome (the same runs for both). The probability that the estimate lies within
the tolerance of the target is the share of resamples for which it does; the runs needed is the
smallest R at which that share reaches ``level``. This is the paper's efficiency comparison
(arXiv 2512.23184: about 5 runs from beliefs against 93 from choices for the price coefficient,
within 10% at 95%).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataError, SeparationWarning
from .estimators import BatchFunction, ConditionLayout, Estimator
from .panel import MEASURES, Measure, MeasurePanel, measure_panel
from .resample import draw_orderings, run_blocks

__all__ = ["RunsNeeded", "runs_needed"]


@dataclass
class RunsNeeded:
    r"""The result of :func:`runs_needed`.

    Attributes
    ----------
    runs : dict
        ``{'belief': R, 'choice': R}``: the smallest R with P(within) >= ``level``, or None if
        no R tried reached it.
    runs_range : dict
        ``{measure: (low, high)}``, the Monte Carlo uncertainty of ``runs``: the smallest R
        whose share is within two Monte Carlo standard errors of ``level`` or above
        (:math:`P_R \ge level - 2 s`), and the smallest R where it is clearly above
        (:math:`P_R \ge \min(level + 2 s, 1)`), with :math:`s = \sqrt{level(1-level)/n_{boot}}`.
        Either is None if no R tried got there. Where the curve is flat (many runs needed)
        a small Monte Carlo error in :math:`P_R` moves the answer by many runs: raise
        ``n_boot`` to narrow the range.
    curves : pandas.DataFrame
        One row per (measure, R): ``measure, runs, p_within`` (the share of resamples within
        the tolerance), ``mc_se`` (its Monte Carlo standard error,
        :math:`\sqrt{p(1-p)/n_{boot}}`), ``n_undefined`` (resamples whose estimate does not
        exist, e.g. a separated logit; counted as outside the tolerance).
    target : float
    target_source : str
        Where the target came from.
    estimates : dict
        ``{measure: ndarray (n_boot, len(R tried))}``, the estimate of every resample (for
        undefined ones: where the iterations stopped, or NaN if the fit failed).
    undefined : dict
        ``{measure: ndarray of bool}`` of the same shape.
    runs_available : pandas.Series
        Runs available per condition.
    """

    runs: dict[str, int | None]
    runs_range: dict[str, tuple[int | None, int | None]]
    curves: pd.DataFrame
    target: float
    target_source: str
    tolerance: float
    relative: bool
    level: float
    n_boot: int
    seed: Any
    replace: bool
    estimator: str
    vectorized: bool
    runs_available: pd.Series
    estimates: dict[str, np.ndarray] = field(repr=False)
    undefined: dict[str, np.ndarray] = field(repr=False)

    @property
    def runs_tried(self) -> np.ndarray:
        """The values of R evaluated (1 .. the last one)."""
        return np.sort(self.curves["runs"].unique())

    @property
    def ratio(self) -> float | None:
        """Runs needed by choice over runs needed by belief (None unless both reached)."""
        b, c = self.runs.get("belief"), self.runs.get("choice")
        return None if b is None or c is None else c / b

    def curve_table(self) -> pd.DataFrame:
        """``p_within`` with one column per measure, indexed by R (for plotting)."""
        return self.curves.pivot(index="runs", columns="measure", values="p_within")

    def _band(self) -> str:
        return (f"±{self.tolerance:.0%}" if self.relative else f"±{self.tolerance:g}")

    def summary(self) -> str:
        """A plain-text report."""
        n_min, n_max = int(self.runs_available.min()), int(self.runs_available.max())
        avail = f"{n_min}" if n_min == n_max else f"{n_min} to {n_max}"
        tried = self.runs_tried
        lines = [
            f"Runs needed: estimate within {self._band()} of the target with probability "
            f">= {self.level:g}",
            f"Estimator: {self.estimator}",
            f"Target: {self.target:.6g} ({self.target_source})",
            f"Resampling: {self.n_boot} resamples of R runs per condition, "
            f"{'with' if self.replace else 'without'} replacement from {avail} runs at each of "
            f"{len(self.runs_available)} conditions; R = 1..{int(tried.max())}; seed {self.seed}",
            "",
            f"{'measure':<8} {'runs needed':>11}  {'MC range':>10}  {'P(within) there':>15}  "
            f"{'undefined at R=1':>16}",
        ]
        for m, r in self.runs.items():
            cur = self.curves[self.curves["measure"] == m].set_index("runs")
            und = f"{int(cur.loc[1, 'n_undefined'])}/{self.n_boot}"
            lo, hi = self.runs_range[m]
            rng = f"{'?' if lo is None else lo}-{'?' if hi is None else hi}"
            if r is None:
                best = cur["p_within"].max()
                lines.append(f"{m:<8} {'> ' + str(int(tried.max())):>11}  {rng:>10}  "
                             f"{best:>15.3f}  {und:>16}   (not reached; best shown)")
            else:
                there = f"{cur.loc[r, 'p_within']:.3f} ({cur.loc[r, 'mc_se']:.3f})"
                lines.append(f"{m:<8} {r:>11d}  {rng:>10}  {there:>15}  {und:>16}")
        lines.append(f"(MC range: where P(within) first comes within 2 Monte Carlo s.e. of "
                     f"{self.level:g}, and where it is first 2 s.e. above; '?': not within the "
                     "R tried)")
        if self.ratio is not None:
            lines += ["", f"choice needs {self.ratio:.1f}x the runs of belief"]
        reached = [r for r in self.runs.values() if r is not None]
        if reached and not self.replace and max(reached) > 0.1 * n_min:
            r = max(reached)
            lines += ["", f"Note: R = {r} is {r / n_min:.0%} of the {n_min} runs available at "
                      "the smallest condition. Resamples drawn without replacement from a "
                      "finite panel overlap, which shrinks their spread (for a mean by the "
                      f"factor (N-R)/(N-1) = {(n_min - r) / (n_min - 1):.2f} in variance): the "
                      "runs needed is optimistic. Simulate more runs, or pass replace=True."]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (f"RunsNeeded(runs={self.runs}, target={self.target:.6g}, "
                f"tolerance={self.tolerance:g}, relative={self.relative}, level={self.level:g}, "
                f"n_boot={self.n_boot})")


def _check_options(tolerance: float, relative: bool, level: float, n_boot: int,
                   max_runs: int | None, measures: Sequence[str]) -> None:
    if not (isinstance(tolerance, numbers.Real) and math.isfinite(tolerance)) or tolerance <= 0:
        raise ValueError(f"tolerance must be a positive number, got {tolerance!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if max_runs is not None and (int(max_runs) != max_runs or max_runs < 1):
        raise ValueError(f"max_runs must be a positive integer or None, got {max_runs!r}")
    bad = [m for m in measures if m not in MEASURES]
    if bad or not measures or len(set(measures)) != len(measures):
        raise ValueError(f"measures must be distinct names among {MEASURES}, got {measures!r}")


def _call(estimator: Estimator, data: pd.DataFrame, measure: Measure,
          other: dict[tuple[type, str], warnings.WarningMessage]) -> tuple[float, bool]:
    """Call the estimator; ``(value, undefined)``. Separation makes the value undefined."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = estimator(data, measure)
    separated = False
    for w in caught:
        if issubclass(w.category, SeparationWarning):
            separated = True
        else:
            other.setdefault((w.category, str(w.message)), w)
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"the estimator must return a number, got {type(value).__name__}")
    return value, separated or not math.isfinite(value)


def _default_target(estimator: Estimator, mp: MeasurePanel) -> float:
    other: dict = {}
    value, undefined = _call(estimator, mp.data, mp.measures["choice"], other)
    if undefined:
        raise DataError(f"the default target, the estimate from all {len(mp.data)} choices, "
                        f"does not exist (separation or a non-finite value: {value}); pass "
                        "target= explicitly")
    return value


def _layout(mp: MeasurePanel) -> ConditionLayout:
    codes = np.empty(len(mp.data), dtype=np.intp)
    for j, r in enumerate(mp.rows):
        codes[r] = j
    return ConditionLayout(mp.data, codes, mp.condition_frame(), mp.condition_ids, mp.condition)


def runs_needed(panel: pd.DataFrame, estimator: Estimator, *, target: float | None = None,
                tolerance: float = 0.10, relative: bool = True, level: float = 0.95,
                n_boot: int = 1000, seed: Any = 0, max_runs: int | None = None,
                measures: Sequence[str] = MEASURES, stop_early: bool = True,
                replace: bool = False, vectorize: bool = True,
                condition: str = "condition_id", run: str = "run", belief: str | None = None,
                choice: str = "choice", alternative: Any = "yes") -> RunsNeeded:
    r"""The smallest number of runs per condition for which the estimate is close to the target.

    For R = 1, 2, ..., draw ``n_boot`` resamples of R runs per condition (without replacement
    from the runs available), apply ``estimator`` to each with belief and with choice as the
    outcome, and estimate

    .. math::

       P_R = \Pr\big(|\hat\theta_R - \theta| \le \tau |\theta|\big)
       \quad(\text{or } \le \tau \text{ if not relative})

    by the share of resamples for which it holds. The runs needed is the smallest R with
    :math:`P_R \ge` ``level``.

    Parameters
    ----------
    panel : pandas.DataFrame
        One row per (condition, run) (see :func:`~beliefreg.efficiency.panel.measure_panel`).
    estimator : callable
        ``estimator(panel, measure) -> float``, e.g.
        :func:`~beliefreg.efficiency.price_coefficient` or
        :class:`~beliefreg.efficiency.MeasureMean`.
    target : float, optional
        The value :math:`\theta` to be close to. Default: the estimate from all the panel's
        choices (the paper's ground truth, "model choice" from many runs).
    tolerance : float
        :math:`\tau > 0`: relative (0.10 is ±10% of the target) or absolute.
    relative : bool
    level : float
        The required probability, in (0, 1).
    n_boot : int
        Resamples per R. The Monte Carlo standard error of :math:`P_R` is
        :math:`\sqrt{P_R(1-P_R)/n_{boot}}` (about 0.007 at 0.95 with the default 1000).
    seed : int, numpy Generator or None
        Default 0, so the result is reproducible.
    max_runs : int, optional
        The largest R tried; default the fewest runs available at any condition.
    measures : sequence of {'belief', 'choice'}
    stop_early : bool
        Stop increasing R once every measure is clearly above ``level`` (two Monte Carlo
        standard errors, see ``RunsNeeded.runs_range``), at the end of the block of R values
        in progress (:mod:`beliefreg.efficiency.resample`).
    replace : bool
        Draw the R runs with replacement (a bootstrap of the sampling distribution of an
        R-run study) instead of without replacement (subsampling the panel, as the paper).
    vectorize : bool
        Use the estimator's vectorised form if it has one (same numbers, much faster).
    condition, run, belief, choice, alternative
        The panel's columns (``belief`` defaults to ``f"belief_{alternative}"``; ``choice``
        holds alternative ids or 0/1).

    Returns
    -------
    RunsNeeded

    Raises
    ------
    ValueError
        ``tolerance <= 0``, a relative tolerance around a target of 0, ``level`` outside
        (0, 1), bad ``n_boot``/``max_runs``, or ``max_runs`` above the runs available.
    DataError
        Unknown columns, fewer than 2 runs at some condition (they are named), or a default
        target that does not exist (the all-choice logit is separated).

    Notes
    -----
    **Undefined estimates.** A resample whose estimate does not exist counts as *outside* the
    tolerance: the estimator emitted :class:`~beliefreg.SeparationWarning` (a separated logit,
    whose MLE is infinite) or returned a non-finite value. ``curves['n_undefined']`` reports
    how many there were at each R. This is why choice needs many runs with few prices: a
    single run of 0/1 answers is often separated.

    **A finite panel.** Resampling R of N runs without replacement understates the spread of
    an R-run estimate when R is not small relative to N (for a mean the variance is scaled by
    (N - R)/(N - 1)), so the runs needed is then optimistic; the summary says so when R
    exceeds N/10. ``replace=True`` avoids this, at the price of treating the panel's runs as the
    population.

    **Speed.** The ready-made estimators have a vectorised form (all resamples of a block of R
    values are fitted at once); a plain callable is called ``2 x n_boot`` times per R, so
    lower ``n_boot`` for slow estimators.

    Examples
    --------
    >>> from beliefreg.efficiency import SyntheticRespondent, price_coefficient, runs_needed
    >>> panel = SyntheticRespondent(10.6, -2.8, precision=18).panel(
    ...     range(20, 100, 5), runs=400, seed=0)
    >>> res = runs_needed(panel, price_coefficient(), n_boot=400, seed=1)
    >>> res.runs["belief"], res.runs["choice"]
    (6, 77)
    """
    measures = tuple(measures)
    _check_options(tolerance, relative, level, n_boot, max_runs, measures)
    if not callable(estimator):
        raise TypeError(f"estimator must be callable (panel, measure) -> float, got "
                        f"{type(estimator).__name__}")
    mp = measure_panel(panel, condition=condition, run=run, belief=belief, choice=choice,
                       alternative=alternative)
    mp.check_min_runs(2)
    available = mp.runs_per_condition
    if max_runs is None:
        r_max = int(available.min())
    else:
        r_max = int(max_runs)
        if r_max > available.min():
            few = available[available < r_max]
            raise ValueError(f"max_runs={r_max} exceeds the runs available at "
                             f"{len(few)} condition(s), e.g. {dict(list(few.items())[:5])}")

    if target is None:
        target = _default_target(estimator, mp)
        source = f"the estimate from all {len(mp.data)} runs' choices"
    else:
        target = float(target)
        if not math.isfinite(target):
            raise ValueError(f"target must be finite, got {target}")
        source = "given"
    if relative and target == 0.0:
        raise ValueError("a relative tolerance around a target of 0 is empty; pass "
                         "relative=False for an absolute tolerance")
    half_width = tolerance * abs(target) if relative else tolerance

    batch: dict[str, BatchFunction | None] = {m: None for m in measures}
    if vectorize and hasattr(estimator, "batch"):
        layout = _layout(mp)
        batch = {m: estimator.batch(layout, mp.measures[m]) for m in measures}
    vectorized = all(batch[m] is not None for m in measures)

    se_level = math.sqrt(level * (1.0 - level) / n_boot)
    clearly_above = min(level + 2.0 * se_level, 1.0)
    rng = np.random.default_rng(seed)
    values = {m: mp.values(m) for m in measures}
    est_blocks: dict[str, list[np.ndarray]] = {m: [] for m in measures}
    und_blocks: dict[str, list[np.ndarray]] = {m: [] for m in measures}
    reached = {m: False for m in measures}
    other_warnings: dict = {}
    for lo, hi in run_blocks(r_max):
        orderings = draw_orderings([len(r) for r in mp.rows], n_boot, hi, rng, replace=replace)
        for m in measures:
            if batch[m] is not None:
                est, und = _block_batch(batch[m], values[m], mp.rows, orderings, lo, hi)
            else:
                est, und = _block_calls(estimator, mp, mp.measures[m], orderings, lo, hi,
                                        other_warnings)
            est_blocks[m].append(est)
            und_blocks[m].append(und)
            within = ~und & (np.abs(est - target) <= half_width)
            reached[m] = reached[m] or bool(
                (within.mean(axis=0) >= clearly_above - 1e-12).any())
        if stop_early and all(reached.values()):
            break
    for (category, message), w in other_warnings.items():
        warnings.warn_explicit(w.message, category, w.filename, w.lineno)

    runs_tried = np.arange(1, sum(e.shape[1] for e in est_blocks[measures[0]]) + 1)
    estimates = {m: np.concatenate(est_blocks[m], axis=1) for m in measures}
    undefined = {m: np.concatenate(und_blocks[m], axis=1) for m in measures}
    frames, runs, runs_range = [], {}, {}
    for m in measures:
        within = ~undefined[m] & (np.abs(estimates[m] - target) <= half_width)
        count = within.sum(axis=0)
        p = count / n_boot
        runs[m] = _first_reaching(runs_tried, p, level)
        runs_range[m] = (_first_reaching(runs_tried, p, level - 2.0 * se_level),
                         _first_reaching(runs_tried, p, clearly_above))
        frames.append(pd.DataFrame({"measure": m, "runs": runs_tried, "p_within": p,
                                    "mc_se": np.sqrt(p * (1.0 - p) / n_boot),
                                    "n_undefined": undefined[m].sum(axis=0)}))
    return RunsNeeded(runs=runs, runs_range=runs_range,
                      curves=pd.concat(frames, ignore_index=True), target=target,
                      target_source=source, tolerance=float(tolerance), relative=relative,
                      level=float(level), n_boot=int(n_boot), seed=seed, replace=replace,
                      estimator=repr(estimator), vectorized=vectorized,
                      runs_available=available, estimates=estimates, undefined=undefined)


def _first_reaching(runs_tried: np.ndarray, p: np.ndarray, threshold: float) -> int | None:
    ok = np.flatnonzero(p >= threshold - 1e-12)
    return int(runs_tried[ok[0]]) if len(ok) else None


def _block_batch(fn: BatchFunction, values: np.ndarray, rows: list[np.ndarray],
                 orderings: list[np.ndarray], lo: int, hi: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Estimates for R = lo..hi from the condition means of each resample."""
    n_boot = orderings[0].shape[0]
    r = np.arange(lo, hi + 1)
    means = np.empty((n_boot, len(r), len(rows)))
    for c, (rows_c, order_c) in enumerate(zip(rows, orderings)):
        sums = np.cumsum(values[rows_c][order_c], axis=1)
        means[:, :, c] = sums[:, lo - 1:hi] / r
    est, und = fn(means.reshape(-1, len(rows)))
    return (np.asarray(est, float).reshape(n_boot, len(r)),
            np.asarray(und, bool).reshape(n_boot, len(r)))


def _block_calls(estimator: Estimator, mp: MeasurePanel, measure: Measure,
                 orderings: list[np.ndarray], lo: int, hi: int,
                 other: dict) -> tuple[np.ndarray, np.ndarray]:
    """Estimates for R = lo..hi, one estimator call per resample."""
    n_boot = orderings[0].shape[0]
    est = np.empty((n_boot, hi - lo + 1))
    und = np.empty((n_boot, hi - lo + 1), dtype=bool)
    for i, r in enumerate(range(lo, hi + 1)):
        for b in range(n_boot):
            pos = np.concatenate([rows_c[order_c[b, :r]]
                                  for rows_c, order_c in zip(mp.rows, orderings)])
            est[b, i], und[b, i] = _call(estimator, mp.data.iloc[pos], measure, other)
    return est, und
