"""From a patsy formula or arrays to the estimation design, and back for new data.

The :class:`Design` keeps everything post-estimation needs to rebuild the design matrix for new
data: the formula, patsy's ``DesignInfo``, the original data and the labels of the rows used.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import patsy

from .._blas_threads import single_blas_thread
from .formula_blocks import build_formula_design
from ..exceptions import DataError, MissingColumnError, MissingValueWarning, RankDeficientError
from ..frames import as_pandas_frame, code_names, py_scalar, text_in_numbers

__all__ = ["Design", "design_from_formula", "design_from_arrays", "build_exog", "build_matrix",
           "newdata_index",
           "check_full_rank", "check_finite", "gram_matrix", "describe_rows"]


@dataclass
class Design:
    """The estimation design of a single-equation model.

    Attributes
    ----------
    endog : ndarray, shape (n,), or (n, J) for a multivariate outcome (share vectors)
    exog : ndarray, shape (n, k)
    endog_name : str
        For a multivariate outcome, the column names joined by ``', '``.
    exog_names : list of str
        The formula's term (design-column) names, in column order.
    weights : ndarray or None
        Prior weights aligned with the rows used.
    row_labels : pandas.Index
        The labels, in the original data, of the rows used.
    formula : str or None
    design_info : patsy.DesignInfo or None
        The right-hand side's design information (to rebuild ``exog`` for new data).
    data : pandas.DataFrame or None
        The original data passed to ``from_formula`` (all rows).
    endog_names : list of str or None
        The outcome's column names when it is multivariate (else None).
    gram : ndarray or None
        :math:`X'X` of ``exog``, computed once by the finiteness check and reused by the
        rank check and the first Newton step.
    row_positions : ndarray of int or None
        The positions, in ``data``, of the rows used (labels may repeat; positions do not).
    """

    endog: np.ndarray
    exog: np.ndarray
    endog_name: str
    exog_names: list[str]
    weights: np.ndarray | None
    row_labels: pd.Index
    formula: str | None = None
    design_info: Any = None
    data: pd.DataFrame | None = None
    endog_names: list[str] | None = None
    gram: np.ndarray | None = field(default=None, repr=False)
    row_positions: np.ndarray | None = None

    @property
    def nobs(self) -> int:
        return int(self.exog.shape[0])

    def _positions(self) -> np.ndarray:
        if self.row_positions is not None:
            return self.row_positions
        return self.data.index.get_indexer(self.row_labels)

    def estimation_rows(self) -> pd.DataFrame:
        """The rows of the original data used in estimation, in order (by position)."""
        if self.data is None:
            raise ValueError("the model was not built from a DataFrame")
        return self.data.iloc[self._positions()]

    def column(self, name: str) -> pd.Series:
        """A column of the original data, restricted to and aligned with the rows used."""
        if self.data is None:
            raise ValueError(f"cannot resolve column {name!r}: the model was not built from "
                             "a DataFrame (pass an array aligned with the estimation rows)")
        if name not in self.data.columns:
            raise MissingColumnError(f"column {name!r} is not in the data; available: "
                           f"{list(self.data.columns)[:20]}")
        return self.data[name].iloc[self._positions()]

    def align(self, values: Any, *, what: str) -> np.ndarray | pd.Series:
        """Resolve a column name or align an array with the rows used.

        A string names a column of the original data. A pandas Series is aligned by index
        labels. A plain array must have the length of the rows used, or of the original data
        (then the rows dropped for missing values are dropped from it too).
        """
        if isinstance(values, str):
            return self.column(values)
        if isinstance(values, pd.Series) and self.data is not None:
            if values.index.equals(self.data.index):  # same rows (labels may repeat)
                return values.iloc[self._positions()]
            if not values.index.is_unique or not self.data.index.is_unique:
                raise DataError(f"{what} is a Series whose index differs from the data's and "
                                "labels repeat, so its rows cannot be matched by label; pass "
                                "it with the data's index, or as an array")
            missing = self.row_labels.difference(values.index)
            if len(missing):
                raise DataError(f"{what} is missing the estimation rows {list(missing[:5])}")
            return values.loc[self.row_labels]
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise DataError(f"{what} must be one-dimensional, got shape {arr.shape}")
        if len(arr) == self.nobs:
            return arr
        if self.data is not None and len(arr) == len(self.data):
            return arr[self._positions()]
        expected = f"{self.nobs} (rows used)"
        if self.data is not None and len(self.data) != self.nobs:
            expected += f" or {len(self.data)} (rows of the data)"
        raise DataError(f"{what} has length {len(arr)}, expected {expected}")


def describe_rows(labels: Sequence[Any], n_show: int = 5) -> str:
    """'3 rows (first: 4, 17, 18)' for error messages."""
    labels = list(labels)
    head = ", ".join(repr(x) if isinstance(x, str) else str(x) for x in labels[:n_show])
    more = ", ..." if len(labels) > n_show else ""
    return f"{len(labels)} row{'s' if len(labels) != 1 else ''} (first: {head}{more})"


_SCAN_ROWS = 65536


def _nonfinite_entries(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with a NaN, rows with any non-finite entry, and columns with one (exact, blocked).

    Reads the matrix in row blocks, so the only temporaries are one block's masks.
    """
    n, k = matrix.shape
    nan_rows = np.zeros(n, dtype=bool)
    bad_rows = np.zeros(n, dtype=bool)
    bad_cols = np.zeros(k, dtype=bool)
    for start in range(0, n, _SCAN_ROWS):
        rows = slice(start, start + _SCAN_ROWS)
        block = matrix[rows]
        bad = ~np.isfinite(block)
        bad_rows[rows] = bad.any(axis=1)
        bad_cols |= bad.any(axis=0)
        nan_rows[rows] = np.isnan(block).any(axis=1)
    return nan_rows, bad_rows, bad_cols


