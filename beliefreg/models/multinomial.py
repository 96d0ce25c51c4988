r"""The multinomial fractional logit: a quasi-MLE for share vectors (Mullahy 2015).

The outcome of observation *i* is a share vector :math:`y_i = (y_{i1}, \dots, y_{iJ})` with
:math:`y_{ij} \ge 0` and :math:`\sum_j y_{ij} = 1` (an LLM's belief over *J* answer
alternatives, exact zeros allowed); the regressors :math:`x_i` vary by observation. The mean is

.. math::

   E[y_{ij} \mid x_i] = p_{ij} = \frac{\exp(x_i'\beta_j)}{\sum_{l=1}^J \exp(x_i'\beta_l)},
   \qquad \beta_{\text{base}} = 0,

and :math:`\beta` maximises the multinomial quasi-log-likelihood

.. math:: \ell(\beta) = \sum_i w_i \sum_j y_{ij} \log p_{ij},

which is consistent whenever the mean is right, whatever the distribution of the shares
(Mullahy 2015; Papke and Wooldridge 1996 for J = 2; Stata's ``fmlogit``). For 0/1 rows (one
chosen alternative) it is the maximum-likelihood multinomial logit.

With :math:`m = J - 1` non-base alternatives and *k* regressors there are :math:`K = mk`
parameters, ordered alternative by alternative and labelled ``'alternative:term'``. The score
of observation *i* for alternative *j* is :math:`s_{ij} = w_i (y_{ij} - p_{ij}) x_i`, and minus
the Hessian is

.. math::

   A = \sum_i w_i \big(\mathrm{diag}(p_i) - p_i p_i'\big) \otimes x_i x_i'

over the non-base alternatives (observed = expected: the logit link is canonical). The
covariances are the sandwiches of :mod:`beliefreg.inference.covariance` with these scores:
HC0 (default), HC1 with :math:`n/(n-K)`, one- and two-way CR1 clusters with
:math:`G/(G-1) \cdot (n-1)/(n-K)`, *n* = number of observations (rows), *K* = all parameters.
Every pass over the data is :math:`O(n k^2 m^2)`; nothing of size n x K is kept.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import patsy

from .._blas_threads import single_blas_thread
from ..exceptions import DataError, MissingColumnError, SeparationWarning
from ..inference.covariance import _group_sums
from ._base import DesignModel, bread_from_information, newton_concave, resolve_covariance
from .share_effects import alternative_name
from .design import (Design, build_exog, check_full_rank, describe_rows, design_from_arrays,
                     design_from_formula)

__all__ = ["MultinomialFractionalLogit", "MultinomialScores", "softmax_with_base"]

_BLOCK_ROWS = 8192
_SEPARATION_EPS = 1e-10


def softmax_with_base(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Probabilities of the non-base alternatives and of the base, and :math:`\log\sum e^\eta`.

    ``eta`` is (n, m): the linear predictors of the *m* non-base alternatives (the base has
    :math:`\eta = 0`). Returns ``(P, p_base, lse)`` with ``P`` (n, m),
    ``lse = log(1 + sum_j exp(eta_j))`` computed without overflow (the exponentials are
    shifted by the row maximum only when some could overflow).
    """
    ones = np.ones(eta.shape[1])
    if np.real(eta).max(initial=0.0) < 500.0:
        e = np.exp(eta)
        den = 1.0 + e @ ones  # row sums by a matrix-vector product (fast for few columns)
        return e / den[:, None], 1.0 / den, np.log(den)
    c = np.maximum(np.real(eta).max(axis=1), 0.0)
    e = np.exp(eta - c[:, None])
    e0 = np.exp(-c)
    den = e0 + e @ ones
    return e / den[:, None], e0 / den, c + np.log(den)


