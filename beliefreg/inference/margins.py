r"""Marginal effects and elasticities that understand the formula.

For a single-index model :math:`E[y \mid x] = G(\eta)`, :math:`\eta = x(v)'\beta`, where the
design row :math:`x(v)` is a function of a raw data variable :math:`v` through the formula
(``np.log(price) + I(price**2)``, interactions, ...), the observation-level effects are

.. math::

   \frac{\partial E[y \mid x]}{\partial v} = g(\eta)\, s, \qquad
   s = \frac{\partial \eta}{\partial v} = D'\beta, \qquad D = \frac{\partial x(v)}{\partial v},

with :math:`g = G'`. ``kind`` rescales them: ``'dydx'`` :math:`g s`; ``'eydx'``
:math:`g s / G`; ``'dyex'`` :math:`g s v`; ``'eyex'`` :math:`g s v / G` (the elasticity).
:math:`D` does not depend on :math:`\beta`: it is exact for columns linear in :math:`v`
(``v``, ``v:z``) and a central difference of the rebuilt design otherwise, computed once.
Averages over rows :math:`r` with weights :math:`w_r` (summing to one within a group) have the
analytic Jacobian

.. math::

   \frac{\partial}{\partial \beta'} \sum_r w_r g_r s_r
   = \sum_r w_r \big( g'_r s_r x_r' + g_r D_r' \big)

(and the corresponding expressions for the other kinds), so the standard errors
:math:`\sqrt{J V J'}` cost :math:`O(nk)`: no refits, no numerical differentiation in
:math:`\beta`. Binary (numeric 0/1) and categorical variables get discrete changes against the
base level, :math:`\sum_r w_r [G(x_r^{(1)}{}'\beta) - G(x_r^{(0)}{}'\beta)]` with Jacobian
:math:`\sum_r w_r [g_r^{(1)} x_r^{(1)} - g_r^{(0)} x_r^{(0)}]`.

:func:`generic_margins` computes the same quantities for any model from a prediction function
``predict(params, exog)`` (numerical in both the data and the parameters); the multinomial
models use it, and the tests use it to check :func:`index_margins`.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Sequence

import numpy as np
import pandas as pd

from .._blas_threads import single_blas_thread
from ..exceptions import DataError
from .datagrid import EvalFrame, VariableMap
from .delta import DeltaResult, _result, delta_method

__all__ = ["MarginKind", "BinaryHandling", "index_margins", "generic_margins",
           "check_kind", "check_binary"]

MarginKind = Literal["dydx", "eyex", "dyex", "eydx"]
BinaryHandling = Literal["change", "derivative"]
_KINDS = ("dydx", "eyex", "dyex", "eydx")


def check_kind(kind: str) -> str:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {list(_KINDS)}, got {kind!r}")
    return kind


def check_binary(binary: str) -> str:
    if binary not in ("change", "derivative"):
        raise ValueError(f"binary must be 'change' (discrete change 0 -> 1) or 'derivative', "
                         f"got {binary!r}")
    return binary


def _plan(vmap: VariableMap, variables: Sequence[str], kind: str, binary: str
          ) -> list[tuple[str, str, list[Any]]]:
    """(variable, 'derivative' | 'change', levels) for each variable.

    A categorical variable with a single level has no discrete change: it is left out (and
    :class:`~beliefreg.exceptions.DataError` is raised when it is the only variable).
    """
    plan = []
    single: list[tuple[str, list[Any]]] = []
    for v in variables:
        vk = vmap.kind(v)
        if vk == "continuous" or (vk == "binary" and binary == "derivative"):
            plan.append((v, "derivative", []))
            continue
        if kind != "dydx":
            hint = (" or binary='derivative' to treat the 0/1 variable as continuous"
                    if vk == "binary" else "")
            raise ValueError(f"{v!r} is {vk}: its effect is a discrete change, defined for "
                             f"kind='dydx' only (an elasticity needs a continuous variable); "
                             f"use kind='dydx'{hint}")
        levels = vmap.levels(v)
        if len(levels) < 2:
            single.append((v, levels))
            continue
        plan.append((v, "change", levels))
    if not plan:
        v, levels = single[0]
        raise DataError(f"{v!r} takes a single level ({levels[0]!r}) in the data the model "
                        "was fitted on: it has no level to contrast with, so it has no "
                        "marginal effect (its design columns are absorbed by the intercept)")
    return plan


def _labels(plan: list[tuple[str, str, list[Any]]]) -> list[str]:
    out = []
    for v, how, levels in plan:
        if how == "derivative":
            out.append(v)
        else:
            out.extend(f"{v}: {lev} - {levels[0]}" for lev in levels[1:])
    return out


def _index(labels: list[str], frame: EvalFrame) -> pd.Index:
    if frame.groups is None:
        return pd.Index(labels, name="term")
    groups = frame.groups
    tuples = []
    for lab in labels:
        for g in groups:
            tuples.append((lab,) + (g if isinstance(g, tuple) else (g,)))
    names = ["term"] + list(groups.names)
    return pd.MultiIndex.from_tuples(tuples, names=names)


_BLOCK_ROWS = 32768


def _derivative_effects(link: Any, b: np.ndarray, frame: EvalFrame, vmap: VariableMap,
                        deriv: list[tuple[str, tuple[np.ndarray, np.ndarray]]],
                        kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Averaged effects (m, G) and Jacobians (m, G, k) of the continuous variables.

    One pass over the rows in cache-sized blocks: per block the index, g and g' are computed
    once, the m effects and Jacobian weights fill an (m, rows) array, and the Jacobian gets
    one matrix product with the block of the design: O(n m k) in BLAS, no n x m temporaries.
    """
    x, w = frame.exog, frame.weights
    m, k, n_groups = len(deriv), len(b), frame.n_groups
    est = np.zeros((m, n_groups))
    jac = np.zeros((m, n_groups, k))
    values = ([_numeric(frame.data, v) for v, _ in deriv] if kind in ("dyex", "eyex")
              else None)
    coefs = [b[cols] for _, (cols, _) in deriv]
    for gi, sl in enumerate(frame.slices()):
        for start in range(sl.start, sl.stop, _BLOCK_ROWS):
            rows = slice(start, min(start + _BLOCK_ROWS, sl.stop))
            xb, wb = x[rows], w[rows]
            eta = xb @ b
            g, gp = link.pdf(eta), link.dpdf(eta)
            mu = link.cdf(eta) if kind in ("eydx", "eyex") else None
            a_block = np.empty((m, len(eta)))
            for i, (_, (cols, dmat)) in enumerate(deriv):
                db = dmat[rows]
                s = _slope(db, coefs[i])                 # d eta / d v, per row
                e, a, c = g * s, gp * s, g
                if values is not None:  # times v
                    val = values[i][rows]
                    e, a, c = e * val, a * val, c * val
                if mu is not None:  # divided by G; d G / d b = g x
                    e, a, c = e / mu, (a - e * g / mu) / mu, c / mu
                est[i, gi] += wb @ e
                np.multiply(a, wb, out=a_block[i])
                jac[i, gi, cols] += (wb * c) @ db
            jac[:, gi, :] += a_block @ xb
    return est, jac