def gram_matrix(exog: np.ndarray) -> np.ndarray:
    r""":math:`X'X` in one pass over the rows, on one BLAS thread (numpy's ``dsyrk`` path).

    Every non-finite entry of column *j* makes the *j*-th diagonal entry non-finite, so the Gram
    matrix doubles as a free check that the design is finite (:func:`check_finite`).
    """
    with single_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        return exog.T @ exog


def check_finite(matrix: np.ndarray, names: list[str], labels: pd.Index, *,
                 gram: np.ndarray | None = None) -> None:
    """Raise :class:`DataError` naming the rows and columns with NaN or infinite regressors.

    The exact scan runs only when the diagonal of the Gram matrix (computed if not given) is
    not finite, which every NaN or infinity causes (and finite entries above about 1e154, for
    which the scan then finds nothing).
    """
    if matrix.size == 0:
        return
    if gram is None:
        gram = gram_matrix(matrix)
    if np.isfinite(np.diagonal(gram)).all():
        return
    _, bad_rows, bad_cols = _nonfinite_entries(matrix)
    if bad_rows.any():
        cols = [names[j] for j in np.flatnonzero(bad_cols)]
        raise DataError(f"regressors {cols} are not finite in {describe_rows(labels[bad_rows])}")


def check_full_rank(exog: np.ndarray, names: list[str], *,
                    gram: np.ndarray | None = None) -> np.ndarray:
    """Raise :class:`RankDeficientError` naming the collinear terms; return the Gram matrix.

    The columns are scaled to unit norm and the singular value decomposition gives the null
    space; every term with a non-negligible loading on a null vector is named. ``gram``, when
    given, is :math:`X'X` already computed (:attr:`Design.gram`), which saves a pass.
    """
    n, k = exog.shape
    if n < k:
        raise RankDeficientError(f"the design has {n} rows but {k} columns: "
                                 f"{_some_names(names)}{_levels_hint(names)}")
    cross = gram_matrix(exog) if gram is None else gram
    norms = np.sqrt(np.diag(cross))
    zero = norms == 0
    if zero.any():
        zero_names = [names[j] for j in np.flatnonzero(zero)]
        hint = ("; a level of a categorical variable that no row holds (an unused category "
                "of a pandas Categorical: .cat.remove_unused_categories())"
                if any(_LEVEL.match(name) for name in zero_names) else "")
        raise RankDeficientError(f"design columns {_some_names(zero_names)} are identically "
                                 f"zero{hint}")
    _, sv, vt = np.linalg.svd(cross / np.outer(norms, norms))
    tol = sv[0] * k * 1e-13
    null = vt[sv <= tol]
    if len(null):
        involved = np.flatnonzero((np.abs(null) > 1e-6).any(axis=0))
        rank = k - len(null)
        involved_names = [names[j] for j in involved]
        raise RankDeficientError(
            f"the design matrix is rank deficient (rank {rank} < {k} columns); collinear "
            f"terms: {_some_names(involved_names)}{_levels_hint(involved_names)}")
    return cross


