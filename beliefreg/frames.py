"""Any data frame a user passes, as a pandas DataFrame whose dtypes patsy understands.

The one place where beliefreg accepts foreign frames and dtypes; everything downstream (the
formula, the design, post-estimation) sees plain pandas with numpy dtypes or categoricals.

What is converted, column by column (:func:`as_pandas_frame`):

* **polars, pyarrow and other frames** go through `narwhals
  <https://narwhals-dev.github.io/narwhals/>`_, the compatibility layer that pandas-agnostic
  libraries (Altair, Plotly, scikit-lego) use: each column is read as a numpy array, a
  categorical or enum column becomes a pandas Categorical with its categories in order, and
  nulls become NaN (numbers) or None (everything else). A dict of columns is passed to
  :class:`pandas.DataFrame`.
* **pandas nullable dtypes** (``Int64``, ``Float64``, ``boolean``, pyarrow-backed numbers):
  numbers become ``float64`` with ``pd.NA`` as NaN (integers without missing values stay
  integers); ``boolean`` becomes numpy ``bool`` (or ``object`` with None where values are
  missing); strings are left as they are.
* **object columns holding only numbers** (Python floats and ints, e.g. after a CSV was read
  with ``dtype=object`` or a column was built element by element) become ``float64``: patsy
  would otherwise code each distinct number as a category.
* **the outcome** (the formula's left-hand side variables): a ``bool`` outcome (``buy =
  choice == "yes"``) becomes 0.0/1.0, and an object or string column of numbers written as
  text (``"0.25"``) is parsed; anything else that is not numeric raises :class:`DataError`
  naming the column and showing the values that cannot be read.
* **new data** for prediction (``newdata=True``): a pandas Categorical becomes its plain
  values, so a subset or a reordering of the fitted levels is accepted (as R's ``predict``
  does); a value that is not a fitted level is an error naming the column.

The index of a pandas frame is kept (labels may repeat: the design keeps row positions).
"""

from __future__ import annotations

import ast
import numbers
from collections.abc import Mapping
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .exceptions import DataError

__all__ = ["as_pandas_frame", "formula_outcome_names", "is_dataframe_like", "text_in_numbers",
           "code_names"]


def is_dataframe_like(data: Any) -> bool:
    """Whether ``data`` is a pandas frame or a frame narwhals can read (polars, pyarrow...)."""
    if isinstance(data, pd.DataFrame):
        return True
    return _narwhals_frame(data) is not None


def _narwhals_frame(data: Any) -> Any:
    if isinstance(data, (pd.DataFrame, pd.Series, np.ndarray, Mapping, list, tuple)):
        return None
    try:
        import narwhals.stable.v1 as nw
    except ImportError:  # pragma: no cover - narwhals is a dependency
        return None
    try:
        return nw.from_native(data, eager_only=True)
    except TypeError:
        return None


def _from_narwhals(frame: Any) -> pd.DataFrame:
    """A narwhals eager frame (polars, pyarrow, modin...) column by column as pandas."""
    import narwhals.stable.v1 as nw

    columns: dict[str, Any] = {}
    for name in frame.columns:
        series = frame[name]
        dtype = series.dtype
        has_null = bool(series.null_count() > 0)
        if dtype == nw.Categorical or dtype == nw.Enum:
            categories = list(series.cat.get_categories().to_list())
            values = series.to_list()
            columns[name] = pd.Categorical(values, categories=categories)
        elif dtype.is_numeric():
            arr = series.to_numpy()
            if has_null or arr.dtype == object:
                arr = np.array([np.nan if v is None else v for v in series.to_list()],
                               dtype=float)
            columns[name] = arr
        elif dtype == nw.Boolean:
            values = series.to_list()
            columns[name] = (np.array(values, dtype=object) if has_null
                             else np.array(values, dtype=bool))
        else:
            columns[name] = np.array(series.to_list(), dtype=object)
    return pd.DataFrame(columns)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Number) and not isinstance(v, (bool, np.bool_))


def _missing(values: pd.Series) -> np.ndarray:
    return values.isna().to_numpy()


