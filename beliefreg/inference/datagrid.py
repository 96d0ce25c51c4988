"""Raw data variables behind a design, and the rows post-estimation quantities are evaluated at.

Margins differentiate with respect to a *raw data variable*, not a design column: in
``y ~ np.log(price) + I(price**2)`` the variable ``price`` moves two columns. A
:class:`VariableMap` knows, for a fitted design, which raw variables the formula uses, which
design columns each one moves, whether it is continuous, binary (numeric 0/1) or categorical,
and rebuilds just those columns for changed data (patsy's ``DesignInfo.subset`` keeps the
stateful transforms, e.g. ``center(x)``, as fitted). For a model built from arrays the
"variables" are the design columns themselves.

An :class:`EvalFrame` is the set of rows a quantity is averaged over (``at='overall'``: the
estimation rows; ``'mean'``: one row of means; a dict: the estimation rows with some variables
fixed; a DataFrame: its rows), with averaging weights and groups (``by=``).
"""

from __future__ import annotations

import ast
import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
import patsy

from .._passes import constant_columns
from ..exceptions import BeliefregError, DataError
from ..frames import as_pandas_frame, is_dataframe_like
from ..models.design import build_matrix

__all__ = ["VariableMap", "EvalFrame", "evaluation_frame", "VariableKind", "AtSpec",
           "UnknownVariableError", "DifferenceStencil"]

VariableKind = Literal["continuous", "binary", "categorical"]
AtSpec = Any  # 'overall' | 'mean' | Mapping[str, Any] | pandas.DataFrame

_FD_REL_STEP = np.finfo(float).eps ** (1.0 / 3.0)


@dataclass(frozen=True)
class DifferenceStencil:
    r"""Per-row finite-difference points for :math:`\partial f / \partial v` that stay inside
    the range of the estimation data where they can.

    :math:`f'(v_i) \approx (w_a f(a_i) + w_b f(b_i) + w_c f(v_i)) / h_i`. Central
    (:math:`a, b = v \pm h`; weights 1/2, -1/2, 0) where both points lie in :math:`[lo, hi]`;
    at a row where the forward (backward) step would leave the range the second-order
    one-sided difference :math:`(\mp 3 f(v) \pm 4 f(v \pm h) \mp f(v \pm 2h)) / 2h`, whose
    error is :math:`O(h^2)` like the central one. A stateful transform with learnt bounds
    (patsy's ``bs``, ``cr``: the outermost knots are the data's minimum and maximum) is then
    never evaluated outside them at the observed rows. Rows outside the range keep the
    central difference.
    """

    h: np.ndarray
    a: np.ndarray
    b: np.ndarray
    w_a: np.ndarray
    w_b: np.ndarray
    w_c: np.ndarray        # weight of f(v) itself: nonzero only at one-sided rows

    @property
    def one_sided(self) -> np.ndarray:
        return self.w_c != 0.0

    @classmethod
    def at(cls, base: np.ndarray, h: np.ndarray, lo: float = -np.inf,
           hi: float = np.inf) -> "DifferenceStencil":
        inside = (base >= lo) & (base <= hi)
        central = (base - h >= lo) & (base + h <= hi)
        backward = inside & ~central & (base + h > hi) & (base - 2 * h >= lo)
        forward = inside & ~central & ~backward & (base - h < lo) & (base + 2 * h <= hi)
        sign = np.where(backward, -1.0, 1.0)
        one = backward | forward
        a = base + sign * h
        b = np.where(one, base + 2 * sign * h, base - h)
        return cls(h=h, a=a, b=b, w_a=np.where(one, 2.0 * sign, 0.5),
                   w_b=np.where(one, -0.5 * sign, -0.5), w_c=np.where(one, -1.5 * sign, 0.0))