# a column of a categorical term: 'price[T.1.25]', 'C(brand)[b]', 'a:b[T.x]'
_LEVEL = re.compile(r"^(?P<term>.+)\[(?:T\.)?(?P<level>[^\[\]]*)\]$")


def _some_names(names: list[str], n_show: int = 12) -> str:
    """The first names of a long list, and how many more (a 400-level factor named them all)."""
    if len(names) <= n_show:
        return str(list(names))
    return f"{list(names[:n_show])[:-1]} ... and {len(names) - n_show + 1} more"


def _levels_hint(names: list[str]) -> str:
    """Why a design has about as many columns as rows: a variable of numbers written as text,
    which patsy codes as a category with one column per distinct value."""
    levels: dict[str, list[str]] = {}
    for name in names:
        match = _LEVEL.match(name)
        if match:
            levels.setdefault(match["term"], []).append(match["level"])
    for term, values in levels.items():
        if len(values) < NUMBERS_AS_TEXT_LEVELS:
            continue
        numeric = sum(1 for v in values if _is_float(v))
        if numeric >= 0.9 * len(values):
            return (f". The term {term!r} was coded as a category with at least "
                    f"{len(values) + 1} levels that are numbers: if they are numbers (a CSV "
                    "read as strings), convert the column with pd.to_numeric; a category "
                    "needs fewer levels than rows")
    return ""


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _clean_weights(weights: Any, labels: pd.Index) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        raise DataError(f"weights must be finite and positive; bad in {describe_rows(labels[bad])}"
                        " (drop rows instead of giving them weight 0)")
    return w


def _refuse_empty_categoricals(formula: str, data: pd.DataFrame) -> None:
    """Refuse a pandas Categorical without categories (every value missing) that the formula
    reads, after the design failed: patsy's contrast coding of zero levels fails with numpy's
    "negative dimensions" (``C(x, levels=[...])`` gives levels, and patsy drops the rows)."""
    try:
        desc = patsy.ModelDesc.from_formula(formula)
    except patsy.PatsyError:
        return  # the design builder reports the formula's own error
    read: set[str] = set()
    for term in desc.lhs_termlist + desc.rhs_termlist:
        for factor in term.factors:
            read |= code_names(getattr(factor, "code", ""))
    for name in sorted(read & set(map(str, data.columns))):
        dtype = data[name].dtype
        if isinstance(dtype, pd.CategoricalDtype) and len(dtype.categories) == 0:
            raise DataError(f"column {name!r} of {formula!r} is a Categorical without "
                            "categories (every value is missing): drop it from the formula or "
                            "give it its categories")


def _patsy_message(exc: Exception) -> str:
    return str(getattr(exc, "message", exc))


def _patsy_where(exc: Exception) -> str:
    """' (in `brand`)': the formula text a PatsyError points at, or ''."""
    origin = getattr(exc, "origin", None)
    try:
        return f" (in `{origin.code[origin.start:origin.end]}`)"
    except (AttributeError, TypeError):
        return ""