def _numbers_as_float(col: pd.Series) -> pd.Series | None:
    """An object column holding only numbers (and missing values) as float64 (int64 for
    integers without missing values), else None."""
    missing = _missing(col)
    present = col[~missing]
    if len(present) == 0 or not all(_is_number(v) for v in present):
        return None
    if not missing.any() and all(isinstance(v, (int, np.integer)) for v in present):
        # integers stay integers (``C(k)`` keeps level names such as ``C(k)[T.2]``)
        return pd.Series(col.to_numpy(dtype=np.int64), index=col.index, name=col.name)
    try:
        return pd.Series(col.to_numpy(dtype=float, na_value=np.nan), index=col.index,
                         name=col.name)
    except (TypeError, ValueError):
        return None


def _usable_column(col: pd.Series, *, newdata: bool) -> pd.Series:
    """One pandas column with a numpy or categorical dtype that patsy reads correctly."""
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        if newdata:  # plain values: patsy checks them against the fitted levels
            return pd.Series(np.asarray(col.astype(object).where(col.notna(), None)),
                             index=col.index, name=col.name, dtype=object)
        return col
    if pd.api.types.is_bool_dtype(dtype):
        if isinstance(dtype, np.dtype):
            return col
        missing = _missing(col)
        if missing.any():
            values = np.array([None if m else bool(v) for v, m in zip(col, missing)],
                              dtype=object)
            return pd.Series(values, index=col.index, name=col.name, dtype=object)
        return col.astype(bool)
    if pd.api.types.is_numeric_dtype(dtype):
        if isinstance(dtype, np.dtype):
            return col
        missing = _missing(col)
        if pd.api.types.is_integer_dtype(dtype) and not missing.any():
            return col.astype(np.int64)
        return pd.Series(col.to_numpy(dtype=float, na_value=np.nan), index=col.index,
                         name=col.name)
    if dtype == object:
        as_float = _numbers_as_float(col)
        if as_float is not None:
            return as_float
    return col


def _outcome_column(col: pd.Series) -> pd.Series:
    """The outcome as float64: bools as 0/1, numbers written as text parsed."""
    name = col.name
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col  # a multinomial outcome (C(choice) or a categorical column)
    if pd.api.types.is_bool_dtype(col.dtype):
        return col.astype(float)
    if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
        present = col[~_missing(col)]
        if len(present) and all(isinstance(v, (bool, np.bool_)) for v in present):
            return pd.Series(col.to_numpy(dtype=float, na_value=np.nan), index=col.index,
                             name=name)
        if len(present) and any(isinstance(v, str) for v in present):
            all_text = all(isinstance(v, str) for v in present)
            if all_text:
                parsed = pd.to_numeric(present.str.strip(), errors="coerce")
            else:  # numbers mixed with text (1, 0, '1', 'n/a': columns joined from several
                # sources): patsy failed with "mismatch between column_names and columns coded"
                text = present.map(lambda v: v.strip() if isinstance(v, str) else v)
                is_bool = present.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy()
                parsed = pd.to_numeric(text.where(~is_bool, text.astype(object) * 1),
                                       errors="coerce")
            bad = parsed.isna().to_numpy()
            if not bad.any():
                out = pd.Series(np.nan, index=col.index, name=name, dtype=float)
                out[~_missing(col)] = parsed.to_numpy(dtype=float)
                return out
            if all_text and bad.all():
                return col  # labels (a categorical outcome for the multinomial model)
            what = ("numbers written as text, but some values are not numbers" if all_text
                    else "numbers mixed with values that are not numbers")
            examples = sorted({str(v) for v in present[bad]})[:5]
            positions = np.flatnonzero(~_missing(col))[bad][:5]
            raise DataError(
                f"the outcome column {name!r} holds {what}: {examples} (rows "
                f"{[py_scalar(col.index[i]) for i in positions]}); fix or drop those rows")
    return col


def py_scalar(value: Any) -> Any:
    """A numpy scalar as the Python value (so messages show 8, not np.int64(8))."""
    return value.item() if isinstance(value, np.generic) else value


def formula_outcome_names(formula: str, columns: Iterable[Any]) -> list[str]:
    """The data columns that *are* a left-hand side term of a formula (``'buy ~ x'`` -> buy).

    Only bare names (``buy``, ``Q('will buy')``) count: an expression such as ``C(choice)``
    or ``I(y / n)`` says by itself how to read the column.
    """
    if "~" not in formula:
        return []
    lhs = formula.split("~", 1)[0]
    names: set[str] = set()
    for part in lhs.split("+"):
        code = part.strip()
        if not code:
            continue
        try:
            node = ast.parse(code, mode="eval").body
        except SyntaxError:
            continue
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "Q" and len(node.args) == 1
              and isinstance(node.args[0], ast.Constant)):
            names.add(str(node.args[0].value))
    cols = {str(c) for c in columns}
    return sorted(names & cols)


