r"""The delta method: standard errors of smooth functions of the parameters.

Every post-estimation quantity in beliefreg (a marginal effect, an elasticity, a prediction,
a willingness to pay, an optimal price) is a function :math:`f(\hat\beta)` of the estimates.
With :math:`J = \partial f / \partial \beta'` evaluated at :math:`\hat\beta` and
:math:`\widehat V` the covariance the model was fitted with (robust, clustered, ...),

.. math::

   \widehat{\mathrm{Var}}\big(f(\hat\beta)\big) = J \, \widehat V \, J'.

The Jacobian is analytic where the caller supplies it (the margins and the economics helpers
do), and numerical otherwise:

* **complex step** (exact to rounding: :math:`\mathrm{Im}\, f(\beta + i h e_j) / h`) when the
  function accepts complex parameters and gives the same answer as central differences (a
  function built from ``abs``, ``np.real`` or comparisons silently breaks the complex step; the
  cross-check catches it);
* **central differences** otherwise, with the scale-aware step
  :math:`h_j = \epsilon^{1/3} \max(|\beta_j|, \mathrm{se}_j)`.

A function that is not finite at the estimate, or not differentiable there (a kink or a jump:
the one-sided slopes disagree by an amount that does not shrink with the step), is refused with
a :class:`NonSmoothFunctionError` naming the parameter, since the delta method does not apply.

The engine is model-agnostic: :func:`delta_method` takes the parameters, their covariance and
a function, and returns a :class:`DeltaResult`; the results classes wrap it as ``nlcom``.
"""

from __future__ import annotations

import keyword
import re
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Literal, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import BeliefregError
from .wald import NORMAL, WaldInference

__all__ = [
    "DeltaResult",
    "delta_method",
    "numerical_jacobian",
    "parse_expression",
    "NonSmoothFunctionError",
    "JacobianMethod",
]

JacobianMethod = Literal["auto", "complex", "central"]

_EPS = np.finfo(float).eps
_CENTRAL_REL_STEP = _EPS ** (1.0 / 3.0)  # optimal for central differences (about 6e-6)
_COMPLEX_STEP = 1e-30


class NonSmoothFunctionError(BeliefregError):
    """The function is not finite, or not differentiable, at the estimate (no delta method)."""