class UnknownVariableError(BeliefregError, KeyError):
    """A variable name that the model's formula does not use (or that the data lack)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


def _quoted_name(node: ast.AST) -> str | None:
    """The column named by patsy's quoting ``Q('unit price')``, or None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Q"
            and len(node.args) == 1 and not node.keywords
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


def _names_in_code(code: str) -> set[str]:
    """Names used by a patsy factor's Python code, e.g. 'np.log(price)'.

    Identifiers, and the column names quoted with patsy's ``Q('unit price')`` (for columns
    whose names are not identifiers: spaces, Python keywords).
    """
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:  # pragma: no cover - patsy accepted it, so it parses
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        quoted = _quoted_name(node)
        if quoted is not None:
            names.add(quoted)
    return names


def _bare_variable(code: str, columns: set[str]) -> str | None:
    """The column a factor is exactly (``price`` or ``Q('unit price')``), or None."""
    code = code.strip()
    if code in columns:
        return code
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:  # pragma: no cover
        return None
    quoted = _quoted_name(tree.body)
    return quoted if quoted in columns else None


@dataclass
class _Term:
    columns: np.ndarray          # indices of the term's design columns
    variables: set[str]          # raw variables used by any factor of the term
    linear_in: set[str]          # variables entering as one bare numerical factor (x, x:z)
    categorical_in: set[str]     # variables used by a categorical factor (C(x), strings, bools)
    name: str
    bare: str | None = None      # the term is exactly this variable (one column equal to it)