def _block_softmax_t(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-base probabilities (m, b), base probability (b,) and log-sum-exp (b,) of a
    transposed block; unshifted exponentials unless they could overflow."""
    if eta.max(initial=0.0) < 500.0:
        e = np.exp(eta)
        den = 1.0 + e.sum(axis=0)
        return e / den, 1.0 / den, np.log(den)
    prob, p_base, lse = softmax_with_base(eta.T)
    return prob.T, p_base, lse


def _complements(prob: np.ndarray, p_base: np.ndarray) -> np.ndarray:
    """:math:`1 - p_j` as the sum of the other probabilities (no cancellation when
    :math:`p_j \to 1`, as under separation), for a transposed (m, b) block."""
    m = prob.shape[0]
    out = np.empty_like(prob)
    for j in range(m):
        acc = p_base.copy()
        for l in range(m):
            if l != j:
                acc += prob[l]
        out[j] = acc
    return out


def _expand(x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The (b, m*k) matrix whose j-th block of k columns is ``x * u[:, j]`` (alternative-major)."""
    b, k = x.shape
    return (u[:, :, None] * x[:, None, :]).reshape(b, u.shape[1] * k)


@dataclass(frozen=True)
class MultinomialScores:
    r"""Scores :math:`s_i = \mathrm{vec}(x_i u_i')` of a multi-index model, never formed whole.

    ``u`` is (n, m): :math:`u_{ij} = w_i (y_{ij} - p_{ij})`; the score of observation *i* for
    alternative *j* is :math:`u_{ij} x_i` (alternative-major order). The meats are computed in
    row blocks (:math:`\sum_i s_i s_i'`) and with one sparse group-indicator product per
    alternative (cluster sums), so no n x mk matrix is allocated.
    """

    exog: np.ndarray
    u: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        n, k = self.exog.shape
        return n, k * self.u.shape[1]

    @property
    def matrix(self) -> np.ndarray:
        return _expand(self.exog, self.u)

    def outer(self) -> np.ndarray:
        n, kk = self.shape
        out = np.zeros((kk, kk))
        for start in range(0, n, _BLOCK_ROWS):
            a = _expand(self.exog[start:start + _BLOCK_ROWS], self.u[start:start + _BLOCK_ROWS])
            out += a.T @ a
        return 0.5 * (out + out.T)

    def group_sums(self, codes: np.ndarray, n_groups: int) -> np.ndarray:
        return np.hstack([_group_sums(codes, n_groups, self.exog, self.u[:, j])
                          for j in range(self.u.shape[1])])


@dataclass
class MultinomialFit:
    params: np.ndarray
    qllf: float
    n_iter: int
    converged: bool
    n_boundary: int
    info: np.ndarray


def _check_shares(y: np.ndarray, names: list[str], labels: pd.Index, tol: float,
                  what: str = "rows") -> np.ndarray:
    """Validate a share matrix; return it with rows rescaled to sum exactly to 1."""
    if y.ndim != 2:
        raise DataError(f"the outcome must be a share matrix (n, J), got shape {y.shape}")
    if y.shape[1] < 2:
        raise DataError(f"the outcome has a single alternative {names}; a share vector needs at "
                        "least two (for one share and its complement use FractionalLogit)")
    bad = ~np.isfinite(y)
    if bad.any():
        raise DataError(f"shares are not finite in {describe_rows(labels[bad.any(axis=1)])}")
    neg = y < 0
    if neg.any():
        rows = neg.any(axis=1)
        cols = [names[j] for j in np.flatnonzero(neg.any(axis=0))]
        raise DataError(f"shares must be non-negative; {cols} are negative in "
                        f"{describe_rows(labels[rows])}, e.g. {y[rows][0].tolist()}")
    total = y.sum(axis=1)
    off = np.abs(total - 1.0) > tol
    if off.any():
        raise DataError(
            f"shares must sum to 1 over the alternatives {names} (tolerance share_tol={tol:g}); "
            f"they do not in {describe_rows(labels[off])}, e.g. sums "
            f"{[float(v) for v in total[off][:3]]}. Normalise the rows yourself if the missing "
            "mass is to be ignored, or add a residual alternative that holds it")
    empty = ~(y > 0).any(axis=0)
    if empty.any():
        raise DataError(f"alternatives {[names[j] for j in np.flatnonzero(empty)]} have zero "
                        "share in every row: their coefficients are not identified; drop them")
    return y / total[:, None]


class MultinomialFractionalLogit(DesignModel):
    r"""Multinomial fractional logit: QMLE of a share vector on observation-level regressors.

    Mullahy (2015), "Multivariate fractional regression estimation of econometric share
    models"; the estimator of Stata's ``fmlogit``. The parameters equal those of statsmodels'
    ``MNLogit`` fitted to the same share matrix, but here the covariance is the sandwich a
    quasi-MLE needs (HC0 by default; HC1, one- and two-way cluster), no likelihood-based fit
    statistics are reported for fractional outcomes, and predictions rebuild the formula's
    design for new data. See :mod:`beliefreg.models.multinomial` for the estimator.

    Parameters
    ----------
    endog : array_like or DataFrame, shape (n, J)
        Shares over *J* >= 2 alternatives; each row sums to 1 within ``share_tol`` (rows are
        then divided by their sums), exact zeros allowed. DataFrame columns name the
        alternatives; otherwise they are ``y0, y1, ...``.
    exog : array_like, shape (n, k)
        The regressors (include a constant yourself, as in statsmodels).
    base : str or int, optional
        The base (reference) alternative, whose coefficients are normalised to zero: a name or a
        position. Default: the first alternative (as ``MNLogit`` and ``fmlogit``).
    weights : array_like, optional
        Positive prior weights, as in :class:`~beliefreg.FractionalLogit`.
    share_tol : float
        How far a row sum may be from 1 (default 1e-6); beyond it is a
        :class:`~beliefreg.exceptions.DataError` naming the rows.

    Notes
    -----
    Parameters are labelled ``'alternative:term'`` (for example
    ``'b_pampers:np.log(price_pampers)'``), ordered by non-base alternative, then term; these
    labels work in ``t_test``/``wald_test`` strings.

    Examples
    --------
    >>> import numpy as np, pandas as pd, beliefreg as br
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"p_a": rng.uniform(1, 2, 500), "p_b": rng.uniform(1, 2, 500)})
    >>> u = np.column_stack([1 - 2 * np.log(d.p_a), 0.5 - 2 * np.log(d.p_b), np.zeros(500)])
    >>> s = np.exp(u) / np.exp(u).sum(1, keepdims=True)
    >>> d[["a", "b", "none"]] = rng.dirichlet(np.ones(3), 500) * 0.2 + 0.8 * s
    >>> res = br.MultinomialFractionalLogit.from_formula(
    ...     "a + b + none ~ np.log(p_a) + np.log(p_b)", d, base="none").fit()
    >>> res.params.index[:3].tolist()
    ['a:Intercept', 'a:np.log(p_a)', 'a:np.log(p_b)']
    >>> res.cov_type
    'HC0'
    """

    model_name = "Multinomial fractional logit (multinomial QMLE)"
    default_cov_type = "HC0"

    def __init__(self, endog: Any, exog: Any, *, base: str | int | None = None,
                 weights: Any = None, share_tol: float = 1e-6) -> None:
        if isinstance(endog, pd.DataFrame):
            names = [str(c) for c in endog.columns]
            values = endog.to_numpy(dtype=float)
        else:
            values = np.asarray(endog, dtype=float)
            if values.ndim != 2:
                raise DataError(f"endog must be a share matrix (n, J), got shape {values.shape}")
            names = [f"y{j}" for j in range(values.shape[1])]
        # design_from_arrays validates exog, weights and missing values on a 1-D stand-in
        design = design_from_arrays(pd.Series(np.zeros(len(values)), index=endog.index)
                                    if isinstance(endog, pd.DataFrame) else np.zeros(len(values)),
                                    exog, weights=weights)
        nan_rows = np.isnan(values).any(axis=1)
        if nan_rows.any():
            raise DataError(f"missing shares in {describe_rows(design.row_labels[nan_rows])}; "
                            "drop them or use from_formula, which drops them with a warning")
        design.endog, design.endog_names, design.endog_name = values, names, ", ".join(names)
        self._init_design(design, base, share_tol)

    @classmethod
    def from_formula(cls, formula: str, data: pd.DataFrame, *,
                     shares: Sequence[str] | None = None, base: str | int | None = None,
                     weights: Any = None, share_tol: float = 1e-6, eval_env: Any = 0):
        """Create the model from a patsy formula.

        Parameters
        ----------
        formula : str
            Either ``'a + b + c ~ terms'``, whose left-hand side lists the share columns (a
            multivariate patsy outcome; ``'C(choice) ~ terms'`` turns a column of chosen
            alternatives into 0/1 rows), or only the right-hand side ``'terms'`` with the share
            columns given in ``shares``. Terms are patsy syntax (``np.log(price_a)``,
            ``C(persona)``, interactions); an intercept is included unless removed with ``- 1``.
        data : pandas.DataFrame
            Rows with missing values in the formula's variables or the shares are dropped with a
            :class:`~beliefreg.exceptions.MissingValueWarning`.
        shares : list of str, optional
            The share columns, when the formula has no left-hand side.
        base : str or int, optional
            The base alternative (a share column name, or a position). Default: the first.
        weights : str or array_like, optional
        share_tol : float
        eval_env : int or patsy.EvalEnvironment

        Examples
        --------
        ``MultinomialFractionalLogit.from_formula("np.log(price_pampers) +
        np.log(price_huggies)", data, shares=["b_pampers", "b_huggies", "b_none"],
        base="b_none")`` is the same model as ``from_formula("b_pampers + b_huggies + b_none ~
        np.log(price_pampers) + np.log(price_huggies)", data, base="b_none")``.
        """
        if isinstance(eval_env, int):
            eval_env = patsy.EvalEnvironment.capture(eval_env + 1)
        if shares is not None:
            if "~" in formula:
                raise ValueError("give the share columns either on the formula's left-hand side "
                                 "or in shares=, not both")
            shares = [shares] if isinstance(shares, str) else list(shares)
            missing = [c for c in shares if c not in data.columns]
            if missing:
                raise MissingColumnError(f"share columns {missing} are not in the data")
            lhs = " + ".join(f"Q({c!r})" for c in shares)
            design = design_from_formula(f"{lhs} ~ {formula}", data, weights=weights,
                                         eval_env=eval_env, multivariate=True)
            design.formula = formula
            design.endog_names, design.endog_name = list(shares), ", ".join(shares)
        else:
            if "~" not in formula:
                raise ValueError(f"formula {formula!r} has no '~': write 'a + b + c ~ terms' or "
                                 "pass the share columns as shares=[...]")
            design = design_from_formula(formula, data, weights=weights, eval_env=eval_env,
                                         multivariate=True)
        model = cls.__new__(cls)
        model._init_design(design, base, share_tol)
        return model

    # ------------------------------------------------------------------ construction
    def _init_design(self, design: Design, base: str | int | None, share_tol: float) -> None:
        names = list(design.endog_names or [])
        design.endog = _check_shares(np.asarray(design.endog, float), names, design.row_labels,
                                     share_tol)
        self.design = design
        self.share_tol = share_tol
        self.alternatives: list[str] = names
        self.base: str = self._resolve_base(base)
        self._base_index = names.index(self.base)
        self._nonbase = np.array([j for j in range(len(names)) if j != self._base_index])
        self._y_nonbase = design.endog[:, self._nonbase]
        self._y_nonbase_t = np.ascontiguousarray(self._y_nonbase.T)  # (m, n) for the passes
        self._gram = check_full_rank(design.exog, design.exog_names, gram=design.gram)

    @property
    def _x_weighted(self) -> np.ndarray:
        """``exog * sqrt(weights)`` (``exog`` itself without weights), computed once."""
        if self.design.weights is None:
            return self.design.exog
        if getattr(self, "_xs_cache", None) is None:
            self._xs_cache = self.design.exog * np.sqrt(self.design.weights)[:, None]
        return self._xs_cache

    def _resolve_base(self, base: str | int | None) -> str:
        names = self.alternatives
        if base is None:
            return names[0]
        if isinstance(base, (int, np.integer)) and not isinstance(base, bool):
            if not -len(names) <= base < len(names):
                raise ValueError(f"base position {base} is out of range for {len(names)} "
                                 "alternatives")
            return names[int(base)]
        resolved = alternative_name(base, names)
        if resolved is None:
            raise ValueError(f"base {base!r} is not one of the alternatives {names}")
        return resolved

    # ------------------------------------------------------------------ names and data
    @property
    def endog(self) -> np.ndarray:
        """The share matrix (n, J), alternatives in the user's order."""
        return self.design.endog

    @property
    def endog_names(self) -> list[str]:
        return list(self.alternatives)

    @property
    def nonbase_alternatives(self) -> list[str]:
        return [self.alternatives[j] for j in self._nonbase]

    @property
    def param_names(self) -> list[str]:
        """``'alternative:term'`` for every non-base alternative, then term."""
        return [f"{a}:{t}" for a in self.nonbase_alternatives for t in self.exog_names]

    @property
    def k_params(self) -> int:
        return self.k_exog * len(self._nonbase)

    @property
    def is_choice(self) -> bool:
        """True if every row is 0/1 (one chosen alternative): then the QMLE is the ML logit."""
        y = self.endog
        return bool(np.all((y == 0.0) | (y == 1.0)))

    # ------------------------------------------------------------------ likelihood pieces
    def _coef_matrix(self, params: Any) -> np.ndarray:
        """(k, m) coefficients of the non-base alternatives from the flat parameter vector."""
        p = np.asarray(params, dtype=float).reshape(-1)
        if p.shape != (self.k_params,):
            raise ValueError(f"params must have {self.k_params} values, got {p.shape}")
        return p.reshape(len(self._nonbase), self.k_exog).T

    def _evaluate(self, params: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        r"""Quasi-log-likelihood, gradient and minus the Hessian, in one blocked pass.

        Per block of rows, in transposed (alternatives x rows) layout so every elementwise
        operation runs along contiguous rows: :math:`A' = [x \circ \sqrt{w} p_1; \dots;
        x \circ \sqrt{w} p_m]'` gives the off-diagonal blocks of :math:`A'A = \sum_i w_i
        (p_i p_i') \otimes x_i x_i'` in one product; the diagonal blocks
        :math:`\sum_i w_i p_{ij}(1 - p_{ij}) x_i x_i'` are formed directly, with
        :math:`1 - p_{ij}` summed from the other probabilities, so they stay accurate (and the
        matrix positive semi-definite) when a probability approaches 1 under separation.
        """
        x, w, xs = self.exog, self.weights, self._x_weighted
        y_t = self._y_nonbase_t
        coef_t = np.ascontiguousarray(self._coef_matrix(params).T)  # (m, k)
        n, k = x.shape
        m = coef_t.shape[0]
        ll = 0.0
        grad = np.zeros((m, k))
        diag_blocks = np.zeros((k, m * k))
        cross = np.zeros((m * k, m * k))
        scratch = np.empty((m, k, min(_BLOCK_ROWS, n)))
        scratch_q = np.empty((m, k, min(_BLOCK_ROWS, n)))
        for start in range(0, n, _BLOCK_ROWS):
            rows = slice(start, start + _BLOCK_ROWS)
            xb_t = np.ascontiguousarray(x[rows].T)                  # (k, b)
            xsb_t = xb_t if w is None else np.ascontiguousarray(xs[rows].T)
            yb_t = y_t[:, rows]                                    # (m, b)
            b = xb_t.shape[1]
            eta = coef_t @ xb_t                                    # (m, b)
            prob, p_base, lse = _block_softmax_t(eta)
            contrib = (yb_t * eta).sum(axis=0) - lse
            resid = yb_t - prob
            if w is not None:
                wb = w[rows]
                ll += float(wb @ contrib)
                grad += (resid * wb) @ xb_t.T
            else:
                ll += float(contrib.sum())
                grad += resid @ xb_t.T
            a3 = scratch[:, :, :b]
            np.multiply(xsb_t[None, :, :], prob[:, None, :], out=a3)
            a_t = a3.reshape(m * k, b)
            cross += a_t @ a_t.T
            # diagonal blocks sum w p_j (1 - p_j) x x' with 1 - p_j summed, not subtracted
            q3 = scratch_q[:, :, :b]
            np.multiply(xsb_t[None, :, :], _complements(prob, p_base)[:, None, :], out=q3)
            for j in range(m):
                diag_blocks[:, j * k:(j + 1) * k] += a3[j] @ q3[j].T
        info = -cross
        for j in range(m):
            info[j * k:(j + 1) * k, j * k:(j + 1) * k] = diag_blocks[:, j * k:(j + 1) * k]
        return ll, grad.reshape(-1), 0.5 * (info + info.T)

    def loglike(self, params: Any) -> float:
        r"""The multinomial quasi-log-likelihood :math:`\sum_i w_i \sum_j y_{ij} \log p_{ij}`."""
        return self._evaluate(np.asarray(params, float))[0]

    def score(self, params: Any) -> np.ndarray:
        return self._evaluate(np.asarray(params, float))[1]

    def information(self, params: Any) -> np.ndarray:
        """Minus the Hessian of :meth:`loglike` (observed = expected for this canonical link)."""
        return self._evaluate(np.asarray(params, float))[2]

    def hessian(self, params: Any) -> np.ndarray:
        return -self.information(params)

    def _scores(self, params: Any, prob: np.ndarray | None = None) -> MultinomialScores:
        """The scores at ``params``; ``prob`` are the (n, J) shares there, if already known."""
        if prob is None:
            prob = self.predict(params)
        u = self._y_nonbase - prob[:, self._nonbase]
        if self.weights is not None:
            u = self.weights[:, None] * u
        return MultinomialScores(self.exog, u)

    def score_obs(self, params: Any) -> np.ndarray:
        """Observation scores, shape (n, K), alternative-major, prior weights included."""
        return self._scores(params).matrix

    def predict(self, params: Any, exog: Any = None, *, which: str = "mean") -> np.ndarray:
        """Predicted shares (n, J) in the alternatives' order (``which='mean'``), or the
        linear predictors (n, J), 0 for the base (``'linear'``).

        ``exog`` is a design matrix, or new data (a DataFrame) for a formula model.
        """
        x = self.exog if exog is None else build_exog(self.design, exog, missing="nan")
        eta = x @ self._coef_matrix(params)
        if which == "linear":
            out = np.zeros((x.shape[0], len(self.alternatives)))
            out[:, self._nonbase] = eta
            return out
        if which != "mean":
            raise ValueError(f"which must be 'mean' or 'linear', got {which!r}")
        prob, p_base, _ = softmax_with_base(eta)
        out = np.empty((x.shape[0], len(self.alternatives)))
        out[:, self._nonbase] = prob
        out[:, self._base_index] = p_base
        return out

    # ------------------------------------------------------------------ fitting
    def _first_step(self) -> np.ndarray:
        r"""The Newton step from :math:`\beta = 0`, in closed form.

        At zero every share is 1/J, the gradient is :math:`X'W(Y - 1/J)` and the information
        :math:`M \otimes X'WX` with :math:`M = (I - \iota\iota'/J)/J`, whose inverse is
        :math:`J (I + \iota\iota')`: the step is a least-squares fit per alternative.
        """
        x, w = self.exog, self.weights
        gram = self._gram if w is None else x.T @ (x * w[:, None])
        r = self.endog[:, self._nonbase] - 1.0 / len(self.alternatives)
        g = x.T @ (r if w is None else w[:, None] * r)
        step = len(self.alternatives) * np.linalg.solve(gram, g + g.sum(axis=1, keepdims=True))
        return step.T.reshape(-1)

    def fit(self, cov_type: str | None = None, cov_kwds: Mapping[str, Any] | None = None, *,
            use_t: bool = False, start_params: Any = None, maxiter: int = 100,
            tol: float = 1e-10):
        """Estimate by quasi-maximum likelihood (Newton's method).

        Parameters
        ----------
        cov_type : {'HC0', 'HC1', 'cluster', 'nonrobust'}, optional
            Default ``'HC0'``. ``'nonrobust'`` (the inverse information) is valid only when the
            multinomial likelihood is the true one (0/1 choices).
        cov_kwds : dict, optional
            For ``'cluster'``: ``{'groups': g}``, a column name, two column names (two-way), or
            an array aligned with the data or with the rows used. ``'fix': True`` clips the
            negative eigenvalues of a two-way cluster covariance (R's ``vcovCL(fix = TRUE)``).
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
            Convergence tolerance on the scaled Newton step.

        Returns
        -------
        MultinomialResults
        """
        with single_blas_thread():  # no extra frame: warnings keep their stacklevel
            from .multinomial_results import MultinomialResults

            cov_type = self.default_cov_type if cov_type is None else cov_type
            estimator, cov_kwds = resolve_covariance(self.design, cov_type, cov_kwds)
            start = self._first_step() if start_params is None else np.asarray(start_params, float)
            if start.shape != (self.k_params,):
                raise ValueError(f"start_params must have {self.k_params} values, "
                                 f"got {start.shape}")
            newton = newton_concave(self._evaluate, start, maxiter=maxiter, tol=tol)
            prob = self.predict(newton.params)
            scores = self._scores(newton.params, prob)
            n_boundary = int(np.count_nonzero((prob < _SEPARATION_EPS).any(axis=1)))
            if n_boundary:
                warnings.warn(
                    f"fitted shares are numerically 0 for {n_boundary} observation(s): perfect or "
                    "quasi-complete separation, so the quasi-MLE may not exist; the affected "
                    "coefficients are not identified and their standard errors are very large",
                    SeparationWarning, stacklevel=2)
            fitted = MultinomialFit(params=newton.params, qllf=newton.value, n_iter=newton.n_iter,
                                    converged=newton.converged, n_boundary=n_boundary,
                                    info=newton.info)
            bread = bread_from_information(newton.info)
            cov = estimator.compute(bread, scores)
            return MultinomialResults(self, fitted, cov, estimator=estimator, cov_kwds=cov_kwds,
                                      use_t=use_t)