def _text_where_numbers(exc: Exception, data: pd.DataFrame) -> str:
    """'; column 'price' holds text such as ['20c']': the columns of the failing formula
    term that hold text, when patsy failed evaluating it (``np.log`` of a string)."""
    origin = getattr(exc, "origin", None)
    try:
        code = origin.code[origin.start:origin.end]
    except (AttributeError, TypeError):
        return ""
    found = []
    for name in sorted(code_names(code) & set(map(str, data.columns))):
        col = data[name]
        if col.dtype != object and not pd.api.types.is_string_dtype(col.dtype):
            continue
        text = [str(v) for v in pd.unique(col[col.notna()]) if isinstance(v, str)]
        if text:
            found.append(f"column {name!r} holds text such as {text[:3]}")
    if not found:
        return ""
    return "; " + ", ".join(found) + " (convert it with pd.to_numeric)"


def build_matrix(info: Any, data: pd.DataFrame, *, context: str, what: str = "newdata",
                 labelled: pd.DataFrame | None = None,
                 patsy_reason: Callable[[patsy.PatsyError], str] | None = None,
                 **kwargs: Any) -> Any:
    """``patsy.build_design_matrices([info], data, **kwargs)[0]``, its failures a DataError.

    Text in a column the design reads as numbers fails inside patsy with an ``AttributeError``
    (its own message formatting) or a ufunc ``TypeError``: the error then names the column,
    its values and rows (:func:`~beliefreg.frames.text_in_numbers`; rows labelled as in
    ``labelled``, default ``data``). Any other patsy error is ``context`` followed by
    ``patsy_reason(exc)`` (default ``": " + str(exc)``); other exceptions propagate.
    """
    try:
        (x,) = patsy.build_design_matrices([info], data, **kwargs)
    except (patsy.PatsyError, AttributeError, TypeError) as exc:
        why = text_in_numbers(info, data if labelled is None else labelled, what=what)
        if why is not None:
            raise DataError(f"{context}: {why}") from None
        if not isinstance(exc, patsy.PatsyError):
            raise
        reason = f": {exc}" if patsy_reason is None else patsy_reason(exc)
        raise DataError(f"{context}{reason}") from None
    return x


def _by_position(frame: pd.DataFrame) -> pd.DataFrame:
    """A shallow copy of ``frame`` indexed 0..n-1 (no data copied)."""
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return frame
    out = frame.copy(deep=False)
    out.index = pd.RangeIndex(len(frame))
    return out


