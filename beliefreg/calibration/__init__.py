r"""Calibrate to people: valid inference about humans from a human sample plus LLM predictions.

Model belief describes the model, not people. With a (small) sample of human answers and the
LLM's prediction (belief) for the same questions, plus any number of further simulated rows,
the estimators here give parameters of the *human* model that stay consistent however wrong the
LLM is, and are more precise than the human rows alone when the LLM is informative.

* :func:`calibrate` — PPI++ (prediction-powered inference with power tuning; Angelopoulos,
  Duchi and Zrnic 2023) or DSL (design-based supervised learning; Egami, Hinck, Stewart and
  Wei 2023) for :class:`~beliefreg.Logit`, :class:`~beliefreg.FractionalLogit`,
  :class:`~beliefreg.FractionalProbit` and :class:`~beliefreg.MultinomialFractionalLogit`,
  through the models' formulas, with HC0 or cluster-robust sandwiches and weights; the results
  are the models' own results classes with the calibrated covariance.
* :func:`plan` / :func:`effective_sample_size` — the planner: human and LLM sample sizes that
  reach a target standard error at least cost, and what a run study's LLM rows were worth.

Which estimator, which assumptions
----------------------------------
================================  ==========================================  =====================================
                                  PPI++ (``method='ppi++'``)                  DSL (``method='dsl'``)
================================  ==========================================  =====================================
Human rows                        a random sample of the population           a sample of the full sample's rows
                                                                              with **known** selection
                                                                              probabilities (may depend on the
                                                                              regressors or the prediction)
Simulated rows                    draws of the regressors from the **same**   the rest of the full sample (rows
                                  population (e.g. the same personas and      not selected for labelling)
                                  conditions, any number)
The LLM prediction                any fixed function of the row (not fitted   any fixed function of the row
                                  on these human answers); may be biased
Efficiency                        power tuning: never worse than human only   no tuning: can be worse than the
                                  asymptotically (lambda = 0 is allowed)      human rows alone when predictions
                                                                              are poor
Inference                         sandwich, HC0 or cluster (clusters may      sandwich over all rows, HC0 or
                                  span the human and the simulated rows)      cluster
================================  ==========================================  =====================================

Both are M-estimators built from the same pieces (:mod:`.estimator`); neither needs the LLM
to be right. The calibration sits on top of :mod:`beliefreg.models` and
:mod:`beliefreg.inference`; the models know nothing of it.
"""

from .api import METHODS, calibrate
from .planner import Plan, effective_sample_size, plan
from .results import (CalibratedBinaryResults, CalibratedMultinomialResults,
                      CalibrationInfo)

__all__ = ["calibrate", "METHODS", "plan", "Plan", "effective_sample_size",
           "CalibratedBinaryResults", "CalibratedMultinomialResults", "CalibrationInfo"]
