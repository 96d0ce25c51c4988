r"""McFadden's conditional logit for alternative-specific attributes, on shares or choices.

The data are in long format: one row per choice situation *g* (an LLM call, a persona x prompt
condition, ...) and alternative *j*, with the alternative's attributes :math:`z_{gj}` (its price,
a brand dummy) and its outcome :math:`y_{gj}`: the belief share the model put on *j*, or a 0/1
choice. Within a situation the outcomes sum to 1. The mean is

.. math::

   E[y_{gj} \mid z_g] = p_{gj} = \frac{\exp(z_{gj}'\beta)}{\sum_{l} \exp(z_{gl}'\beta)},

and :math:`\beta` maximises :math:`\ell(\beta) = \sum_g w_g \sum_j y_{gj} \log p_{gj}`: the
maximum-likelihood conditional logit for 0/1 choices, and the multinomial quasi-MLE (consistent
when the mean is right, whatever the distribution of the shares) for belief shares.

The score of situation *g* is :math:`s_g = w_g \sum_j (y_{gj} - p_{gj}) z_{gj}`, and minus the
Hessian is :math:`\sum_g w_g \sum_j p_{gj} (z_{gj} - \bar z_g)(z_{gj} - \bar z_g)'` with
:math:`\bar z_g = \sum_j p_{gj} z_{gj}`. The covariances are the sandwiches of
:mod:`beliefreg.inference.covariance` with one score per **choice situation**: in HC1
:math:`n/(n-k)` and in the cluster factor :math:`G/(G-1) \cdot (n-1)/(n-k)`, *n* is the number
of choice situations (groups), not the number of long-format rows, and clusters must contain
whole situations. Only attributes that vary across the alternatives of a situation are
identified: terms constant within every situation (the intercept, a persona's income) are
dropped (with an :class:`~beliefreg.exceptions.AbsorbedTermWarning`, except the intercept).

**Unbalanced choice sets.** A situation may offer any subset :math:`A_g` of the alternatives
(a brand out of stock, a shelf with three of the four brands): the sums over *j* above run
over :math:`A_g` only, as in R's ``survival::clogit`` and ``mlogit`` and Stata's ``cmclogit``.
Predictions, margins and elasticities at new data accept such situations too (a
counterfactual choice set with an alternative removed).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
import patsy

from .._blas_threads import single_blas_thread
from ..exceptions import (AbsorbedTermWarning, DataError, MissingValueWarning,
                          RankDeficientError, SeparationWarning)
from ..inference.covariance import DenseScores
from ._base import DesignModel, bread_from_information, newton_concave, resolve_covariance
from ..frames import as_pandas_frame, is_dataframe_like, py_scalar
from .design import (Design, build_exog, check_full_rank, describe_rows, design_from_arrays,
                     design_from_formula)
from .multinomial import MultinomialFit

__all__ = ["ConditionalLogit", "softmax_within_groups"]

_BLOCK_ROWS = 8192
_SEPARATION_EPS = 1e-10


def _softmax_rows(eta: np.ndarray, available: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise softmax of a (G, J) array over the offered cells, and its log-sum-exp."""
    if available is not None and not available.all():
        eta = np.where(available, eta, -np.inf)
    c = eta.max(axis=1, keepdims=True)
    e = np.exp(eta - c)
    den = e.sum(axis=1, keepdims=True)
    return e / den, (c + np.log(den))[:, 0]


