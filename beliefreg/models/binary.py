"""Binary and fractional response models: FractionalLogit, FractionalProbit and Logit.

All three maximise the Bernoulli (quasi-)log-likelihood (:mod:`beliefreg.models.bernoulli`);
they differ in the link and in what the outcome may be:

* :class:`FractionalLogit` and :class:`FractionalProbit`: any outcome in [0, 1] (model belief,
  shares, rates), exact 0 and 1 included; the estimator is the Papke-Wooldridge (1996) QMLE, so
  the default covariance is the robust sandwich (HC0).
* :class:`Logit`: 0/1 outcomes only (model choice); the estimator is the ML logit, so the
  default covariance is the inverse Hessian (``'nonrobust'``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np
import pandas as pd
import patsy

from .._blas_threads import single_blas_thread
from ..exceptions import DataError
from ..inference.covariance import IndexScores
from ._base import DesignModel, resolve_covariance
from .bernoulli import (HessianKind, fit_bernoulli, hessian_weights, information,
                        inverse_information, quasi_loglike, score_weights)
from .design import (Design, build_exog, check_full_rank, describe_rows,
                     design_from_arrays, design_from_formula)
from .links import Link, LogitLink, ProbitLink

__all__ = ["BinaryModel", "FractionalLogit", "FractionalProbit", "Logit"]


class BinaryModel(DesignModel):
    """Shared machinery of the binary-response models (not used directly).

    Parameters
    ----------
    endog : array_like, shape (n,)
        The outcome.
    exog : array_like, shape (n, k)
        The regressors (include a constant yourself, as in statsmodels).
    weights : array_like, optional
        Positive prior weights (see Notes).

    Notes
    -----
    **Weights** scale each observation's contribution to the (quasi-)log-likelihood, as R's
    ``glm(weights=)`` and Stata's ``pweight``/``iweight`` do for the point estimate. The robust
    and cluster covariances are sandwiches of the weighted scores, so multiplying every weight
    by a constant changes neither the estimates nor the robust standard errors; the
    ``'nonrobust'`` covariance treats weights as frequency counts (it scales with them). The
    number of observations *n* in the small-sample factors counts rows, not the sum of weights.
    """

    link: ClassVar[Link]
    model_name: ClassVar[str]
    default_cov_type: ClassVar[str]
    binary_outcome: ClassVar[bool] = False

    def __init__(self, endog: Any, exog: Any, *, weights: Any = None) -> None:
        self._init_design(design_from_arrays(endog, exog, weights=weights))

    @classmethod
    def from_formula(cls, formula: str, data: pd.DataFrame, *, weights: Any = None,
                     eval_env: Any = 0):
        """Create the model from a patsy formula.

        Parameters
        ----------
        formula : str
            ``'outcome ~ terms'`` in patsy syntax: ``np.log(price)``, ``I(x**2)``,
            ``C(brand)``, interactions ``a:b`` and ``a*b``. An intercept is included unless
            removed with ``- 1``.
        data : pandas.DataFrame
            Rows with missing values in the formula's variables are dropped with a
            :class:`~beliefreg.exceptions.MissingValueWarning`.
        weights : str or array_like, optional
            A column name of ``data`` or an array aligned with ``data`` (or with the rows used).
        eval_env : int or patsy.EvalEnvironment
            Where names in the formula are looked up; 0 is the caller's namespace.

        Examples
        --------
        >>> import numpy as np, beliefreg as br
        >>> from beliefreg.datasets import load_401k
        >>> res = br.FractionalLogit.from_formula(
        ...     "prate01 ~ mrate + np.log(totemp) + age + I(age**2) + sole", load_401k()).fit()
        >>> float(round(res.params["mrate"], 4))
        0.9023
        """
        if isinstance(eval_env, int):
            eval_env = patsy.EvalEnvironment.capture(eval_env + 1)
        design = design_from_formula(formula, data, weights=weights, eval_env=eval_env)
        model = cls.__new__(cls)
        model._init_design(design)
        return model

    # ------------------------------------------------------------------ construction
    def _init_design(self, design: Design) -> None:
        self.design = design
        self._check_outcome(design)
        self._gram = check_full_rank(design.exog, design.exog_names, gram=design.gram)

    def _check_outcome(self, design: Design) -> None:
        y = design.endog
        bad = ~np.isfinite(y) | (y < 0.0) | (y > 1.0)
        if bad.any():
            raise DataError(f"the outcome {design.endog_name!r} must lie in [0, 1]; it does not "
                            f"in {describe_rows(design.row_labels[bad])}, e.g. values "
                            f"{[float(v) for v in y[bad][:3]]}")
        if self.binary_outcome:
            frac = (y != 0.0) & (y != 1.0)
            if frac.any():
                raise DataError(f"{type(self).__name__} needs a 0/1 outcome; "
                                f"{design.endog_name!r} is fractional in "
                                f"{describe_rows(design.row_labels[frac])}. For beliefs or "
                                "shares use FractionalLogit (Bernoulli QMLE) instead")

    # ------------------------------------------------------------------ likelihood pieces
    def loglike(self, params: np.ndarray) -> float:
        """The (quasi-)log-likelihood at ``params``."""
        return quasi_loglike(self.endog, self.exog @ np.asarray(params, float), self.weights,
                             self.link)

    def _scores(self, params: np.ndarray, eta: np.ndarray | None = None) -> IndexScores:
        if eta is None:
            eta = self.exog @ np.asarray(params, float)
        return IndexScores(self.exog, score_weights(self.endog, eta, self.weights, self.link))

    def score_obs(self, params: np.ndarray) -> np.ndarray:
        """Observation scores, shape (n, k), prior weights included."""
        return self._scores(params).matrix

    def score(self, params: np.ndarray) -> np.ndarray:
        """The gradient of :meth:`loglike`."""
        return self.score_obs(params).sum(axis=0)

    def information(self, params: np.ndarray, *, hessian: HessianKind = "observed") -> np.ndarray:
        """Minus the Hessian of :meth:`loglike` (``'observed'``) or its expectation."""
        eta = self.exog @ np.asarray(params, float)
        return information(self.exog, hessian_weights(self.endog, eta, self.weights, self.link,
                                                      hessian))

    def hessian(self, params: np.ndarray) -> np.ndarray:
        """The observed Hessian of :meth:`loglike`."""
        return -self.information(params, hessian="observed")

    def predict(self, params: Any, exog: Any = None, *, which: str = "mean") -> np.ndarray:
        """Predicted mean ``G(x'b)`` (``which='mean'``) or linear predictor (``'linear'``).

        ``exog`` is a design matrix, or new data (a DataFrame) for a formula model; rows with
        missing values in the formula's variables get NaN (as statsmodels).
        """
        x = self.exog if exog is None else build_exog(self.design, exog, missing="nan")
        eta = x @ np.asarray(params, float)
        if which == "linear":
            return eta
        if which == "mean":
            return self.link.cdf(eta)
        raise ValueError(f"which must be 'mean' or 'linear', got {which!r}")

    # ------------------------------------------------------------------ fitting
    def fit(self, cov_type: str | None = None, cov_kwds: Mapping[str, Any] | None = None, *,
            hessian: HessianKind = "observed", use_t: bool = False, start_params: Any = None,
            maxiter: int = 100, tol: float = 1e-10):
        """Estimate by (quasi-)maximum likelihood.

        Parameters
        ----------
        cov_type : {'HC0', 'HC1', 'nonrobust', 'cluster'}, optional
            The covariance of the estimates (see :mod:`beliefreg.inference.covariance`).
            Default: ``'HC0'`` for the fractional models, ``'nonrobust'`` for :class:`Logit`.
        cov_kwds : dict, optional
            For ``'cluster'``: ``{'groups': g}`` with ``g`` a column name of the data, two
            column names (two-way clustering), or an array aligned with the data or the rows
            used. Column names resolve after missing-value dropping. ``{'fix': True}`` (two-way
            only) clips negative eigenvalues of a covariance that is not positive
            semi-definite.
        hessian : {'observed', 'expected'}
            Which Hessian forms the bread of the sandwich (and the nonrobust covariance). The
            observed one is what statsmodels and Stata's ``fracreg`` use; the expected
            information is what R's ``sandwich`` on a ``glm`` and Papke and Wooldridge (1996)
            use. They coincide for the logit link.
        use_t : bool
            Report t statistics with G - 1 degrees of freedom (clustered; the smaller G for
            two-way) or n - k (otherwise), and F statistics for joint tests, instead of z and
            chi-squared: in ``summary``, ``conf_int``, ``t_test``/``wald_test``, ``compare``
            tables and every delta-method quantity (``nlcom``, ``margins``,
            ``get_prediction``). Recommended with a cluster covariance and few clusters (say,
            fewer than 50); with very few (under about 20), prefer ``boottest``.
        start_params : array_like, optional
        maxiter : int
        tol : float
            Convergence tolerance on the Newton step, measured on the scale of the linear
            predictor (each coefficient's step times its column's root mean square).

        Returns
        -------
        BinaryResults
        """
        from ..results import BinaryResults

        with single_blas_thread():  # no extra frame: warnings keep their stacklevel
            if hessian not in ("observed", "expected"):
                raise ValueError(f"hessian must be 'observed' or 'expected', got {hessian!r}")
            cov_type = self.default_cov_type if cov_type is None else cov_type
            estimator, cov_kwds = resolve_covariance(self.design, cov_type, cov_kwds)
            fitted = fit_bernoulli(self.endog, self.exog, self.weights, self.link,
                                   start_params=start_params, maxiter=maxiter, tol=tol,
                                   scale=np.sqrt(np.diag(self._gram) / self.nobs),
                                   gram=self._gram if self.weights is None else None)
            if hessian == fitted.info_kind or self.link.canonical:
                info = fitted.info
            else:
                info = information(self.exog, hessian_weights(self.endog, fitted.eta,
                                                              self.weights, self.link, hessian))
            bread = inverse_information(info)
            # the score weights of the last pass, at the estimate (no further pass)
            scores = (IndexScores(self.exog, fitted.u) if fitted.u is not None
                      else self._scores(fitted.params, fitted.eta))
            cov = estimator.compute(bread, scores)
            return BinaryResults(self, fitted, cov, estimator=estimator, hessian=hessian,
                                 cov_kwds=cov_kwds, use_t=use_t)


class FractionalLogit(BinaryModel):
    r"""Fractional logit: Bernoulli QMLE with :math:`E[y \mid x] = \Lambda(x'\beta)`.

    Papke and Wooldridge (1996). For outcomes in [0, 1] such as model belief; consistent when
    the conditional mean is right, whatever the distribution of *y*. The default covariance is
    the robust sandwich (``'HC0'``); the nonrobust one is not valid for fractional outcomes.

    Examples
    --------
    >>> import beliefreg as br
    >>> from beliefreg.datasets import load_401k
    >>> res = br.FractionalLogit.from_formula("prate01 ~ mrate + ltotemp", load_401k()).fit()
    >>> res.cov_type
    'HC0'
    """

    link = LogitLink()
    model_name = "Fractional logit (Bernoulli QMLE)"
    default_cov_type = "HC0"


class FractionalProbit(BinaryModel):
    r"""Fractional probit: Bernoulli QMLE with :math:`E[y \mid x] = \Phi(x'\beta)`.

    The probit link is not canonical, so the observed and the expected Hessian give different
    sandwiches; choose with ``fit(hessian=...)`` (default ``'observed'``, as statsmodels and
    Stata's ``fracreg``; ``'expected'`` matches R's ``sandwich`` on a ``glm``).
    """

    link = ProbitLink()
    model_name = "Fractional probit (Bernoulli QMLE)"
    default_cov_type = "HC0"


class Logit(BinaryModel):
    r"""Logit: maximum likelihood for 0/1 outcomes (model choice).

    Same API as :class:`FractionalLogit`; a fractional outcome is an error that points there.
    The default covariance is the inverse Hessian (``'nonrobust'``).
    """

    link = LogitLink()
    model_name = "Logit (maximum likelihood)"
    default_cov_type = "nonrobust"
    binary_outcome = True
