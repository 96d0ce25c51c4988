"""Belief against choice: how many runs each measure needs (arXiv 2512.23184).

* :func:`runs_needed` — the smallest number of runs per condition for which an estimate falls
  within a tolerance of the target with a given probability, for belief and for choice, with
  the curves of that probability against the number of runs.
* :func:`compare_measures` — belief and choice models side by side: estimates, standard errors,
  variance ratios.
* Estimators for :func:`runs_needed`: :func:`price_coefficient` / :class:`LogitCoefficient`
  (fractional logit of belief, logit of choice) and :class:`MeasureMean`; any callable
  ``(panel, measure) -> float`` works.
* :class:`SyntheticRespondent` — a synthetic respondent with known demand for Monte Carlo
  studies; it is not a language model.

Panels follow the simulator's schema: one row per (condition, run), with ``condition_id``,
``run``, ``belief_<alternative>`` and ``choice`` (the chosen alternative's id); every column
name is a parameter (:func:`~beliefreg.efficiency.panel.measure_panel`).
"""

from .compare import MeasureComparison, compare_measures
from .estimators import BatchEstimator, Estimator, LogitCoefficient, MeasureMean, price_coefficient
from .panel import Measure, measure_panel
from .runs import RunsNeeded, runs_needed
from .synthetic import SyntheticRespondent

__all__ = [
    "runs_needed",
    "RunsNeeded",
    "compare_measures",
    "MeasureComparison",
    "Measure",
    "Estimator",
    "BatchEstimator",
    "LogitCoefficient",
    "price_coefficient",
    "MeasureMean",
    "SyntheticRespondent",
    "measure_panel",
]