def design_from_formula(formula: str, data: pd.DataFrame, *, weights: Any = None,
                        eval_env: Any = 0, multivariate: bool = False) -> Design:
    """Build the design from a patsy formula; rows with missing values are dropped (warned).

    ``eval_env`` is patsy's environment for names in the formula (``np``, user functions).
    With ``multivariate=True`` the left-hand side may have several columns (``'a + b + c ~
    x'``, or a categorical ``'C(choice) ~ x'``); ``endog`` is then (n, J) and ``endog_names``
    holds the column names.
    """
    if "~" not in formula:
        raise ValueError(f"formula {formula!r} has no '~'; write 'outcome ~ regressors'")
    data = as_pandas_frame(data, what="data", formula=formula)
    if isinstance(eval_env, int):
        eval_env = patsy.EvalEnvironment.capture(eval_env + 1)
    # `np.log(price)` works even where the caller has not imported numpy as np
    eval_env = eval_env.with_outer_namespace({"np": np, "numpy": np})
    # patsy sees row positions as the index (the data's labels may repeat); the design is
    # built straight into the final arrays (formula_blocks)
    by_position = _by_position(data)
    try:
        built = build_formula_design(formula, by_position, eval_env)
    except patsy.PatsyError as exc:
        raise DataError(f"cannot build the design of {formula!r}{_patsy_where(exc)}: "
                        f"{_patsy_message(exc)}{_text_where_numbers(exc, data)}") from None
    except SyntaxError as exc:  # a term that is not Python: `unit price`, `price ($)`
        code = (exc.text or "").strip()
        hint = (f"; a column whose name has spaces or symbols is written Q({code!r})"
                if code in map(str, data.columns) else
                "; write column names with spaces or symbols as Q('name')")
        raise DataError(f"cannot build the design of {formula!r}: the term `{code}` is not a "
                        f"Python expression ({exc.msg}){hint}") from None
    except ValueError:  # patsy's coding of a Categorical without categories, for one
        _refuse_empty_categoricals(formula, data)
        raise
    _refuse_numbers_as_categories(built.rhs_info, data, formula)
    endog_names = [str(c) for c in built.lhs_info.column_names]
    if len(endog_names) != 1 and not multivariate:
        shown = endog_names[:4] + (["..."] if len(endog_names) > 4 else [])
        raise DataError(f"the left-hand side of {formula!r} must be one numeric column; patsy "
                        f"coded it as {len(endog_names)} columns {shown}, so it holds text or "
                        "categories (convert it to numbers; for shares over several "
                        "alternatives use MultinomialFractionalLogit)")
    positions = np.asarray(built.row_labels, dtype=np.intp)
    labels = data.index[positions]
    dropped = len(data) - len(labels)
    design = Design(endog=built.endog if multivariate else built.endog[:, 0],
                    exog=built.exog, endog_name=", ".join(endog_names),
                    exog_names=[str(c) for c in built.rhs_info.column_names], weights=None,
                    row_labels=labels, formula=formula, design_info=built.rhs_info, data=data,
                    endog_names=endog_names if multivariate else None,
                    row_positions=positions)
    if weights is not None:
        w = design.align(weights, what="weights")
        w_arr = np.asarray(w, dtype=float)
        if np.isnan(w_arr).any():
            raise DataError(f"weights are missing in {describe_rows(labels[np.isnan(w_arr)])}")
        design.weights = _clean_weights(w_arr, labels)
    if dropped:
        warnings.warn(f"{dropped} of {len(data)} rows dropped for missing values in the "
                      f"formula's variables{_made_missing(built, data, positions)}",
                      MissingValueWarning, stacklevel=3)
    design.gram = built.gram  # X'X, summed while the design was written
    check_finite(design.exog, design.exog_names, labels, gram=design.gram)
    return design


def _made_missing(built: Any, data: pd.DataFrame, kept: np.ndarray) -> str:
    """'; in 3 of them (rows [4, 9, 12]) every variable is present: ...' for dropped rows
    where a transform, not the data, gave the missing value (``np.log`` of a negative price),
    or ''."""
    columns = set(map(str, data.columns))
    used: set[str] = set()
    for info in (built.lhs_info, built.rhs_info):
        for factor in info.factor_infos:
            used |= code_names(getattr(factor, "code", "")) & columns
    if not used:
        return ""
    dropped = np.setdiff1d(np.arange(len(data)), kept)
    frame = data.iloc[dropped][[c for c in data.columns if str(c) in used]]
    present = ~frame.isna().any(axis=1).to_numpy()
    if not present.any():
        return ""
    rows = [py_scalar(r) for r in frame.index[present][:5]]
    more = ", ..." if present.sum() > 5 else ""
    return (f"; in {int(present.sum())} of them (rows {str(rows)[:-1]}{more}]) every variable "
            "is present: a transform in the formula gave NaN there (np.log or np.sqrt of a "
            "negative value?)")


# a text column of numbers with this many distinct values is a number, not a category
NUMBERS_AS_TEXT_LEVELS = 20