def softmax_within_groups(eta: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Softmax of ``eta`` within the groups ``codes`` (any number of rows per group)."""
    top = np.full(n_groups, -np.inf)
    np.maximum.at(top, codes, eta)
    e = np.exp(eta - top[codes])
    return e / np.bincount(codes, weights=e, minlength=n_groups)[codes]


@dataclass(frozen=True)
class ChoiceStructure:
    """How long-format rows map to a (situations x alternatives) grid.

    Situations may offer different subsets of the alternatives (unbalanced choice sets, as
    R's ``mlogit`` and Stata's ``cmclogit`` allow): ``available[g, j]`` says whether
    situation *g* offers alternative *j*; the cells of alternatives not offered are padding
    (zero attributes, zero outcome, zero probability).
    """

    group_labels: pd.Index
    alternatives: list[Any]
    group_codes: np.ndarray
    alt_codes: np.ndarray
    available: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.group_labels)

    @property
    def n_alternatives(self) -> int:
        return len(self.alternatives)

    @property
    def balanced(self) -> bool:
        """Whether every situation offers every alternative."""
        return bool(self.available.all())

    def grid(self, values: np.ndarray, fill: Any = 0) -> np.ndarray:
        """Rows (n,) or (n, k) as (G, J) or (G, J, k); cells not offered hold ``fill``."""
        v = np.asarray(values)
        out = np.full((self.n_groups, self.n_alternatives) + v.shape[1:], fill,
                      dtype=np.result_type(v.dtype, np.asarray(fill).dtype))
        out[self.group_codes, self.alt_codes] = v
        return out

    def to_rows(self, grid: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`grid` for a (G, J) array: back to the rows' order."""
        return np.asarray(grid)[self.group_codes, self.alt_codes]

    def first_offered(self) -> np.ndarray:
        """For each situation, the position of the first alternative it offers, (G,)."""
        return np.argmax(self.available, axis=1)


def _labels(index: Any, positions: Any) -> list[Any]:
    return [py_scalar(index[i]) for i in positions]


def _factorize(values: Any, what: str, labels: pd.Index) -> tuple[np.ndarray, pd.Index]:
    s = pd.Series(np.asarray(values, dtype=object) if not isinstance(values, pd.Series)
                  else values)
    missing = s.isna().to_numpy()
    if missing.any():
        raise DataError(f"{what} is missing in {describe_rows(labels[missing])}")
    codes, uniques = pd.factorize(s, sort=True)
    return codes.astype(np.intp), pd.Index(uniques)


def choice_structure(design: Design, groups: Any, alternatives: Any) -> ChoiceStructure:
    """Check that every situation offers each of its alternatives once; build the grid map."""
    return grid_structure(design.align(groups, what="groups"),
                          design.align(alternatives, what="alternatives"), design.row_labels)


def grid_structure(groups: Any, alternatives: Any, labels: pd.Index,
                   levels: list[Any] | None = None) -> ChoiceStructure:
    """The grid map of long rows with situation ids ``groups`` and ``alternatives``.

    ``levels`` fixes the alternatives (and their order), as for new data at a fitted model;
    by default they are the sorted distinct values. A situation may offer any non-empty
    subset of the alternatives, each at most once.
    """
    gcodes, glabels = _factorize(groups, "the group (choice situation) id", labels)
    if levels is None:
        acodes, alabels = _factorize(alternatives, "the alternative", labels)
    else:
        alabels = pd.Index(levels)
        avals = pd.Series(np.asarray(alternatives, dtype=object))
        acodes = alabels.get_indexer(avals)
        unknown = acodes < 0
        if unknown.any():
            raise DataError(f"alternatives {sorted(set(avals[unknown]), key=str)[:5]} in "
                            f"{describe_rows(labels[unknown])} are not among the model's "
                            f"{list(alabels)}")
        acodes = acodes.astype(np.intp)
    n_g, n_a = len(glabels), len(alabels)
    if n_a < 2:
        raise DataError(f"only one alternative ({_labels(alabels, range(n_a))}) in the data: a choice needs at "
                        "least two (for one share and its complement use FractionalLogit)")
    counts = np.bincount(gcodes * n_a + acodes, minlength=n_g * n_a).reshape(n_g, n_a)
    if (counts > 1).any():
        bad = np.flatnonzero((counts > 1).any(axis=1))
        g0 = bad[0]
        dup = _labels(alabels, np.flatnonzero(counts[g0] > 1))
        raise DataError(f"{len(bad)} choice situation(s) have an alternative twice (first: "
                        f"group {py_scalar(glabels[g0])!r}, alternative {dup}); each situation needs "
                        "at most one row per alternative")
    return ChoiceStructure(group_labels=glabels, alternatives=list(alabels), group_codes=gcodes,
                           alt_codes=acodes, available=counts == 1)


def masked_softmax(eta: Any, available: np.ndarray) -> Any:
    """Row-wise softmax of (G, J) ``eta`` over the offered cells only (0 elsewhere).

    Real or complex (for complex-step Jacobians): rows are shifted by the real maximum over
    the offered cells, and the cells not offered are multiplied by 0 after ``exp``.
    """
    real = np.real(eta)
    c = np.where(available, real, -np.inf).max(axis=1, keepdims=True)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(np.where(available, eta - c, 0.0)) * available
    return e / e.sum(axis=1, keepdims=True)


class ConditionalLogit(DesignModel):
    r"""McFadden's conditional logit in long format, for belief shares or 0/1 choices.

    See :mod:`beliefreg.models.conditional` for the estimator. The default covariance is the
    robust sandwich (``'HC0'``), valid for shares and choices alike; ``'nonrobust'`` is the ML
    covariance, valid only for 0/1 choices.

    Parameters
    ----------
    endog : array_like, shape (N,)
        Each long-format row's outcome: a share in [0, 1] or a 0/1 choice; within a situation
        they sum to 1 within ``share_tol`` (they are then divided by their sum).
    exog : array_like, shape (N, k)
        Alternative-specific attributes (no intercept: it is not identified).
    groups : array_like
        The choice-situation id of each row.
    alternatives : array_like
        The alternative of each row. A situation may offer any subset of the alternatives
        (unbalanced choice sets), each at most once.
    weights : array_like, optional
        Positive prior weights, constant within a situation.
    share_tol : float

    Notes
    -----
    *n* in the small-sample factors (HC1, cluster) is the number of choice situations *G*, the
    units whose scores the sandwich sums; ``nobs`` is *G* and ``n_rows`` the long rows.
    Alternative-specific constants are written ``C(brand)`` (the first level is the base;
    ``C(brand, Treatment('none'))`` picks another). Observation-level variables (a persona's
    income) enter only interacted with alternatives: ``C(brand) * income`` (the main effect of
    ``income`` is dropped with an :class:`~beliefreg.exceptions.AbsorbedTermWarning`).

    Examples
    --------
    >>> import numpy as np, pandas as pd, beliefreg as br
    >>> rng = np.random.default_rng(1)
    >>> long = pd.DataFrame({"obs": np.repeat(np.arange(300), 3),
    ...                      "brand": np.tile(["a", "b", "none"], 300),
    ...                      "price": rng.uniform(1, 2, 900)})
    >>> long.loc[long.brand == "none", "price"] = 0.0
    >>> u = (-1.5 * long.price + long.brand.map({"a": 2.0, "b": 1.5, "none": 0.0})).to_numpy()
    >>> p = np.exp(u.reshape(300, 3)); p /= p.sum(1, keepdims=True)
    >>> long["belief"] = (0.9 * p + 0.1 * rng.dirichlet(np.ones(3), 300)).ravel()
    >>> res = br.ConditionalLogit.from_formula("belief ~ price + C(brand)", long,
    ...                                        groups="obs", alternatives="brand").fit()
    >>> res.params.index.tolist()
    ['C(brand)[T.b]', 'C(brand)[T.none]', 'price']
    >>> res.nobs, res.n_rows
    (300, 900)
    """

    model_name = "Conditional logit (multinomial QMLE on long-format shares)"
    default_cov_type = "HC0"

    def __init__(self, endog: Any, exog: Any, *, groups: Any, alternatives: Any,
                 weights: Any = None, share_tol: float = 1e-6) -> None:
        self._init_design(design_from_arrays(endog, exog, weights=weights), groups,
                          alternatives, share_tol)

    @classmethod
    def from_formula(cls, formula: str, data: pd.DataFrame, *, groups: Any, alternatives: Any,
                     weights: Any = None, share_tol: float = 1e-6, eval_env: Any = 0):
        """Create the model from a patsy formula on long-format data.

        Parameters
        ----------
        formula : str
            ``'belief ~ price + C(brand)'``: the outcome (share or 0/1 choice) and the
            attributes. The intercept patsy adds is dropped after coding (so ``C(brand)`` gets
            treatment coding with the first level as base).
        data : pandas.DataFrame
            One row per situation x alternative. Rows with missing values are dropped with a
            warning; a situation that loses some of its rows this way is fitted as offering
            only the alternatives left (a :class:`~beliefreg.exceptions.MissingValueWarning`
            names such situations).
        groups, alternatives : str or array_like
            Column names (or arrays aligned with ``data``) of the situation id and alternative.
        weights : str or array_like, optional
            Constant within a situation.
        share_tol : float
        eval_env : int or patsy.EvalEnvironment
        """
        if isinstance(eval_env, int):
            eval_env = patsy.EvalEnvironment.capture(eval_env + 1)
        design = design_from_formula(formula, data, weights=weights, eval_env=eval_env)
        model = cls.__new__(cls)
        model._init_design(design, groups, alternatives, share_tol)
        return model

    # ------------------------------------------------------------------ construction
    def _init_design(self, design: Design, groups: Any, alternatives: Any,
                     share_tol: float) -> None:
        self.design = design
        self.share_tol = share_tol
        self.group_col = groups if isinstance(groups, str) else None
        self.alternative_col = alternatives if isinstance(alternatives, str) else None
        self.structure = choice_structure(design, groups, alternatives)
        st = self.structure
        self._warn_partly_dropped(groups)
        names = list(design.exog_names)
        z_all = st.grid(design.exog)  # (G, J, k_all), zero where not offered
        first = z_all[np.arange(st.n_groups), st.first_offered()]  # (G, k_all)
        differs = (z_all != first[:, None, :]) & st.available[:, :, None]
        constant = ~differs.any(axis=(0, 1))
        absorbed = [names[j] for j in np.flatnonzero(constant) if names[j] != "Intercept"]
        if absorbed:
            warnings.warn(f"terms {absorbed} are constant within every choice situation, so they "
                          "cancel from the choice probabilities; they were dropped (interact "
                          "them with the alternatives to estimate their effects)",
                          AbsorbedTermWarning, stacklevel=3)
        self._keep = np.flatnonzero(~constant).astype(np.intp)
        self._names = [names[j] for j in self._keep]
        self.absorbed_terms = [names[j] for j in np.flatnonzero(constant)]
        if not len(self._keep):
            raise DataError(f"no term varies across the alternatives of a situation "
                            f"({names}): the conditional logit identifies only "
                            "alternative-specific terms (attributes such as price, or "
                            "alternative dummies)")
        self._z = z_all[:, :, self._keep]
        self._y = self._check_outcome(st.grid(design.endog), share_tol)
        self._w = self._group_weights()
        self._check_identified()

    def _warn_partly_dropped(self, groups: Any) -> None:
        """Warn when dropping rows for missing values removed alternatives from situations
        that keep others (they are then fitted as not offering them)."""
        d = self.design
        if d.data is None or d.nobs == len(d.data):
            return
        all_groups = (d.data[groups] if isinstance(groups, str)
                      else pd.Series(np.asarray(groups, dtype=object)))
        if len(all_groups) != len(d.data):
            return
        dropped = np.ones(len(d.data), dtype=bool)
        dropped[d._positions()] = False
        kept_ids = set(pd.unique(all_groups.iloc[~dropped]))
        partly = [g for g in pd.unique(all_groups.iloc[dropped]) if g in kept_ids]
        self._partly_dropped = [py_scalar(g) for g in partly]
        if partly:
            warnings.warn(
                f"{len(partly)} choice situation(s) lost rows to missing values but kept others "
                f"(first groups: {[py_scalar(g) for g in partly[:5]]}); they are fitted as offering "
                "only the alternatives left, which for belief shares needs the shares left to "
                "sum to 1. Drop whole situations if the missing rows were offered",
                MissingValueWarning, stacklevel=4)

    def _check_outcome(self, y: np.ndarray, tol: float) -> np.ndarray:
        d, st = self.design, self.structure
        bad = ~np.isfinite(d.endog) | (d.endog < 0.0) | (d.endog > 1.0)
        if bad.any():
            raise DataError(f"the outcome {d.endog_name!r} must lie in [0, 1] (a share or a 0/1 "
                            f"choice); it does not in {describe_rows(d.row_labels[bad])}")
        total = y.sum(axis=1)
        off = np.abs(total - 1.0) > tol
        if off.any():
            groups = _labels(st.group_labels, np.flatnonzero(off))
            raise DataError(
                f"the outcome {d.endog_name!r} must sum to 1 over the alternatives of each "
                f"choice situation (tolerance share_tol={tol:g}); it does not in "
                f"{len(groups)} situation(s) (first groups: {groups[:5]}), e.g. sums "
                f"{[float(v) for v in total[off][:3]]}"
                + _dropped_note(groups, getattr(self, "_partly_dropped", [])))
        return y / total[:, None]

    def _group_weights(self) -> np.ndarray | None:
        w = self.design.weights
        if w is None:
            return None
        st = self.structure
        grid = st.grid(w)
        first = grid[np.arange(st.n_groups), st.first_offered()]
        varying = ((grid != first[:, None]) & st.available).any(axis=1)
        if varying.any():
            groups = _labels(st.group_labels, np.flatnonzero(varying)[:5])
            raise DataError(f"weights must be constant within a choice situation; they vary in "
                            f"groups {groups}")
        return first.copy()

    def _check_identified(self) -> None:
        avail = self.structure.available
        n_offered = avail.sum(axis=1)
        mean = self._z.sum(axis=1) / n_offered[:, None]  # padding cells hold zeros
        within = (self._z - mean[:, None, :]) * avail[:, :, None]
        flat = within.reshape(-1, within.shape[2])
        try:
            self._gram = check_full_rank(flat, self._names)
        except RankDeficientError as err:
            raise RankDeficientError(
                f"{err}. In a conditional logit only differences between the alternatives of a "
                "situation are identified: a full set of alternative dummies (from '- 1', or "
                "C(brand):x without x's main effect) sums to a constant; write C(brand) and "
                "C(brand) * x, which code the alternatives relative to a base") from None

    # ------------------------------------------------------------------ names and data

    @property
    def exog(self) -> np.ndarray:
        """The attributes used (long rows; the intercept, if any, dropped)."""
        return self.design.exog[:, self._keep]

    @property
    def exog_names(self) -> list[str]:
        return list(self._names)

    @property
    def param_names(self) -> list[str]:
        return list(self._names)

    @property
    def alternatives(self) -> list[Any]:
        return list(self.structure.alternatives)

    @property
    def nobs(self) -> int:
        """The number of choice situations (the *n* of the covariance factors)."""
        return self.structure.n_groups

    @property
    def n_rows(self) -> int:
        return self.design.nobs

    @property
    def k_params(self) -> int:
        return len(self._names)

    @property
    def is_choice(self) -> bool:
        y = self._y
        return bool(np.all((y == 0.0) | (y == 1.0)))

    # ------------------------------------------------------------------ likelihood pieces
    def _evaluate(self, params: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Quasi-log-likelihood, gradient and minus the Hessian, in blocks of situations."""
        z, y, w = self._z, self._y, self._w
        avail = None if self.structure.balanced else self.structure.available
        n_g, n_a, k = z.shape
        step = max(1, _BLOCK_ROWS // n_a)
        ll, grad, info = 0.0, np.zeros(k), np.zeros((k, k))
        for start in range(0, n_g, step):
            rows = slice(start, start + step)
            zb, yb = z[rows], y[rows]
            eta = zb @ params
            prob, lse = _softmax_rows(eta, None if avail is None else avail[rows])
            contrib = (yb * eta).sum(axis=1) - lse  # eta is finite; y is 0 where not offered
            resid = yb - prob
            wp = prob
            if w is not None:
                wb = w[rows]
                contrib, resid, wp = wb * contrib, wb[:, None] * resid, wb[:, None] * prob
            ll += float(contrib.sum())
            grad += np.einsum("gj,gjk->k", resid, zb)
            zbar = np.einsum("gj,gjk->gk", prob, zb)
            dev = (zb - zbar[:, None, :]).reshape(-1, k)
            info += dev.T @ (dev * wp.reshape(-1)[:, None])
        return ll, grad, 0.5 * (info + info.T)

    def _probabilities(self, params: Any) -> np.ndarray:
        return _softmax_rows(self._z @ np.asarray(params, float),
                             None if self.structure.balanced else self.structure.available)[0]

    def loglike(self, params: Any) -> float:
        return self._evaluate(np.asarray(params, float))[0]

    def score(self, params: Any) -> np.ndarray:
        return self._evaluate(np.asarray(params, float))[1]

    def information(self, params: Any) -> np.ndarray:
        """Minus the Hessian of :meth:`loglike` (observed = expected)."""
        return self._evaluate(np.asarray(params, float))[2]

    def hessian(self, params: Any) -> np.ndarray:
        return -self.information(params)

    def score_obs(self, params: Any) -> np.ndarray:
        """Scores per choice situation, shape (G, k), prior weights included."""
        resid = self._y - self._probabilities(params)
        if self._w is not None:
            resid = self._w[:, None] * resid
        return np.einsum("gj,gjk->gk", resid, self._z)

    def predict(self, params: Any, exog: Any = None, *, groups: Any = None,
                which: str = "mean") -> np.ndarray:
        """Predicted shares (``'mean'``) or linear predictors (``'linear'``), one per row.

        Without ``exog``, the rows used, in their order. ``exog`` is new long-format data (a
        DataFrame for a formula model; its situations are ``groups``, by default the column
        named at fit) or an attribute matrix with ``groups``. A situation in new data may offer
        any subset of alternatives (e.g. one removed, for diversion).
        """
        b = np.asarray(params, float)
        if exog is None:
            eta = self.exog @ b
            codes, n_groups = self.structure.group_codes, self.structure.n_groups
        else:
            x = build_exog(self.design, exog)
            if self.design.design_info is not None:
                x = x[:, self._keep]
            eta = x @ b
            groups = self._new_groups(exog, groups)
            codes, uniques = pd.factorize(pd.Series(np.asarray(groups, dtype=object)))
            n_groups = len(uniques)
        if which == "linear":
            return eta
        if which != "mean":
            raise ValueError(f"which must be 'mean' or 'linear', got {which!r}")
        return softmax_within_groups(eta, np.asarray(codes, np.intp), n_groups)

    def _new_groups(self, newdata: Any, groups: Any) -> Any:
        """The situation ids of new long rows: ``groups`` (an array or a column name of
        ``newdata``), by default the column named at fit."""
        if groups is None:
            groups = self.group_col
            if groups is None:
                raise ValueError("pass groups= (the situation of each new row)")
        if isinstance(groups, str):
            frame = as_pandas_frame(newdata, what="newdata", newdata=True) \
                if is_dataframe_like(newdata) else None
            if frame is None or groups not in frame.columns:
                raise DataError(f"groups {groups!r} is not a column of newdata")
            return frame[groups].to_numpy()
        arr = np.asarray(groups, dtype=object)
        if arr.ndim != 1:
            raise DataError(f"groups must be a column name or one-dimensional, got shape "
                            f"{arr.shape}")
        return arr

    # ------------------------------------------------------------------ fitting
    def _situation_clusters(self, groups: list[pd.Series]) -> list[pd.Series]:
        """Cluster labels per choice situation; clusters must contain whole situations."""
        st = self.structure
        out = []
        for g in groups:
            codes, _ = pd.factorize(g, use_na_sentinel=True)
            grid = st.grid(codes)
            first = grid[np.arange(st.n_groups), st.first_offered()]
            varying = ((grid != first[:, None]) & st.available).any(axis=1)
            if varying.any():
                bad = _labels(st.group_labels, np.flatnonzero(varying)[:5])
                raise DataError(
                    f"cluster variable {g.name!r} varies within choice situations (groups "
                    f"{bad}); the conditional logit has one score per situation, so clusters "
                    "must contain whole situations")
            arr = np.asarray(g)
            values = np.empty(st.n_groups, dtype=arr.dtype)
            values[st.group_codes] = arr
            out.append(pd.Series(values, index=st.group_labels, name=g.name))
        return out

    def fit(self, cov_type: str | None = None, cov_kwds: Mapping[str, Any] | None = None, *,
            use_t: bool = False, start_params: Any = None, maxiter: int = 100,
            tol: float = 1e-10):
        """Estimate by (quasi-)maximum likelihood (Newton's method).

        Parameters
        ----------
        cov_type : {'HC0', 'HC1', 'cluster', 'nonrobust'}, optional
            Default ``'HC0'``. The sandwich sums one score per choice situation.
        cov_kwds : dict, optional
            For ``'cluster'``: ``{'groups': g}``, one or two column names or arrays aligned with
            the long rows; each cluster must contain whole situations (e.g. the persona).
            ``'fix': True`` clips the negative eigenvalues of a two-way cluster covariance.
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

        Returns
        -------
        ConditionalResults
        """
        with single_blas_thread():  # no extra frame: warnings keep their stacklevel
            from .conditional_results import ConditionalResults

            cov_type = self.default_cov_type if cov_type is None else cov_type
            estimator, cov_kwds = resolve_covariance(self.design, cov_type, cov_kwds,
                                                     nobs=self.nobs,
                                                     reduce=self._situation_clusters)
            start = (np.zeros(self.k_params) if start_params is None
                     else np.asarray(start_params, float))
            if start.shape != (self.k_params,):
                raise ValueError(f"start_params must have {self.k_params} values, "
                                 f"got {start.shape}")
            newton = newton_concave(self._evaluate, start, maxiter=maxiter, tol=tol)
            prob = self._probabilities(newton.params)
            boundary = (prob < _SEPARATION_EPS) & self.structure.available  # offered cells only
            n_boundary = int(np.count_nonzero(boundary.any(axis=1)))
            if n_boundary:
                warnings.warn(
                    f"fitted shares are numerically 0 in {n_boundary} choice situation(s): perfect "
                    "or quasi-complete separation, so the (quasi-)MLE may not exist; the affected "
                    "coefficients are not identified and their standard errors are very large",
                    SeparationWarning, stacklevel=2)
            fitted = MultinomialFit(params=newton.params, qllf=newton.value, n_iter=newton.n_iter,
                                    converged=newton.converged, n_boundary=n_boundary,
                                    info=newton.info)
            cov = estimator.compute(bread_from_information(newton.info),
                                    DenseScores(self.score_obs(newton.params)))
            return ConditionalResults(self, fitted, cov, estimator=estimator, cov_kwds=cov_kwds,
                                      use_t=use_t)


def _dropped_note(groups: list, partly: list) -> str:
    """The part of a share-sum error that says which situations lost rows to missing values."""
    lost = [g for g in groups if g in set(partly)]
    if not lost:
        return ""
    return (f"; {len(lost)} of them lost rows to missing values (first: {lost[:5]}): their "
            "remaining shares no longer sum to 1, so fill the missing values or drop those "
            "situations whole")