def _slope(dmat: np.ndarray, coefs: np.ndarray) -> np.ndarray:
    """``dmat @ coefs`` for a few columns, without a slow (n, 1) matrix product."""
    out = dmat[:, 0] * coefs[0]
    for j in range(1, dmat.shape[1]):
        out = out + dmat[:, j] * coefs[j]
    return out


def _numeric(data: pd.DataFrame, variable: str) -> np.ndarray:
    return np.asarray(data[variable], dtype=float)


# ---------------------------------------------------------------------------------- analytic
def index_margins(link: Any, params: pd.Series, cov: Any, vmap: VariableMap,
                  frame: EvalFrame, variables: Sequence[str], *, kind: str = "dydx",
                  binary: str = "change") -> DeltaResult:
    r"""Average marginal effects of a single-index model ``E[y|x] = G(x'b)``, analytic SEs.

    Parameters
    ----------
    link : Link
        Provides ``cdf`` (G), ``pdf`` (g) and ``dpdf`` (g').
    params : pandas.Series
    cov : array_like
        The covariance of ``params`` the model was fitted with.
    vmap : VariableMap
    frame : EvalFrame
        The rows (and groups, weights) the effects are averaged over.
    variables : sequence of str
        Raw variable names (validated by the caller).
    kind : {'dydx', 'eyex', 'dyex', 'eydx'}
    binary : {'change', 'derivative'}
        Numeric 0/1 variables: discrete change 0 -> 1 (default) or derivative.

    Returns
    -------
    DeltaResult
        One row per variable (per level for categorical ones), times groups.
    """
    with single_blas_thread():  # no extra frame: warnings keep their stacklevel
        check_kind(kind)
        check_binary(binary)
        plan = _plan(vmap, variables, kind, binary)
        b = params.to_numpy(dtype=float)
        x = frame.exog
        deriv = [(v, frame.derivative(vmap, v)) for v, how, _ in plan if how == "derivative"]
        if deriv:
            d_est, d_jac = _derivative_effects(link, b, frame, vmap, deriv, kind)
        # discrete changes, in plan order after the derivatives: reorder at the end
        change_rows = {}
        for v, how, levels in plan:
            if how != "change":
                continue
            x0 = frame.with_value(vmap, v, levels[0])
            eta0 = x0 @ b
            p0, g0 = link.cdf(eta0), link.pdf(eta0)
            base_sum, base_jac = frame.group_sum(p0), frame.group_xsum(g0, x0)
            rows_e, rows_j = [], []
            for lev in levels[1:]:
                x1 = frame.with_value(vmap, v, lev)
                eta1 = x1 @ b
                rows_e.append(frame.group_sum(link.cdf(eta1)) - base_sum)
                rows_j.append(frame.group_xsum(link.pdf(eta1), x1) - base_jac)
            change_rows[v] = (np.concatenate(rows_e), np.concatenate(rows_j, axis=0))
        # assemble in the order of `plan`
        estimates, jacobians = [], []
        di = 0
        for v, how, _ in plan:
            if how == "derivative":
                estimates.append(d_est[di])
                jacobians.append(d_jac[di])
                di += 1
            else:
                estimates.append(change_rows[v][0])
                jacobians.append(change_rows[v][1])
        value = np.concatenate(estimates)
        jacobian = np.concatenate(jacobians, axis=0)
        index = _index(_labels(plan), frame)
        v_mat = np.asarray(cov, dtype=float)
        return _result(value, jacobian, v_mat, index, list(params.index), "analytic")