def _refuse_numbers_as_categories(design_info: Any, data: pd.DataFrame, formula: str) -> None:
    """Refuse a bare regressor ``x`` whose column holds numbers written as text ("1.25", a
    CSV read as strings) with many distinct values: patsy codes it as a category with one
    column per value, which fits a saturated model without a word (200 rows, 200 values).
    ``C(x)`` says that a category is meant and is left alone."""
    for factor, info in design_info.factor_infos.items():
        if info.type != "categorical":
            continue
        code = getattr(factor, "code", "").strip()
        name = code
        quoted = re.fullmatch(r"""Q\(\s*(['"])(.*)\1\s*\)""", code)
        if quoted:
            name = quoted.group(2)
        if name not in data.columns:
            continue   # C(x), an expression: the user chose the coding
        why = numbers_as_text(data, [name], formula)
        if why:
            raise DataError(f"{why}, or write C({code}) if it really is a category")


def numbers_as_text(data: pd.DataFrame, names: Sequence[str], formula: str) -> str | None:
    """Why a regressor of ``formula`` is wrong: the first column of ``names`` that holds
    numbers written as text with many distinct values, or None."""
    for name in names:
        if name not in data.columns:
            continue
        col = data[name]
        if not (col.dtype == object or pd.api.types.is_string_dtype(col.dtype)):
            continue
        values = pd.unique(col[col.notna()])
        if len(values) < NUMBERS_AS_TEXT_LEVELS:
            continue
        if all(isinstance(v, str) and _is_float(v) for v in values):
            return (f"the regressor {name!r} of {formula!r} holds numbers written as text "
                    f"({len(values)} distinct values such as {[str(v) for v in values[:3]]}), "
                    "which would be coded as a category with one column per value; convert "
                    "it with pd.to_numeric")
        # numbers with a few text entries ('n/a', '-', a number as a string: columns joined
        # from several sources): patsy codes the whole column as a category
        other = [v for v in values if not _number_like(v)]
        if len(other) <= 0.1 * len(values):
            odd = other or [v for v in values if isinstance(v, str)]
            if not odd:
                continue   # numbers only: patsy codes them as numbers
            what = "that are not numbers" if other else "that are numbers written as text"
            rows = [py_scalar(r) for r in col.index[col.isin(odd)][:5]]
            return (f"the regressor {name!r} of {formula!r} holds numbers ({len(values)} "
                    f"distinct values) mixed with {len(odd)} value(s) {what}, such as "
                    f"{[str(v) for v in odd[:3]]} (rows {rows}), so it would be coded as a "
                    "category with one column per value; convert it with pd.to_numeric "
                    "(errors='coerce' makes the text missing)")
    return None