def code_names(code: str) -> set[str]:
    """The names a patsy factor's code reads: ``np.log(price)`` -> {np, price}, ``Q('a b')``
    -> {a b}."""
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "Q" and node.args and isinstance(node.args[0], ast.Constant)):
            names.add(str(node.args[0].value))
    return names


def text_in_numbers(design_info: Any, frame: pd.DataFrame, *, what: str = "newdata") -> str | None:
    """Why ``frame`` cannot be read by a fitted design: a column the design reads as numbers
    holds text (``"1.5"`` from a CSV read as strings). None when no such column is found.

    ``design_info`` is patsy's ``DesignInfo`` of the fitted right-hand side: its numerical
    factors name the columns that must hold numbers. Used to explain a failure of
    ``patsy.build_design_matrices`` (whose own message is then an ``AttributeError`` or a
    ufunc ``TypeError``), so a valid frame is never refused by it.
    """
    numeric: set[str] = set()
    for factor, info in getattr(design_info, "factor_infos", {}).items():
        if getattr(info, "type", None) == "numerical" and hasattr(factor, "code"):
            numeric |= code_names(factor.code)
    problems = []
    for name in frame.columns:
        if str(name) not in numeric:
            continue
        col = frame[name]
        if (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)
                or isinstance(col.dtype, pd.CategoricalDtype)):
            continue
        missing = _missing(col)
        bad = [i for i, (v, m) in enumerate(zip(col, missing))
               if not m and not _is_number(v) and not isinstance(v, (bool, np.bool_))]
        if bad:
            examples = list(dict.fromkeys(str(col.iloc[i]) for i in bad))[:3]
            rows = [py_scalar(frame.index[i]) for i in bad[:5]]
            problems.append(f"{name!r} holds {len(bad)} non-numeric value(s) such as "
                            f"{examples} (rows {rows})")
    if not problems:
        return None
    return (f"{what} column(s) that the model reads as numbers hold text: "
            + "; ".join(problems) + ". Convert them (pd.to_numeric) or drop those rows")


def as_pandas_frame(data: Any, *, what: str = "data", formula: str | None = None,
                    newdata: bool = False) -> pd.DataFrame:
    """``data`` as a pandas DataFrame with dtypes patsy reads correctly.

    Parameters
    ----------
    data : pandas.DataFrame, polars.DataFrame, pyarrow.Table, dict of columns, ...
        Any eager frame narwhals supports, or what :class:`pandas.DataFrame` accepts.
    what : str
        How error messages name the argument (``'data'``, ``'newdata'``).
    formula : str, optional
        The model's formula: the columns on its left-hand side are the outcome (made float;
        see the module docstring).
    newdata : bool
        Prepare new data for a fitted design (categoricals as plain values).

    Returns
    -------
    pandas.DataFrame
        A new frame when a column had to change; ``data`` itself when nothing did.

    Raises
    ------
    TypeError
        ``data`` is not a frame or anything pandas can make one of.
    DataError
        An outcome column holds text that is not numbers.
    """
    if isinstance(data, pd.DataFrame):
        frame = data
    else:
        nw_frame = _narwhals_frame(data)
        if nw_frame is not None:
            frame = _from_narwhals(nw_frame)
        else:
            try:
                frame = pd.DataFrame(data)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{what} must be a data frame (pandas, polars, pyarrow) or a "
                                f"dict of columns, got {type(data).__name__}: {exc}") from None
    outcome = set(formula_outcome_names(formula, frame.columns)) if formula else set()
    changed: dict[Any, pd.Series] = {}
    for j, name in enumerate(frame.columns):
        col = frame.iloc[:, j]
        new = _usable_column(col, newdata=newdata)
        if name in outcome:
            new = _outcome_column(new)
        if new is not col:
            changed[j] = new
    if not changed:
        return frame
    out = frame.copy(deep=False)
    for j, new in changed.items():
        out.isetitem(j, new.array)  # the array keeps its dtype (no label alignment)
    return out
