"""Calibrated results: the models' own results classes with the calibrated covariance.

A calibrated fit is reported by the same classes as the human-only fit
(:class:`~beliefreg.BinaryResults`, :class:`~beliefreg.MultinomialResults`), built on the human
model with the calibrated parameters and covariance, so every post-estimation method (margins,
elasticities, WTP, ``nlcom``, predictions, ``compare``) uses the calibrated covariance through
the delta method. The subclasses add only what the calibration knows: lambda, the sample
sizes and the effective human sample size, and say so in ``summary()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from ..inference.covariance import Covariance
from ..models.multinomial import MultinomialFit
from ..models.multinomial_results import MultinomialResults
from ..results import BinaryResults

__all__ = ["CalibratedCovariance", "CalibrationInfo", "CalibratedBinaryResults",
           "CalibratedMultinomialResults", "calibrated_results"]


@dataclass(frozen=True)
class CalibratedCovariance(Covariance):
    """The label of a calibrated sandwich (computed by :mod:`.estimator`, not here)."""

    kind: str = "HC0"
    label: str = ""
    groups: int | None = None
    name: str = field(init=False, default="")
    description: str = field(init=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.kind)
        object.__setattr__(self, "description", self.label)

    @property
    def n_groups(self) -> tuple[int, ...] | None:
        return None if self.groups is None else (self.groups,)

    def compute(self, bread, scores):  # pragma: no cover - never called
        raise NotImplementedError("a calibrated covariance is computed by the calibration")


class CalibrationInfo:
    """What a calibrated fit adds to the model's results.

    Attributes
    ----------
    method : {'PPI++', 'DSL'}
    lam : float
        The PPI++ power-tuning parameter used (NaN for DSL).
    n_human, n_llm : int
        Human rows and simulated rows used.
    human_only : results
        The human-only fit with the same covariance type.
    effective_nobs : pandas.Series
        Per coefficient, :math:`n \\cdot \\widehat{\\mathrm{Var}}_{\\text{human}} /
        \\widehat{\\mathrm{Var}}_{\\text{calibrated}}`: how many human rows alone would give the
        calibrated variance (PPI++; DSL: NaN, its human rows are not a simple random sample).
    """

    method: str
    lam: float
    n_human: int
    n_llm: int
    human_only: Any
    coord: str | None
    prediction: Any

    def _attach(self, info: dict[str, Any]) -> None:
        for key, value in info.items():
            setattr(self, key, value)

    def boottest(self, *args: Any, **kwargs: Any) -> Any:
        """Not available for a calibrated fit: use the Wald tests and intervals.

        The wild cluster score bootstrap re-estimates the model from the human rows' scores
        alone; the calibrated estimating equation also has the LLM rows' terms, and its
        clusters may span both frames. Run on this object it tested the human-only estimator
        with one cluster per human row and reported that p-value as the calibrated one.

        Raises
        ------
        NotImplementedError
            Always; ``t_test``, ``wald_test``, ``conf_int`` and the delta-method quantities
            use the calibrated covariance, and ``res.human_only.boottest(...)`` bootstraps the
            human-only fit.
        """
        raise NotImplementedError(
            f"boottest is not implemented for a {self.method}-calibrated fit: the score "
            "bootstrap knows only the human rows' estimating equation, not the LLM rows' "
            "terms or clusters that span both frames. Use t_test/wald_test/conf_int (the "
            "calibrated covariance), or res.human_only.boottest(...) for the human-only fit")

    @property
    def effective_nobs(self) -> pd.Series:
        if self.method != "PPI++":
            return pd.Series(np.nan, index=self.params.index, name="effective_nobs")
        ratio = self.human_only.bse ** 2 / self.bse ** 2
        return (self.n_human * ratio).rename("effective_nobs")

    @property
    def effective_n(self) -> float:
        """The effective human sample size of the tuned coefficient (``coord``), or of the
        trace of the covariance when no coefficient was named."""
        if self.method != "PPI++":
            return float("nan")
        if self.coord is not None:
            return float(self.effective_nobs[self.coord])
        return float(self.n_human * np.trace(self.human_only.cov_params().to_numpy())
                     / np.trace(self._cov.to_numpy()))

    def _calibration_info(self) -> dict[str, str]:
        info = {"Calibration:": self.method,
                "No. human rows:": str(self.n_human),
                "No. simulated rows:": str(self.n_llm)}
        if self.method == "PPI++":
            info["Lambda:"] = f"{self.lam:.4f}" + (" (fixed)" if getattr(self, "_lam_fixed", False)
                                                   else f" (tuned for {self.coord or 'trace'})")
            info["Effective human n:"] = f"{self.effective_n:.1f}"
        return info

    def _summary_info(self) -> dict[str, str]:
        info = super()._summary_info()  # type: ignore[misc]
        for key in ("R-squared (corr^2):", "Log-likelihood:", "Quasi-log-likelihood:",
                    "Df residuals:", "Hessian (bread):"):
            info.pop(key, None)
        info["Bread:"] = getattr(self, "bread", "")
        info.update(self._calibration_info())
        return info

    def summary(self, alpha: float = 0.05, *, float_format: str = "%.4f"):
        smry = super().summary(alpha, float_format=float_format)  # type: ignore[misc]
        smry.title = f"{self.method}-calibrated {self.model.model_name}"
        return smry

    def _summary_notes(self) -> list[str]:
        notes = list(super()._summary_notes())  # type: ignore[misc]
        if self.method == "PPI++":
            # an integer first: "-0 extra human rows" when the effective n is a shade below n
            extra = int(round(self.effective_n - self.n_human))
            worth = (f"worth about {extra} extra human rows" if extra >= 0 else
                     f"worth about {-extra} human rows fewer than none (they cost precision)")
            notes.append(
                f"Human answers calibrated with LLM predictions ({self.prediction}) by PPI++: "
                f"lambda = {self.lam:.3f} (0 = human only, 1 = plain PPI). The LLM rows were "
                f"{worth} (effective n {self.effective_n:.0f} from {self.n_human}).")
        else:
            notes.append(f"Human answers calibrated with LLM predictions ({self.prediction}) by "
                         "DSL with known sampling probabilities (design-adjusted outcome).")
        return notes


class CalibratedBinaryResults(CalibrationInfo, BinaryResults):
    """:class:`~beliefreg.BinaryResults` of a calibrated fit (see :class:`CalibrationInfo`)."""


class CalibratedMultinomialResults(CalibrationInfo, MultinomialResults):
    """:class:`~beliefreg.MultinomialResults` of a calibrated fit (see
    :class:`CalibrationInfo`)."""


def calibrated_results(model: Any, fitted: Any, estimator: CalibratedCovariance,
                       cov_kwds: dict[str, Any], info: dict[str, Any]):
    """Build the calibrated results on the human model."""
    from ..models.multinomial import MultinomialFractionalLogit

    theta = fitted.params
    if isinstance(model, MultinomialFractionalLogit):
        fit = MultinomialFit(params=theta, qllf=model.loglike(theta), n_iter=fitted.n_iter,
                             converged=fitted.converged, n_boundary=0, info=fitted.bread)
        res = CalibratedMultinomialResults(model, fit, fitted.cov, estimator=estimator,
                                           cov_kwds=cov_kwds)
    else:
        eta = model.exog @ theta
        fit = SimpleNamespace(params=theta, eta=eta, qllf=model.loglike(theta),
                              converged=fitted.converged, n_iter=fitted.n_iter, n_boundary=0)
        res = CalibratedBinaryResults(model, fit, fitted.cov, estimator=estimator,
                                      hessian="expected", cov_kwds=cov_kwds)
    res._attach(info)
    return res