class VariableMap:
    """The raw variables behind a :class:`~beliefreg.models.design.Design`.

    Parameters
    ----------
    design : Design
        The estimation design (from a formula, or from arrays).
    """

    def __init__(self, design: Any) -> None:
        self.design = design
        self.formula = design.design_info is not None and design.data is not None
        names = list(design.exog_names)
        self.exog_names = names
        if self.formula:
            self._init_formula()
        else:
            const = constant_columns(design.exog)
            self.variables = [n for j, n in enumerate(names) if not const[j]]
            self._terms = [_Term(np.array([j]), {n}, {n}, set(), n)
                           for j, n in enumerate(names)]
            self._categories: dict[str, tuple[Any, ...]] = {}
        self._kinds: dict[str, VariableKind] = {}

    # ------------------------------------------------------------------ construction
    def _init_formula(self) -> None:
        info = self.design.design_info
        data = self.design.data
        columns = set(map(str, data.columns))
        self._categories = {}
        terms = []
        used: list[str] = []
        for term in info.terms:
            sl = info.term_slices[term]
            variables: set[str] = set()
            linear: set[str] = set()
            categorical: set[str] = set()
            factor_vars = []
            for factor in term.factors:
                fvars = _names_in_code(factor.code) & columns
                factor_vars.append(fvars)
                variables |= fvars
                finfo = info.factor_infos[factor]
                if finfo.type == "categorical":
                    categorical |= fvars
                    if len(fvars) == 1:
                        (v,) = fvars
                        self._categories.setdefault(v, tuple(finfo.categories))
                elif _bare_variable(factor.code, columns) is not None \
                        and finfo.num_columns == 1:
                    linear.add(_bare_variable(factor.code, columns))
            # linear only if the variable appears in exactly one factor of the term
            linear = {v for v in linear if sum(v in fv for fv in factor_vars) == 1}
            for v in sorted(variables):
                if v not in used:
                    used.append(v)
            first = (_bare_variable(term.factors[0].code, columns)
                     if len(term.factors) == 1 else None)
            bare = first if len(linear) == 1 and first in linear else None
            terms.append(_Term(np.arange(sl.start, sl.stop), variables, linear, categorical,
                               term.name(), bare))
        self._terms = terms
        rhs = str(self.design.formula).split("~", 1)[-1]

        def position(v: str) -> int:
            m = re.search(rf"(?<![\w.]){re.escape(v)}(?!\w)", rhs)
            return m.start() if m else len(rhs)

        self.variables = sorted(used, key=position)  # the order of the formula's text

    # ------------------------------------------------------------------ queries
    def check_variables(self, variables: Any, *, what: str = "variable") -> list[str]:
        """Validate names: each must be a raw variable that the design uses."""
        if variables is None:
            return list(self.variables)
        if isinstance(variables, str):
            variables = [variables]
        out = []
        for v in variables:
            if v not in self.variables:
                raise UnknownVariableError(self._unknown_message(v, what))
            out.append(v)
        if not out:
            raise ValueError(f"no {what} given")
        return out

    def _unknown_message(self, name: Any, what: str) -> str:
        if self.formula:
            data = self.design.data
            if name in data.columns:
                return (f"{what} {name!r} is a column of the data but is not in the formula "
                        f"{self.design.formula!r}; the formula's variables are {self.variables}")
            term_hit = [t.name for t in self._terms if t.name == name and len(t.variables) == 1]
            hint = ""
            if term_hit:
                (v,) = [t.variables for t in self._terms if t.name == name][0]
                hint = f" ({name!r} is a term; margins are taken w.r.t. the raw variable {v!r})"
            return (f"unknown {what} {name!r}{hint}; the formula's variables are "
                    f"{self.variables}")
        return (f"unknown {what} {name!r}; the model's (non-constant) columns are "
                f"{self.variables}")

    def terms_using(self, variable: str) -> list[_Term]:
        return [t for t in self._terms if variable in t.variables]

    def columns_of(self, variable: str) -> np.ndarray:
        terms = self.terms_using(variable)
        return np.concatenate([t.columns for t in terms]) if terms else np.array([], int)

    def kind(self, variable: str) -> VariableKind:
        """'categorical' (strings, bools, ``C(x)``), 'binary' (numeric 0/1) or 'continuous'."""
        if variable in self._kinds:
            return self._kinds[variable]
        if not self.formula:  # every design column at once: one pass over the matrix
            x = self.design.exog
            zero = x == 0.0
            binary = np.all(zero | (x == 1.0), axis=0) & zero.any(axis=0) & ~zero.all(axis=0)
            self._kinds.update({n: "binary" if binary[j] else "continuous"
                                for j, n in enumerate(self.exog_names)})
            return self._kinds[variable]
        values = self.estimation_data()[variable]
        if any(variable in t.categorical_in for t in self.terms_using(variable)) or not (
                pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
            kind: VariableKind = "categorical"
        else:
            arr = np.asarray(values, dtype=float)
            zero = arr == 0.0
            binary = bool(np.all(zero | (arr == 1.0))) and zero.any() and not zero.all()
            kind = "binary" if binary else "continuous"
        self._kinds[variable] = kind
        return kind

    def levels(self, variable: str) -> list[Any]:
        """Levels of a categorical or binary variable, the base (reference) level first."""
        kind = self.kind(variable)
        if kind == "binary":
            return [0, 1]
        if kind != "categorical":
            raise ValueError(f"{variable!r} is continuous: it has no levels")
        if variable in self._categories:
            return list(self._categories[variable])
        values = self.estimation_data()[variable]
        if isinstance(values.dtype, pd.CategoricalDtype):
            return list(values.cat.categories)
        return sorted(pd.unique(values), key=lambda x: (str(type(x)), x))

    def linear_in(self, variable: str) -> bool:
        """True if every column the variable moves is linear in it (exact derivative)."""
        return all(variable in t.linear_in for t in self.terms_using(variable))

    # ------------------------------------------------------------------ data
    def estimation_data(self) -> pd.DataFrame:
        """The raw variables at the estimation rows (for arrays: the design columns)."""
        if not hasattr(self, "_est_data"):
            if self.formula:
                self._est_data = self.design.estimation_rows()[self.variables]
            else:
                # a view of the design (no copy: it is read, never written)
                self._est_data = pd.DataFrame(self.design.exog, columns=self.exog_names,
                                              index=self.design.row_labels, copy=False)
        return self._est_data

    def check_newdata(self, newdata: Any, *, what: str = "newdata") -> pd.DataFrame:
        """A DataFrame with every variable the design needs (clear error otherwise)."""
        if is_dataframe_like(newdata) and self.formula:
            newdata = as_pandas_frame(newdata, what=what, newdata=True)
        elif not isinstance(newdata, pd.DataFrame):
            if isinstance(newdata, Mapping):
                newdata = pd.DataFrame({k: np.atleast_1d(v) for k, v in newdata.items()})
                if self.formula:
                    newdata = as_pandas_frame(newdata, what=what, newdata=True)
            elif not self.formula:
                arr = np.atleast_2d(np.asarray(newdata, dtype=float))
                if arr.shape[1] != len(self.exog_names):
                    raise DataError(f"{what} has {arr.shape[1]} columns, the model has "
                                    f"{len(self.exog_names)}: {self.exog_names}")
                return pd.DataFrame(arr, columns=self.exog_names)
            else:
                raise TypeError(f"{what} must be a pandas DataFrame (or a dict of columns), "
                                f"got {type(newdata).__name__}")
        needed = self.variables if self.formula else self.exog_names
        missing = [v for v in needed if v not in newdata.columns]
        if missing:
            raise DataError(f"{what} is missing column(s) {missing} used by the model "
                            f"({self.design.formula or 'design columns'})")
        bad = newdata[needed].isna().any(axis=1).to_numpy()
        if bad.any():
            cols = [v for v in needed if newdata[v].isna().any()]
            raise DataError(f"{what} has missing values in rows {list(newdata.index[bad][:5])}"
                            f" (column(s) {cols})")
        return newdata

    def build(self, data: pd.DataFrame) -> np.ndarray:
        """The full design matrix for ``data`` (which has every variable)."""
        if not self.formula:
            return data[self.exog_names].to_numpy(dtype=float)
        x = build_matrix(self.design.design_info, data,
                         context="cannot rebuild the design for new data", NA_action="raise",
                         return_type="matrix")
        return np.asarray(x, dtype=float)

    def build_columns(self, data: pd.DataFrame, terms: Sequence[_Term], *,
                      allow_nan: bool = False) -> np.ndarray:
        """Only the design columns of ``terms`` for ``data``, shape (n, sum of widths).

        ``allow_nan=True`` lets non-finite values through (e.g. ``np.log`` of a negative
        trial price in a root search) instead of raising.
        """
        if not self.formula:
            return np.column_stack([data[self.exog_names[t.columns[0]]].to_numpy(dtype=float)
                                    for t in terms])
        info = self.design.design_info
        sub = info.subset([t.name for t in terms]) if len(terms) < len(info.terms) else info
        needed = sorted(set().union(*(t.variables for t in terms)))
        frame = data[needed] if needed else pd.DataFrame(index=data.index)
        x = build_matrix(sub, frame,
                         context=f"cannot rebuild the design columns {[t.name for t in terms]}",
                         NA_action=patsy.NAAction(NA_types=[]) if allow_nan else "raise",
                         return_type="matrix")
        x = np.asarray(x, dtype=float)
        if x.shape[0] != len(data):  # a term without variables (constant) broadcasts
            x = np.broadcast_to(x, (len(data), x.shape[1])).copy()
        return x

    def value_columns(self, data: pd.DataFrame, variable: str,
                      value: Any) -> tuple[np.ndarray, np.ndarray]:
        """The columns ``variable`` moves, rebuilt with it set to ``value`` in every row."""
        terms = self.terms_using(variable)
        cols = np.concatenate([t.columns for t in terms])
        if not self.formula:
            return cols, np.full((len(data), len(cols)), float(value))
        changed = self._needed(data, terms)
        changed[variable] = _broadcast_value(value, len(data), data[variable])
        return cols, self.build_columns(changed, terms)

    def with_value(self, data: pd.DataFrame, exog: np.ndarray, variable: str,
                   value: Any) -> np.ndarray:
        """``exog`` with ``variable`` set to ``value`` in every row (affected columns rebuilt)."""
        cols, block = self.value_columns(data, variable, value)
        out = exog.copy()
        out[:, cols] = block
        return out

    def _needed(self, data: pd.DataFrame, terms: Sequence[_Term]) -> pd.DataFrame:
        """A copy of just the columns of ``data`` that ``terms`` use."""
        needed = sorted(set().union(*(t.variables for t in terms)))
        return data[needed].copy()

    def difference_stencil(self, base: np.ndarray, variable: str) -> DifferenceStencil:
        """Finite-difference points for ``variable`` at the values ``base``: per-row step
        ``eps**(1/3) * |x_i|`` (the estimation data's standard deviation at 0), kept inside the
        range of the estimation data (see :class:`DifferenceStencil`)."""
        values = self.estimation_data()[variable].to_numpy(float)
        scale = np.abs(base)
        fallback = float(np.std(values)) or 1.0
        h = _FD_REL_STEP * np.where(scale > 0, scale, fallback)
        h = (base + h) - base  # exactly representable steps
        if not self.formula or not len(values):
            return DifferenceStencil.at(base, h)
        return DifferenceStencil.at(base, h, float(np.nanmin(values)), float(np.nanmax(values)))

    def derivative(self, data: pd.DataFrame, variable: str) -> tuple[np.ndarray, np.ndarray]:
        """d(design row)/d(variable) at every row: (column indices, matrix n x len(cols)).

        Columns linear in the variable are exact: 1 for the bare ``x`` (no rebuild), the other
        factors for ``x:z``, ``x:C(g)`` (the design rebuilt with the variable set to 1).
        Others (``np.log(x)``, ``I(x**2)``, ``center(x)``, ``bs(x, df=3)``) use central
        differences with the per-row step ``eps**(1/3) * |x_i|`` (one build of the stacked rows
        ``x -/+ h``), one-sided second-order ones at a row whose step would leave the range of
        the estimation data (a spline's outermost knots): see :class:`DifferenceStencil`.
        """
        terms = self.terms_using(variable)
        cols, blocks = [], []
        linear = [t for t in terms if variable in t.linear_in]
        other = [t for t in terms if variable not in t.linear_in]
        base = np.asarray(data[variable], dtype=float)
        if not self.formula:  # a design column: d x_j / d x_j = 1 (a read-only broadcast)
            return self.columns_of(variable), np.broadcast_to(1.0, (len(data), 1))
        bare = [t for t in linear if t.bare == variable]   # the column is the variable
        linear = [t for t in linear if t.bare != variable]
        if bare:
            cols.append(np.concatenate([t.columns for t in bare]))
            blocks.append(np.broadcast_to(1.0, (len(data), len(bare))))
        if linear:
            ones = self._needed(data, linear)
            ones[variable] = 1.0
            cols.append(np.concatenate([t.columns for t in linear]))
            blocks.append(self.build_columns(ones, linear))
        if other:
            st = self.difference_stencil(base, variable)
            needed = self._needed(data, other)
            one = np.flatnonzero(st.one_sided)
            # one build for all points: a and b at every row, v itself at one-sided rows
            stacked = pd.concat([needed, needed, needed.iloc[one]], ignore_index=True)
            stacked[variable] = np.concatenate([st.a, st.b, base[one]])
            with np.errstate(all="ignore"):
                x = self.build_columns(stacked, other, allow_nan=True)
            n = len(base)
            d = x[:n] * st.w_a[:, None] + x[n:2 * n] * st.w_b[:, None]
            if len(one):
                d[one] += x[2 * n:] * st.w_c[one, None]
            d /= st.h[:, None]
            if not np.all(np.isfinite(d)):
                bad = np.flatnonzero(~np.isfinite(d).all(axis=1))
                raise DataError(
                    f"the design is not differentiable in {variable!r} at {len(bad)} row(s) "
                    f"(first: value {float(base[bad[0]])!r}); e.g. np.log at 0. Evaluate margins "
                    "where the formula's transforms are smooth")
            cols.append(np.concatenate([t.columns for t in other]))
            blocks.append(d)
        if len(blocks) == 1:
            return cols[0], blocks[0]
        return np.concatenate(cols), np.hstack(blocks)


def _broadcast_value(value: Any, n: int, like: pd.Series) -> Any:
    if np.ndim(value) != 0:
        raise ValueError(f"a fixed value must be a scalar, got {value!r}")
    return pd.Series([value] * n, index=like.index) if isinstance(value, str) else value


# ---------------------------------------------------------------------------------- frames
@dataclass
class EvalFrame:
    """Rows at which a quantity is evaluated, grouped, with averaging weights.

    Rows are sorted by group; ``bounds[g]:bounds[g+1]`` are group *g*'s rows, and the weights
    sum to 1 within each group.
    """

    data: pd.DataFrame
    exog: np.ndarray
    weights: np.ndarray
    bounds: np.ndarray
    groups: pd.Index | None  # labels of the groups (None: one group, no label)
    cache: dict = field(default_factory=dict, repr=False)

    def derivative(self, vmap: VariableMap, variable: str) -> tuple[np.ndarray, np.ndarray]:
        """``vmap.derivative`` at these rows, computed once (it does not depend on params)."""
        key = ("d", variable)
        if key not in self.cache:
            self.cache[key] = vmap.derivative(self.data, variable)
        return self.cache[key]

    def with_value(self, vmap: VariableMap, variable: str, value: Any) -> np.ndarray:
        """The design with ``variable`` set to ``value`` (the changed columns are cached)."""
        key = ("v", variable, value)
        if key not in self.cache:
            self.cache[key] = vmap.value_columns(self.data, variable, value)
        cols, block = self.cache[key]
        out = self.exog.copy()
        out[:, cols] = block
        return out

    @property
    def n_groups(self) -> int:
        return len(self.bounds) - 1

    def slices(self) -> list[slice]:
        return [slice(int(a), int(b)) for a, b in zip(self.bounds[:-1], self.bounds[1:])]

    def group_sum(self, values: np.ndarray) -> np.ndarray:
        """Weighted sums within groups of ``values`` (n,) or (n, m) -> (G,) or (G, m)."""
        wv = values * (self.weights if values.ndim == 1 else self.weights[:, None])
        if self.n_groups == 1:
            return wv.sum(axis=0)[None]
        return np.add.reduceat(wv, self.bounds[:-1], axis=0)

    def group_xsum(self, coef: np.ndarray, x: np.ndarray) -> np.ndarray:
        r"""``sum_{r in g} w_r coef_r x_r`` per group: (G, k) for coef (n,), (G, m, k) for (n, m)."""
        wc = coef * (self.weights if coef.ndim == 1 else self.weights[:, None])
        out = []
        for sl in self.slices():
            out.append(wc[sl].T @ x[sl])
        return np.stack(out)


def _weighted_mode(values: pd.Series, w: np.ndarray) -> Any:
    totals = pd.Series(w, index=values.index).groupby(values, sort=True, observed=True).sum()
    return totals.idxmax()


def _means_row(vmap: VariableMap, data: pd.DataFrame, w: np.ndarray) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for v in data.columns:
        col = data[v]
        if v in vmap.variables and vmap.kind(v) == "categorical":
            row[v] = _weighted_mode(col, w)
        elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            row[v] = float(np.average(col.to_numpy(dtype=float), weights=w))
        else:
            row[v] = _weighted_mode(col, w)
    return row


def _resolve_by(by: Any, source: pd.DataFrame, vmap: VariableMap, what: str) -> list[str]:
    if by is None:
        return []
    if isinstance(by, pd.Series) or (isinstance(by, np.ndarray) and by.dtype.kind not in "OUS"):
        # a column of values (by=d.price > 2) was read as a list of names: "by=True is not a
        # column"
        raise TypeError(f"by takes column names of {what} (a name or a list of names), got "
                        f"a {type(by).__name__} of {len(by)} values; put the grouping in a "
                        "column of the frame the model was fitted on and pass its name")
    names = [by] if isinstance(by, str) else list(by)
    for b in names:
        if b not in source.columns:
            raise UnknownVariableError(f"by={b!r} is not a column of {what}; columns: "
                                       f"{list(source.columns)[:20]}")
    return names


def evaluation_frame(vmap: VariableMap, at: AtSpec = "overall", *, by: Any = None,
                     weights: np.ndarray | None = None) -> EvalFrame:
    """The rows a quantity is averaged over.

    Parameters
    ----------
    at : 'overall', 'mean', dict or DataFrame
        ``'overall'``: the estimation rows. ``'mean'``: one row with every variable at its
        sample mean (weighted by the model's weights; categorical variables at their most
        frequent level), within each ``by`` group. A dict ``{variable: value or list}``: the
        estimation rows with the named variables fixed (a list gives one group per value; lists
        for several variables give their combinations), as Stata's ``margins, at()``. A
        DataFrame: its rows (all the formula's variables needed), averaged with equal weights.
    by : str or list of str, optional
        Columns defining groups; averages are taken within each group.
    weights : ndarray, optional
        The model's prior weights (estimation rows); they weight the averages.
    """
    est = vmap.estimation_data()
    w_est = np.ones(len(est)) if weights is None else np.asarray(weights, dtype=float)
    full = vmap.design.data if vmap.formula else est
    if isinstance(at, str) and at in ("overall", "mean"):
        by_names = _resolve_by(by, full, vmap, "the data")
        by_values = (full.loc[est.index, by_names] if by_names else None)
        if at == "overall":
            return _grouped(est, vmap.design.exog, w_est, by_values)
        return _means_frame(vmap, est, w_est, by_values)
    if isinstance(at, Mapping):
        return _at_dict_frame(vmap, est, w_est, dict(at), by, full)
    if isinstance(at, pd.DataFrame):
        frame = vmap.check_newdata(at, what="the `at` DataFrame")
        by_names = _resolve_by(by, frame, vmap, "the `at` DataFrame")
        data = frame[vmap.variables] if vmap.formula else frame[vmap.exog_names]
        return _grouped(data, vmap.build(frame), np.ones(len(frame)),
                        frame[by_names] if by_names else None)
    raise ValueError(f"at must be 'overall', 'mean', a dict of variable values or a DataFrame, "
                     f"got {at!r}")


def _grouped(data: pd.DataFrame, exog: np.ndarray, w: np.ndarray,
             by_values: pd.DataFrame | None) -> EvalFrame:
    if by_values is None or by_values.shape[1] == 0:
        return EvalFrame(data, exog, w / w.sum(), np.array([0, len(data)]), None)
    keys = [by_values[c].to_numpy() for c in by_values.columns]
    codes_per = []
    uniques_per = []
    for k in keys:
        codes, uniques = pd.factorize(pd.Series(k), sort=True)
        if (codes < 0).any():
            raise DataError(f"the by= column {by_values.columns[len(codes_per)]!r} has missing "
                            "values at rows used")
        codes_per.append(codes)
        uniques_per.append(uniques)
    combined = np.ravel_multi_index(codes_per, [len(u) for u in uniques_per])
    order = np.argsort(combined, kind="stable")
    sorted_codes = combined[order]
    present, starts = np.unique(sorted_codes, return_index=True)
    bounds = np.append(starts, len(order))
    ws = w[order].astype(float)
    for a, b in zip(bounds[:-1], bounds[1:]):
        ws[a:b] /= ws[a:b].sum()
    label_parts = np.unravel_index(present, [len(u) for u in uniques_per])
    if len(keys) == 1:
        labels = pd.Index(uniques_per[0][label_parts[0]], name=by_values.columns[0])
    else:
        labels = pd.MultiIndex.from_arrays(
            [u[p] for u, p in zip(uniques_per, label_parts)], names=list(by_values.columns))
    return EvalFrame(data.iloc[order], exog[order], ws, bounds, labels)


def _means_frame(vmap: VariableMap, est: pd.DataFrame, w: np.ndarray,
                 by_values: pd.DataFrame | None) -> EvalFrame:
    if by_values is None or by_values.shape[1] == 0:
        rows = [_means_row(vmap, est, w)]
        labels = None
    else:
        grouped = _grouped(est, np.empty((len(est), 0)), w, by_values)
        rows = []
        for sl in grouped.slices():
            rows.append(_means_row(vmap, grouped.data.iloc[sl], grouped.weights[sl]))
        labels = grouped.groups
    data = pd.DataFrame(rows, columns=list(est.columns))
    for v in est.columns:  # keep categorical dtypes so patsy sees the same levels
        if isinstance(est[v].dtype, pd.CategoricalDtype):
            data[v] = pd.Categorical(data[v], categories=est[v].cat.categories)
    exog = vmap.build(data)
    n = len(data)
    return EvalFrame(data, exog, np.ones(n), np.arange(n + 1), labels)


def _at_dict_frame(vmap: VariableMap, est: pd.DataFrame, w: np.ndarray, at: dict[str, Any],
                   by: Any, full: pd.DataFrame) -> EvalFrame:
    if not at:
        raise ValueError("the `at` dict is empty; use at='overall'")
    unknown = [k for k in at if k not in vmap.variables]
    if unknown:
        raise UnknownVariableError(f"`at` names unknown variable(s) {unknown}; the model's "
                                   f"variables are {vmap.variables}")
    names = list(at)
    value_lists = [list(v) if np.ndim(v) == 1 and not isinstance(v, str) else [v]
                   for v in at.values()]
    for name, vals in zip(names, value_lists):
        if vmap.kind(name) == "categorical":
            levels = vmap.levels(name)
            bad = [v for v in vals if v not in levels]
            if bad:
                raise ValueError(f"`at` gives {name!r} the value(s) {bad}, not among its "
                                 f"levels {levels}")
        if len(vals) == 0:
            raise ValueError(f"`at` gives no value for {name!r}")
    by_names = _resolve_by(by, full, vmap, "the data")
    combos = list(itertools.product(*value_lists))
    datas, exogs, ws, keys = [], [], [], []
    for combo in combos:
        data = est.copy()
        exog = vmap.design.exog
        for name, value in zip(names, combo):
            exog = vmap.with_value(data, exog, name, value)
            data[name] = _broadcast_value(value, len(data), data[name])
        datas.append(data)
        exogs.append(exog)
        ws.append(w)
        keys.append(pd.DataFrame({f"{n}": [c] * len(data) for n, c in zip(names, combo)},
                                 index=data.index))
    multi = [n for n, vals in zip(names, value_lists) if len(vals) > 1]
    data = pd.concat(datas) if len(datas) > 1 else datas[0]
    exog = np.vstack(exogs) if len(exogs) > 1 else exogs[0]
    wts = np.concatenate(ws)
    group_cols = []
    if multi:
        group_cols.append(pd.concat(keys)[multi].reset_index(drop=True))
    if by_names:
        byv = full.loc[est.index, by_names]
        group_cols.append(pd.concat([byv] * len(combos)).reset_index(drop=True))
    by_values = pd.concat(group_cols, axis=1) if group_cols else None
    return _grouped(data, exog, wts, by_values)