def _number_like(value: Any) -> bool:
    """A real number (not a bool) or a string that parses as one."""
    if isinstance(value, str):
        return _is_float(value)
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def design_from_arrays(endog: Any, exog: Any, *, weights: Any = None) -> Design:
    """Build the design from arrays (statsmodels' ``Model(endog, exog)`` form); no NaN allowed."""
    if isinstance(exog, pd.Series):
        exog = exog.to_frame()
    if isinstance(exog, pd.DataFrame):
        names = [str(c) for c in exog.columns]
        _refuse_duplicate_names(names)
        labels = exog.index
        x = exog.to_numpy(dtype=float)
    else:
        x = np.asarray(exog, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        names = [f"x{j + 1}" for j in range(x.shape[1])]
        labels = (endog.index if isinstance(endog, pd.Series) and len(endog) == x.shape[0]
                  else pd.RangeIndex(x.shape[0]))
    if isinstance(endog, pd.DataFrame):
        if endog.shape[1] != 1:
            raise DataError("endog must be one column")
        endog = endog.iloc[:, 0]
    endog_name = str(endog.name) if isinstance(endog, pd.Series) and endog.name is not None else "y"
    y = np.asarray(endog, dtype=float)
    if y.ndim != 1 or len(y) != x.shape[0]:
        raise DataError(f"endog has shape {y.shape} but exog has {x.shape[0]} rows")
    gram = gram_matrix(x)
    nan_rows = np.isnan(y)
    if not np.isfinite(np.diagonal(gram)).all():  # only then scan the design (no n x k mask)
        nan_rows = nan_rows | _nonfinite_entries(x)[0]
    if nan_rows.any():
        raise DataError(f"missing values in {describe_rows(labels[nan_rows])}; drop them or use "
                        "from_formula, which drops them with a warning")
    check_finite(x, names, labels, gram=gram)
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != y.shape:
            raise DataError(f"weights have shape {w.shape}, expected {y.shape}")
        w = _clean_weights(w, labels)
    return Design(endog=y, exog=x, endog_name=endog_name, exog_names=names, weights=w,
                  row_labels=labels, gram=gram)


def _refuse_duplicate_names(names: list[str]) -> None:
    """A DataFrame exog with two columns of one name: the parameters could not be told apart
    (and the design is singular when the columns are copies). Name them, not 'collinear'."""
    index = pd.Index(names)
    duplicated = list(dict.fromkeys(index[index.duplicated()]))
    if duplicated:
        counts = {name: names.count(name) for name in duplicated}
        raise DataError(f"exog has duplicated column names {duplicated} "
                        f"({', '.join(f'{n!r} {c} times' for n, c in counts.items())}): each "
                        "column names a parameter; rename or drop the duplicates (e.g. "
                        "exog.loc[:, ~exog.columns.duplicated()])")


def newdata_index(design: Design, newdata: Any, n: int) -> pd.Index | None:
    """The index of predictions for ``newdata``, as statsmodels' ``results.predict`` gives it.

    A pandas DataFrame keeps its index; any other frame (a dict of columns, polars, pyarrow)
    for a formula model gets ``RangeIndex(n)``; an array for an array model has no index
    (the prediction stays an ndarray).
    """
    if isinstance(newdata, pd.DataFrame):
        return newdata.index
    if design.design_info is not None:
        return pd.RangeIndex(n)
    return None


def build_exog(design: Design, newdata: Any, *, missing: str = "raise") -> np.ndarray:
    """The design matrix for new data: rebuilt from the formula, or taken as given for arrays.

    ``newdata`` for a formula model is any frame :func:`~beliefreg.frames.as_pandas_frame`
    accepts; a pandas Categorical may hold any subset or order of the fitted levels. Rows with missing
    values in the formula's variables raise :class:`DataError` naming them
    (``missing='raise'``) or get NaN rows (``missing='nan'``, as statsmodels' ``predict``).
    """
    if missing not in ("raise", "nan"):
        raise ValueError(f"missing must be 'raise' or 'nan', got {missing!r}")
    if design.design_info is not None:
        frame = as_pandas_frame(newdata, what="newdata", newdata=True)
        by_position = _by_position(frame)
        x = build_matrix(design.design_info, by_position, labelled=frame,
                         context=f"cannot build the design of {design.formula!r} for newdata",
                         patsy_reason=lambda e: f"{_patsy_where(e)}: {_patsy_message(e)}",
                         NA_action="drop", return_type="dataframe")
        values = x.to_numpy(dtype=float)
        if len(values) == len(frame) or not len(design.design_info.factor_infos):
            if values.shape[0] != len(frame):  # no variables: the constant for every row
                values = np.broadcast_to(values[:1], (len(frame), values.shape[1])).copy()
            return values
        kept = np.asarray(x.index, dtype=np.intp)
        bad = np.ones(len(frame), dtype=bool)
        bad[kept] = False
        if missing == "raise":
            raise DataError(f"newdata has missing values in the formula's variables in "
                            f"{describe_rows(frame.index[bad])}; drop those rows, or use "
                            "predict(), which gives them NaN")
        out = np.full((len(frame), values.shape[1]), np.nan)
        out[kept] = values
        return out
    x = np.asarray(newdata, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.shape[1] != len(design.exog_names):
        raise DataError(f"new exog has {x.shape[1]} columns, the model has "
                        f"{len(design.exog_names)}: {design.exog_names}")
    return x