# ---------------------------------------------------------------------------------- result
@dataclass
class DeltaResult:
    r"""Estimates of :math:`f(\hat\beta)` with delta-method standard errors.

    Attributes
    ----------
    estimate : pandas.Series, shape (m,)
        :math:`f(\hat\beta)`.
    jacobian : pandas.DataFrame, shape (m, k)
        :math:`\partial f / \partial \beta'` at the estimate; columns are the parameter names.
    param_cov : ndarray, shape (k, k)
        :math:`\widehat V`, the covariance of the parameters.
    cov : pandas.DataFrame, shape (m, m)
        :math:`J \widehat V J'`, the joint covariance of the estimates (so contrasts between
        them get correct standard errors); computed when asked for.
    jacobian_method : str
        ``'analytic'``, ``'complex'`` or ``'central'``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from beliefreg.inference.delta import delta_method
    >>> b = pd.Series([2.0, -0.5], index=["a", "price"])
    >>> V = np.diag([0.04, 0.01])
    >>> r = delta_method(lambda p: -p["a"] / p["price"], b, V, names=["wtp"])
    >>> r.summary_frame().round(4)
         estimate  std_err       z  p_value  ci_lower  ci_upper
    wtp       4.0   0.8944  4.4721      0.0     2.247     5.753
    """

    estimate: pd.Series
    jacobian: pd.DataFrame
    param_cov: np.ndarray
    jacobian_method: str = "analytic"
    inference: WaldInference = NORMAL
    _se: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def with_inference(self, inference: WaldInference) -> "DeltaResult":
        """The same estimates under another reference distribution / variance rule (the
        results objects stamp their own: t(df) with ``use_t``, the covariance check)."""
        return replace(self, inference=inference)

    @property
    def df(self) -> float | None:
        """Degrees of freedom of the t reference distribution; None for the normal."""
        return self.inference.df

    @property
    def cov(self) -> pd.DataFrame:
        """:math:`J \\widehat V J'`, the joint covariance of the estimates (m x m)."""
        j = self.jacobian.to_numpy()
        c = j @ self.param_cov @ j.T
        return pd.DataFrame(0.5 * (c + c.T), index=self.estimate.index,
                            columns=self.estimate.index)

    @property
    def std_err(self) -> pd.Series:
        """:math:`\\sqrt{J \\widehat V J'}` per row; NaN (with a
        :class:`~beliefreg.exceptions.CovarianceWarning`) where that variance is not positive
        because the covariance is not positive semi-definite or is singular (see
        :mod:`beliefreg.inference.wald`)."""
        if self._se is None:
            self._se = self.inference.std_errors(self.jacobian.to_numpy(), self.param_cov,
                                                 list(self.estimate.index))
        return pd.Series(self._se, index=self.estimate.index, name="std_err")

    @property
    def zvalues(self) -> pd.Series:
        """estimate / std_err: z statistics, or t statistics with ``use_t`` (named ``z`` or
        ``t`` accordingly, as is the column of :meth:`summary_frame`)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.estimate / self.std_err).rename(self.inference.stat_name)

    @property
    def pvalues(self) -> pd.Series:
        return pd.Series(self.inference.pvalue(self.zvalues.to_numpy()),
                         index=self.estimate.index, name="p_value")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals ``estimate -/+ q std_err``, q the normal (or t(df)) quantile;
        columns ``ci_lower, ci_upper``."""
        q = self.inference.critical_value(alpha)
        se = self.std_err
        return pd.DataFrame({"ci_lower": self.estimate - q * se,
                             "ci_upper": self.estimate + q * se})

    def summary_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Columns ``estimate, std_err, z, p_value, ci_lower, ci_upper`` (``t`` for ``z`` when
        the model was fitted with ``use_t``); one row per quantity.

        The statistic and p-value test that the quantity is 0: a z test (asymptotic normal),
        or a t test with ``df`` degrees of freedom when the model was fitted with ``use_t``.
        """
        ci = self.conf_int(alpha)
        return pd.DataFrame({"estimate": self.estimate, "std_err": self.std_err,
                             self.inference.stat_name: self.zvalues, "p_value": self.pvalues,
                             "ci_lower": ci["ci_lower"], "ci_upper": ci["ci_upper"]})

    def __len__(self) -> int:
        return len(self.estimate)

    def __repr__(self) -> str:
        return f"{type(self).__name__}\n{self.summary_frame().to_string()}"

    def _repr_html_(self) -> str:
        return self.summary_frame()._repr_html_()

    def contrast(self, weights: Any, *, names: Sequence[Any] | None = None) -> "DeltaResult":
        """Linear combinations ``C @ estimate`` (e.g. differences between groups), exact SEs.

        ``weights`` is a vector (one combination) or a matrix with one row per combination.
        """
        c = np.atleast_2d(np.asarray(weights, dtype=float))
        if c.shape[1] != len(self.estimate):
            raise ValueError(f"contrast weights have {c.shape[1]} columns, there are "
                             f"{len(self.estimate)} estimates")
        index = as_index(names if names is not None else [f"c{i}" for i in range(c.shape[0])])
        jac = c @ self.jacobian.to_numpy()
        return DeltaResult(
            estimate=pd.Series(c @ self.estimate.to_numpy(), index=index, name="estimate"),
            jacobian=pd.DataFrame(jac, index=index, columns=self.jacobian.columns),
            param_cov=self.param_cov, jacobian_method=self.jacobian_method,
            inference=self.inference)


def as_index(labels: Any) -> pd.Index:
    """Row labels as a pandas Index, a MultiIndex kept as one.

    ``pd.Index(multi_index)`` flattens it to an Index of tuples under pandas 3 (so
    ``.loc[('houseval', 'social')]`` fails); an Index is used as it is, and a list of tuples
    becomes a MultiIndex under every pandas version.
    """
    if isinstance(labels, pd.Index):
        return labels
    labels = list(labels)
    if labels and all(isinstance(x, tuple) for x in labels):
        return pd.MultiIndex.from_tuples(labels)
    return pd.Index(labels)


def _normal_quantile(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return float(stats.norm.isf(alpha / 2.0))


# ---------------------------------------------------------------------------------- engine
def delta_method(func: Callable[[Any], Any] | str, params: Any, cov: Any, *,
                 jacobian: Callable[[Any], Any] | np.ndarray | None = None,
                 names: Sequence[Any] | pd.Index | str | None = None,
                 method: JacobianMethod = "auto") -> DeltaResult:
    r"""The delta method for ``func(params)`` with covariance ``cov``.

    Parameters
    ----------
    func : callable, str or list of str
        Takes the parameters (a pandas Series indexed by the parameter names when ``params``
        is a Series, else an ndarray) and returns a scalar, an array or a Series (whose index
        names the outputs). A string is an expression in the parameter names, see
        :func:`parse_expression`; a list of strings gives one row per expression.
    params : pandas.Series or array_like, shape (k,)
    cov : pandas.DataFrame or array_like, shape (k, k)
        The covariance of ``params`` (a DataFrame is aligned to the Series' index).
    jacobian : callable or array_like, optional
        The analytic Jacobian, shape (m, k) (or (k,) for a scalar function), or a callable
        returning it from the parameters. Without it the Jacobian is numerical.
    names : sequence, pandas.Index or str, optional
        Names of the outputs. Default: the Series index ``func`` returns, or the expression.
    method : {'auto', 'complex', 'central'}
        The numerical Jacobian (ignored when ``jacobian`` is given): ``'auto'`` tries the
        complex step and keeps it only if central differences agree.

    Returns
    -------
    DeltaResult

    Raises
    ------
    NonSmoothFunctionError
        If ``func`` is not finite, or not differentiable, at ``params``.
    ValueError
        If ``cov`` does not match ``params`` or the analytic Jacobian has the wrong shape.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from beliefreg.inference.delta import delta_method
    >>> b = pd.Series([1.0, 0.5], index=["Intercept", "np.log(price)"])
    >>> r = delta_method("exp(`np.log(price)`) * Intercept", b, np.eye(2) * 0.01)
    >>> float(round(r.estimate.iloc[0], 6)), float(round(r.std_err.iloc[0], 6))
    (1.648721, 0.233164)
    """
    b_series, b, v = _check_params_cov(params, cov)
    expr_name = None
    if (isinstance(func, (list, tuple)) and func
            and all(isinstance(f, str) for f in func)):
        func = ", ".join(f.strip() for f in func)   # several expressions: several rows
    if not isinstance(func, str) and not callable(func):
        raise TypeError(f"func must be a callable or a string expression (several rows: one "
                        f"string with commas, or a list of strings), got "
                        f"{type(func).__name__}")
    if isinstance(func, str):
        expr_name = func.strip()
        func = parse_expression(func, list(b_series.index) if b_series is not None else None)

    def call(x: np.ndarray) -> Any:
        arg = pd.Series(x, index=b_series.index) if b_series is not None else x
        return func(arg)

    try:
        raw = call(b)
    except KeyError as exc:
        if b_series is None or (exc.args and exc.args[0] in b_series.index):
            raise
        # pandas 3: params[0] on a Series indexed by names is a KeyError, not a position
        raise KeyError(f"func looked up {exc.args[0] if exc.args else exc!r}, which is not a "
                       f"parameter: func receives the parameters as a pandas Series indexed "
                       f"by term name {list(b_series.index)} (by position: params.iloc[i], "
                       "or params.to_numpy()[i])") from None
    value = _as_vector(raw, what="the function")
    out_index = _output_index(raw, value, names, expr_name)
    bad = ~np.isfinite(value)
    if bad.any():
        raise NonSmoothFunctionError(
            f"the function is not finite at the estimate for output(s) "
            f"{list(out_index[bad])[:5]} (value {value[bad][:3].tolist()}); the delta method "
            "needs a finite, differentiable function")

    if jacobian is not None:
        jac = np.asarray(jacobian(b_series if b_series is not None else b)
                         if callable(jacobian) else jacobian, dtype=float)
        if jac.ndim == 1:
            jac = jac[None, :]
        if jac.shape != (len(value), len(b)):
            raise ValueError(f"the Jacobian has shape {jac.shape}, expected "
                             f"{(len(value), len(b))} (outputs x parameters)")
        used = "analytic"
    else:
        scale = np.sqrt(np.clip(np.diag(v), 0.0, None))
        jac, used = numerical_jacobian(lambda x: _as_vector(call(x), what="the function"), b,
                                       method=method, scale=scale, value=value,
                                       param_names=_param_names(b_series, b))
    return _result(value, jac, v, out_index, _param_names(b_series, b), used)


def _result(value: np.ndarray, jac: np.ndarray, v: np.ndarray, out_index: pd.Index,
            param_names: list[Any], method: str) -> DeltaResult:
    return DeltaResult(
        estimate=pd.Series(value, index=out_index, name="estimate"),
        jacobian=pd.DataFrame(jac, index=out_index, columns=param_names),
        param_cov=v, jacobian_method=method)


def _param_names(b_series: pd.Series | None, b: np.ndarray) -> list[Any]:
    return list(b_series.index) if b_series is not None else [f"p{j}" for j in range(len(b))]


def _check_params_cov(params: Any, cov: Any) -> tuple[pd.Series | None, np.ndarray, np.ndarray]:
    if isinstance(params, pd.Series):
        b_series = params.astype(float)
        if isinstance(cov, pd.DataFrame):
            missing = [n for n in b_series.index if n not in cov.index or n not in cov.columns]
            if missing:
                raise ValueError(f"the covariance has no rows/columns for parameters {missing}")
            cov = cov.loc[b_series.index, b_series.index]
    else:
        b_series = None
    b = np.asarray(params, dtype=float).reshape(-1)
    v = np.asarray(cov, dtype=float)
    if v.shape != (len(b), len(b)):
        raise ValueError(f"cov has shape {v.shape}, expected {(len(b), len(b))} for "
                         f"{len(b)} parameters")
    if not np.isfinite(b).all() or not np.isfinite(v).all():
        raise ValueError("params and cov must be finite")
    return b_series, b, v


def _as_vector(raw: Any, *, what: str) -> np.ndarray:
    if isinstance(raw, (pd.Series, pd.DataFrame)):
        raw = raw.to_numpy()
    arr = np.asarray(raw)
    if arr.dtype == object:
        raise TypeError(f"{what} returned {type(raw).__name__} values that are not numbers")
    if arr.ndim > 1:
        arr = arr.reshape(-1)
    return np.atleast_1d(arr)


def _output_index(raw: Any, value: np.ndarray, names: Any, expr_name: str | None) -> pd.Index:
    m = len(value)
    if names is not None:
        idx = pd.Index([names]) if isinstance(names, str) else as_index(names)
        if len(idx) != m:
            raise ValueError(f"{len(idx)} names given for {m} outputs")
        return idx
    if isinstance(raw, pd.Series):
        return raw.index
    if expr_name is not None and m == 1:
        return pd.Index([expr_name])
    return pd.Index(["nlcom"] if m == 1 else [f"nlcom_{i}" for i in range(m)])


# ---------------------------------------------------------------------------------- Jacobians
def numerical_jacobian(func: Callable[[np.ndarray], np.ndarray], x: Any, *,
                       method: JacobianMethod = "auto", scale: Any = None,
                       value: np.ndarray | None = None,
                       param_names: Sequence[Any] | None = None) -> tuple[np.ndarray, str]:
    r"""The Jacobian of a vector function at ``x``, numerically.

    Parameters
    ----------
    func : callable
        ``func(x) -> array (m,)``, ``x`` a float (or complex) array of shape (k,).
    x : array_like, shape (k,)
    method : {'auto', 'complex', 'central'}
        ``'complex'``: the complex step, exact to rounding for functions analytic in each
        argument written with complex-safe operations. ``'central'``: central differences
        with a check that the function is differentiable (one-sided slopes whose gap does
        not shrink with the step signal a kink or a jump). ``'auto'``: the complex step when
        it works and agrees with central differences, else central differences.
    scale : array_like, shape (k,), optional
        A typical size of each argument (e.g. its standard error); the central step is
        :math:`h_j = \epsilon^{1/3} \max(|x_j|, \mathrm{scale}_j)` (1 where both are 0).
    value : ndarray, optional
        ``func(x)``, if already computed.
    param_names : sequence, optional
        Used in error messages.

    Returns
    -------
    jacobian : ndarray, shape (m, k)
    method : str
        The method used, ``'complex'`` or ``'central'``.

    Raises
    ------
    NonSmoothFunctionError
        Non-finite values near ``x`` or a kink/jump at ``x``.
    """
    if method not in ("auto", "complex", "central"):
        raise ValueError(f"method must be 'auto', 'complex' or 'central', got {method!r}")
    x = np.asarray(x, dtype=float).reshape(-1)
    names = list(param_names) if param_names is not None else [f"x{j}" for j in range(len(x))]
    f0 = np.asarray(func(x), dtype=float).reshape(-1) if value is None else value
    jac_complex = None
    if method in ("auto", "complex"):
        jac_complex = _complex_step(func, x, len(f0))
        if method == "complex":
            if jac_complex is None:
                raise TypeError("the function does not support complex arguments (the complex"
                                " step needs complex-safe operations); use method='central'")
            return jac_complex, "complex"
    jac_central = _central_differences(func, x, f0, scale, names)
    if jac_complex is not None:
        tol = 1e-5 * (np.abs(jac_central) + np.abs(jac_complex)) + 1e-7 * (
            1.0 + np.max(np.abs(jac_central), initial=0.0))
        if np.all(np.abs(jac_complex - jac_central) <= tol):
            return jac_complex, "complex"
    return jac_central, "central"


def _complex_step(func: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                  m: int) -> np.ndarray | None:
    """Complex-step Jacobian, or None if the function does not carry complex values."""
    k = len(x)
    jac = np.empty((m, k))
    xc = x.astype(complex)
    h = _COMPLEX_STEP * np.maximum(np.abs(x), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for j in range(k):
            xc[j] = complex(x[j], h[j])
            try:
                out = np.asarray(func(xc))
            except (TypeError, ValueError, AttributeError, OverflowError, ZeroDivisionError):
                return None
            finally:
                xc[j] = x[j]
            if not np.iscomplexobj(out) or out.size != m:
                return None
            col = out.reshape(-1).imag / h[j]
            if not np.all(np.isfinite(col)):
                return None
            jac[:, j] = col
    return jac


def _central_differences(func: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                         f0: np.ndarray, scale: Any, names: list[Any]) -> np.ndarray:
    k = len(x)
    s = np.zeros(k) if scale is None else np.asarray(scale, dtype=float).reshape(-1)
    base = np.maximum(np.abs(x), s)
    base[base == 0.0] = 1.0
    jac = np.empty((len(f0), k))

    def ev(j: int, h: float) -> np.ndarray:
        xp = x.copy()
        xp[j] += h
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(func(xp), dtype=float).reshape(-1)
        if not np.all(np.isfinite(out)):
            raise NonSmoothFunctionError(
                f"the function is not finite when parameter {names[j]!r} moves by {h:.3g} "
                "from the estimate; the delta method needs a function that is finite and "
                "differentiable in a neighbourhood of the estimate")
        return out

    steps = np.empty(k)
    ups, downs = [], []
    for j in range(k):
        h = float((x[j] + _CENTRAL_REL_STEP * base[j]) - x[j])  # exactly representable
        steps[j] = h
        fp, fm = ev(j, h), ev(j, -h)
        ups.append(fp)
        downs.append(fm)
        jac[:, j] = (fp - fm) / (2.0 * h)
    # how much each output moves under the parameter steps: kinks far below that scale cannot
    # matter for J V J' (and would be indistinguishable from the function's own rounding)
    response = np.max(np.abs(np.array(ups) - np.array(downs)), axis=0) if k else 0.0
    for j in range(k):
        h, fp, fm = steps[j], ups[j], downs[j]
        # kink/jump check: for a smooth function the gap between the one-sided changes is
        # O(h^2 f''), a quarter of it for half the step; at a kink it halves, at a jump it stays.
        gap = np.abs((fp - f0) - (f0 - fm))
        size = np.abs(fp - f0) + np.abs(f0 - fm)
        noise = 1e3 * _EPS * (np.abs(f0) + 1.0) + 1e-4 * response
        suspect = gap > 0.1 * size + noise
        if suspect.any():
            h2 = h / 16.0
            fp2, fm2 = ev(j, h2), ev(j, -h2)
            gap2 = np.abs((fp2 - f0) - (f0 - fm2))
            # smooth: gap2 = gap / 256; kink: gap / 16; jump: gap
            kink = suspect & (gap2 > gap / 32.0) & (gap2 > noise)
            if kink.any():
                i = int(np.flatnonzero(kink)[0])
                slope_r, slope_l = (fp2[i] - f0[i]) / h2, (f0[i] - fm2[i]) / h2
                raise NonSmoothFunctionError(
                    f"the function is not differentiable in parameter {names[j]!r} at the "
                    f"estimate (output {i}: slope {slope_l:.6g} from the left, "
                    f"{slope_r:.6g} from the right); the delta method needs a smooth "
                    "function (abs, max, round and comparisons create kinks or jumps)")
    return jac


# ---------------------------------------------------------------------------------- strings
_FUNCTIONS: dict[str, Any] = {
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt,
    "sin": np.sin, "cos": np.cos, "tanh": np.tanh, "arctan": np.arctan,
    "expit": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "logit": lambda p: np.log(p) - np.log1p(-p),
    "pi": np.pi, "np": np,
}


def parse_expression(expr: str, param_names: Sequence[str] | None) -> Callable[[Any], Any]:
    r"""Turn a string such as ``"-sole / mrate"`` into a function of the parameters.

    Parameter names are the term names of ``params``; names that are not Python identifiers
    (``np.log(price)``, ``I(age ** 2)``, ``C(brand)[T.b]``) are recognised as written, or may be
    quoted in backticks (pandas' ``query`` style) to be explicit. The functions ``exp, log,
    log1p, expm1, sqrt, sin, cos, tanh, arctan, expit, logit``, the constant ``pi`` and ``np``
    are available. Several comma-separated expressions give several outputs.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the parameter names) or invalid syntax.
    """
    if param_names is None:
        raise ValueError("a string expression needs named parameters (a pandas Series)")
    names = [str(n) for n in param_names]
    placeholders = {n: f"__p{j}__" for j, n in enumerate(names)}
    text = expr

    def sub_backtick(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in placeholders:
            raise ValueError(f"unknown parameter `{name}` in {expr!r}; parameters: {names}")
        return placeholders[name]

    text = re.sub(r"`([^`]*)`", sub_backtick, text)
    if names:
        ordered = sorted(names, key=len, reverse=True)
        pattern = re.compile("|".join(
            rf"(?<![\w.]){re.escape(n)}(?![\w])" if n[-1:].isalnum() or n[-1:] == "_"
            else rf"(?<![\w.]){re.escape(n)}" for n in ordered))
        text = pattern.sub(lambda m: placeholders[m.group(0)], text)
    try:
        code = compile(f"({text})", "<nlcom expression>", "eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot parse the expression {expr!r}: {exc.msg}") from None
    known = set(placeholders.values()) | set(_FUNCTIONS)
    unknown = [n for n in code.co_names if n not in known and not keyword.iskeyword(n)
               and not _is_np_attribute(n, code)]
    if unknown:
        raise ValueError(f"unknown name(s) {unknown} in the expression {expr!r}; parameters "
                         f"are {names} (quote names with spaces or symbols in backticks)")
    index_of = {placeholders[n]: j for j, n in enumerate(names)}

    def func(params: Any) -> Any:
        values = params.to_numpy() if isinstance(params, pd.Series) else np.asarray(params)
        env = dict(_FUNCTIONS)
        env.update({ph: values[j] for ph, j in index_of.items()})
        out = eval(code, {"__builtins__": {}}, env)  # noqa: S307 - names checked above
        if isinstance(out, tuple):
            out = np.array(out)
        return out

    return func


def _is_np_attribute(name: str, code: Any) -> bool:
    """Attribute names after ``np.`` (e.g. ``exp`` in ``np.exp``) appear in co_names too."""
    return "np" in code.co_names and hasattr(np, name)
