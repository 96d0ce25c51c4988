"""Pieces shared by the estimators: cluster groups, covariance choice and a concave Newton fit.

The binary models have their own fused Newton loop (:mod:`beliefreg.models.bernoulli`); the
multinomial and conditional logits use :func:`newton_concave`, which only needs a function
returning the objective, its gradient and minus its Hessian at a parameter vector.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
from scipy import linalg

from ..exceptions import ConvergenceWarning
from ..inference.covariance import Covariance, get_covariance
from .design import Design

__all__ = ["DesignModel", "resolve_cluster_groups", "resolve_covariance", "NewtonFit", "newton_concave",
           "bread_from_information"]


class DesignModel:
    """statsmodels' names for what a model holds in its :class:`~.design.Design`.

    A model sets ``self.design``; models whose parameters or rows differ from the design's
    (the conditional logit drops absorbed terms and counts choice situations) override the
    properties concerned.
    """

    design: Design

    @property
    def endog(self) -> np.ndarray:
        return self.design.endog

    @property
    def exog(self) -> np.ndarray:
        return self.design.exog

    @property
    def weights(self) -> np.ndarray | None:
        return self.design.weights

    @property
    def endog_names(self) -> Any:
        return self.design.endog_name

    @property
    def exog_names(self) -> list[str]:
        return list(self.design.exog_names)

    @property
    def formula(self) -> str | None:
        return self.design.formula

    @property
    def design_info(self):
        return self.design.design_info

    @property
    def data(self) -> pd.DataFrame | None:
        """The original data passed to ``from_formula`` (all rows), or None."""
        return self.design.data

    @property
    def nobs(self) -> int:
        return self.design.nobs

    @property
    def k_exog(self) -> int:
        return self.exog.shape[1]


def resolve_cluster_groups(design: Design, groups: Any) -> list[pd.Series]:
    """Resolve ``cov_kwds['groups']`` into one or two Series aligned with the rows used.

    ``groups`` is a column name of the original data, a list of one or two column names
    (two-way clustering), a DataFrame or 2-D array with one or two columns, or a 1-D array /
    Series aligned with the data or with the rows used.
    """
    if isinstance(groups, pd.DataFrame):
        specs: list[Any] = [groups[c] for c in groups.columns]
    elif isinstance(groups, np.ndarray) and groups.ndim == 2:
        specs = [groups[:, j] for j in range(groups.shape[1])]
    elif isinstance(groups, (list, tuple)) and 1 <= len(groups) <= 2 and all(
            isinstance(g, str) or np.ndim(g) == 1 for g in groups):
        specs = list(groups)
    else:
        specs = [groups]
    resolved = []
    for i, spec in enumerate(specs):
        what = f"cluster groups {spec!r}" if isinstance(spec, str) else f"cluster groups #{i + 1}"
        values = design.align(spec, what=what)
        if not isinstance(values, pd.Series):
            values = pd.Series(values, index=design.row_labels,
                               name=spec if isinstance(spec, str) else None)
        resolved.append(values)
    return resolved


def resolve_covariance(design: Design, cov_type: str, cov_kwds: Mapping[str, Any] | None, *,
                       nobs: int | None = None,
                       reduce: Callable[[list[pd.Series]], list[Any]] | None = None
                       ) -> tuple[Covariance, dict[str, Any]]:
    """Validate ``cov_type``/``cov_kwds`` and build the covariance estimator.

    ``cov_kwds`` takes ``'groups'`` (cluster variables) and ``'fix'`` (two-way clustering:
    clip negative eigenvalues), as the binary models do.

    ``reduce`` maps the cluster Series (aligned with the design rows) to the units whose
    scores the sandwich sums (the conditional logit maps long-format rows to choice
    situations); ``nobs`` is the number of those units (default: the design rows).
    """
    cov_kwds = dict(cov_kwds or {})
    unknown = set(cov_kwds) - {"groups", "fix"}
    if unknown:
        raise ValueError(f"unknown cov_kwds {sorted(unknown)}; accepted: 'groups', 'fix'")
    groups = None
    if cov_kwds.get("groups") is not None:
        groups = resolve_cluster_groups(design, cov_kwds["groups"])
        if reduce is not None:
            groups = reduce(groups)
    estimator = get_covariance(cov_type, groups, nobs=design.nobs if nobs is None else nobs,
                               fix=bool(cov_kwds.get("fix", False)))
    return estimator, cov_kwds


@dataclass
class NewtonFit:
    """The outcome of :func:`newton_concave`: the maximiser and the last evaluation there."""

    params: np.ndarray
    value: float
    grad: np.ndarray
    info: np.ndarray
    n_iter: int
    converged: bool


def bread_from_information(info: np.ndarray) -> np.ndarray:
    """The inverse of minus the Hessian of a concave objective, never NaN.

    Minus the Hessian of the multinomial quasi-likelihood is positive semi-definite, but it is
    computed as a difference of sums (diagonal blocks minus the cross products), so under
    separation, where it is nearly singular, rounding can leave eigenvalues slightly below 0.
    Those (within ``1e-8`` of the largest) are set to 0 before
    :func:`~beliefreg.models.bernoulli.inverse_information` floors them: the unidentified
    directions get huge, finite variances, as in the binary models.
    """
    from .bernoulli import inverse_information

    try:
        return linalg.cho_solve(linalg.cho_factor(info, check_finite=False),
                                np.eye(len(info)), check_finite=False)
    except linalg.LinAlgError:
        pass
    values, vectors = np.linalg.eigh(info)
    top = max(values.max(), np.finfo(float).tiny)
    if values.min() >= -1e-8 * top:
        info = (vectors * np.clip(values, 0.0, None)) @ vectors.T
        info = 0.5 * (info + info.T)
    return inverse_information(info)


Evaluate = Callable[[np.ndarray], tuple[float, np.ndarray, np.ndarray]]


def _solve_pd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    try:
        return linalg.cho_solve(linalg.cho_factor(a, check_finite=False), b, check_finite=False)
    except linalg.LinAlgError:
        return np.linalg.lstsq(a, b, rcond=None)[0]


def newton_concave(evaluate: Evaluate, start: np.ndarray, *, maxiter: int = 100,
                   tol: float = 1e-10, stacklevel: int = 3) -> NewtonFit:
    r"""Maximise a concave function by Newton's method with step halving.

    ``evaluate(b)`` returns the objective, its gradient and minus its Hessian (positive
    semi-definite for a concave objective). Iterations stop when the next Newton step is
    negligible: its largest scaled entry :math:`|\Delta_j| / (1 + |b_j|)` is below ``tol``, or
    the Newton decrement :math:`g'\Delta` (the predicted gain) is below
    :math:`10^{-20}(1 + |f|)` (which is what ends the iterations when some coefficients diverge
    while the objective settles). Because the objective is concave, a step whose end point has
    a non-negative directional slope went uphill; only otherwise are the values compared.

    Warns
    -----
    ConvergenceWarning
        If ``maxiter`` iterations did not converge.
    """
    b = np.asarray(start, dtype=float).copy()
    value, grad, info = evaluate(b)
    converged = False
    it = 0
    for it in range(1, maxiter + 1):
        step = _solve_pd(info, grad)
        decrement = float(grad @ step)
        if np.max(np.abs(step) / (1.0 + np.abs(b)), initial=0.0) < tol or (
                decrement < 1e-16 and decrement < 1e-20 * (1.0 + abs(value))):
            converged = True
            break
        t = 1.0
        while True:
            b_new = b + t * step
            value_new, grad_new, info_new = evaluate(b_new)
            if (np.isfinite(value_new) and grad_new @ step >= 0.0) or t < 1e-8:
                break
            if np.isfinite(value_new) and value_new >= value - 1e-12 * (1.0 + abs(value)):
                break
            t *= 0.5
        b, value, grad, info = b_new, value_new, grad_new, info_new
    if not converged:
        warnings.warn(f"the quasi-likelihood maximisation did not converge in {it} iterations; "
                      "raise maxiter or check the design", ConvergenceWarning,
                      stacklevel=stacklevel)
    return NewtonFit(params=b, value=value, grad=grad, info=info, n_iter=it, converged=converged)