# ---------------------------------------------------------------------------------- generic
def generic_margins(predict: Callable[[np.ndarray, np.ndarray], np.ndarray], params: pd.Series,
                    cov: Any, vmap: VariableMap, frame: EvalFrame,
                    variables: Sequence[str], *, kind: str = "dydx", binary: str = "change",
                    outcome_names: Sequence[Any] | None = None) -> DeltaResult:
    r"""Average marginal effects for any model, from ``predict(params, exog)``.

    The effect of a continuous variable is a central difference of the predictions with the
    design rebuilt at :math:`v \pm h` (per-row step :math:`h = \epsilon^{1/3} |v|`; one-sided
    second-order at a row whose step would leave the estimation data's range, e.g. a
    spline's outermost knots: :class:`~beliefreg.inference.datagrid.DifferenceStencil`); discrete
    changes rebuild it at each level. The Jacobian in the parameters is numerical
    (:func:`~beliefreg.inference.delta.delta_method`). Cost: :math:`O(k)` prediction calls.
    Differences nested in the data and in the parameters make the standard errors accurate to
    about 1e-4 relative (the analytic :func:`index_margins` to rounding).

    Parameters
    ----------
    predict : callable
        ``predict(params_array, exog) -> (n,)`` or ``(n, J)`` (e.g. one column per alternative
        of a multinomial model).
    outcome_names : sequence, optional
        Names of the prediction columns when ``predict`` returns ``(n, J)``.

    Returns
    -------
    DeltaResult
        Rows: variable (level) x outcome x group.
    """
    with single_blas_thread():  # no extra frame: warnings keep their stacklevel
        check_kind(kind)
        check_binary(binary)
        plan = _plan(vmap, variables, kind, binary)
        x = frame.exog
        pieces: list[tuple[str, Any]] = []
        for v, how, levels in plan:
            if how == "derivative":
                base = _numeric(frame.data, v)
                st = vmap.difference_stencil(base, v)   # one-sided at the data's bounds
                up = frame.data.copy()
                up[v] = st.a
                down = frame.data.copy()
                down[v] = st.b
                x_up = _shift(vmap, up, x, v)
                x_down = _shift(vmap, down, x, v)
                pieces.append(("derivative", (x_up, x_down, st, base)))
            else:
                xs = [frame.with_value(vmap, v, lev) for lev in levels]
                pieces.append(("change", xs))

        def as2d(p: np.ndarray) -> np.ndarray:
            p = np.asarray(p)
            return p[:, None] if p.ndim == 1 else p

        def func(b: np.ndarray) -> np.ndarray:
            out = []
            p_here = as2d(predict(b, x)) if kind != "dydx" else None
            for how, data in pieces:
                if how == "derivative":
                    x_up, x_down, st, val = data
                    eff = (as2d(predict(b, x_up)) * st.w_a[:, None]
                           + as2d(predict(b, x_down)) * st.w_b[:, None])
                    if st.one_sided.any():
                        p_base = p_here if p_here is not None else as2d(predict(b, x))
                        eff = eff + p_base * st.w_c[:, None]
                    eff = eff / st.h[:, None]
                    if kind in ("dyex", "eyex"):
                        eff = eff * val[:, None]
                    if kind in ("eydx", "eyex"):
                        eff = eff / p_here
                    out.append(frame.group_sum(eff).T.reshape(-1))       # outcome-major, group
                else:
                    preds = [as2d(predict(b, xl)) for xl in data]
                    for p1 in preds[1:]:
                        out.append(frame.group_sum(p1 - preds[0]).T.reshape(-1))
            return np.concatenate(out)

        n_out = as2d(predict(params.to_numpy(dtype=float), x[:1])).shape[1]
        labels = _labels(plan)
        if n_out == 1:
            index = _index(labels, frame)
        else:
            outcomes = list(outcome_names) if outcome_names is not None else list(range(n_out))
            if len(outcomes) != n_out:
                raise ValueError(f"{len(outcomes)} outcome names for {n_out} prediction columns")
            groups = frame.groups
            tuples = []
            for lab in labels:
                for o in outcomes:
                    if groups is None:
                        tuples.append((lab, o))
                    else:
                        for gl in groups:
                            tuples.append((lab, o) + (gl if isinstance(gl, tuple) else (gl,)))
            names = ["term", "outcome"] + ([] if groups is None else list(groups.names))
            index = pd.MultiIndex.from_tuples(tuples, names=names)
        return delta_method(lambda p: func(p.to_numpy(dtype=float)), params.astype(float),
                            np.asarray(cov, dtype=float), names=index, method="central")


def _shift(vmap: VariableMap, data: pd.DataFrame, x: np.ndarray, v: str) -> np.ndarray:
    terms = vmap.terms_using(v)
    cols = np.concatenate([t.columns for t in terms])
    out = x.copy()
    if vmap.formula:
        out[:, cols] = vmap.build_columns(data, terms)
    else:
        out[:, cols] = data[[vmap.exog_names[c] for c in cols]].to_numpy(dtype=float)
    return out
