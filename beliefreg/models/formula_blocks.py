"""Build a patsy design straight into the final matrices, column by column.

``patsy.dmatrices(..., return_type="dataframe")`` evaluates every factor on the whole data,
assembles a matrix, wraps it in a DataFrame, and the caller then copies it into a float array:
at 10^6 rows x 20 columns that is about 3.3 times the design in extra memory, and half the time
of the fit. Here:

1. the design information (term columns, categorical levels, stateful transforms such as
   ``center()``) is learnt by patsy's own builder on the whole data, as ``dmatrices`` learns it;
2. every factor is evaluated once, on the whole data, by patsy (``factor.eval`` with that
   information), so a transform that depends on the data (``I(x - x.mean())``, ``pd.cut(x, 3)``)
   sees all the rows, as in ``dmatrices``;
3. the columns are written into a preallocated column-major matrix a few thousand rows at a
   time, each column the product of its factors' values in patsy's order, and the rows of each
   such sub-block are added to :math:`X'X` while they are in cache; rows with missing values
   are left out as they are written.

The design is therefore the one ``dmatrices`` gives, bit for bit. Extra memory is the factors'
own values (none for a plain column of the frame) and one sub-block's temporaries. The design
information is what :func:`patsy.dmatrices` would give, so new data is rebuilt with it as
before (``patsy.build_design_matrices``). A formula whose terms this writer does not lay out
itself is built by ``patsy.build_design_matrices`` on the whole data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import patsy

from .._blas_threads import single_blas_thread

__all__ = ["FormulaDesign", "build_formula_design"]


@dataclass
class FormulaDesign:
    """The matrices of a formula on a DataFrame, rows with missing values dropped.

    Attributes
    ----------
    endog : ndarray, shape (m, q)
    exog : ndarray, shape (m, k), column-major (Fortran-ordered)
    row_labels : pandas.Index
        The labels of the rows kept.
    lhs_info, rhs_info : patsy.DesignInfo
    gram : ndarray, shape (k, k)
        :math:`X'X` of ``exog``, summed over sub-blocks of rows while each was in cache (so the
        checks that need it read the design no more); a non-finite entry of column *j* makes
        the *j*-th diagonal entry non-finite, as in :func:`beliefreg.models.design.gram_matrix`.
    """

    endog: np.ndarray
    exog: np.ndarray
    row_labels: pd.Index
    lhs_info: Any
    rhs_info: Any
    gram: np.ndarray


class _Plan:
    """How to write every column of the design from its factors' values.

    ``factors`` maps each factor to ``(kind, state, info)``; ``columns`` lists
    ``(matrix, column, parts)``, matrix 0 the outcome and 1 the design, ``parts`` a list of
    ``(factor, column_of_factor, contrast_column)`` (``contrast_column`` None for a numerical
    factor); an empty ``parts`` is the intercept.
    """

    def __init__(self, factors: dict[Any, Any], columns: list[tuple[int, int, list[Any]]]):
        self.factors = factors
        self.columns = columns


def _column_combinations(columns_per_factor: list[int]):
    """patsy's order of a subterm's columns: the left-most factor iterates fastest."""
    import itertools

    for combo in itertools.product(*[range(c) for c in reversed(columns_per_factor)]):
        yield combo[::-1]


def _numeric_plan(*infos: Any) -> _Plan | None:
    """A :class:`_Plan` for patsy's design information (the term codings, in patsy's order)."""
    factors: dict[Any, Any] = {}
    columns: list[tuple[int, int, list[Any]]] = []
    for which, info in enumerate(infos):
        for term, subterms in info.term_codings.items():
            col = info.term_slices[term].start
            for subterm in subterms:
                widths = []
                for factor in subterm.factors:
                    finfo = info.factor_infos[factor]
                    factors[factor] = finfo
                    if factor in subterm.contrast_matrices:
                        widths.append(subterm.contrast_matrices[factor].matrix.shape[1])
                    else:
                        widths.append(finfo.num_columns)
                for combo in _column_combinations(widths):
                    parts = []
                    for factor, j in zip(subterm.factors, combo):
                        if factor in subterm.contrast_matrices:
                            matrix = np.asarray(subterm.contrast_matrices[factor].matrix, float)
                            parts.append((factor, None, np.ascontiguousarray(matrix[:, j])))
                        else:
                            parts.append((factor, j, None))
                    columns.append((which, col, parts))
                    col += 1
            if col != info.term_slices[term].stop:  # not the layout expected: let patsy build
                return None
    return _Plan(factors, columns)


#: Rows written at a time (one sub-block of the design stays in cache while its X'X is added).
_WRITE_ROWS = 4096

_NA_ACTION = patsy.NAAction("drop")


def _write_design(plan: _Plan, data: pd.DataFrame, endog: np.ndarray,
                  exog: np.ndarray) -> tuple[int, np.ndarray, pd.Index] | None:
    """Evaluate the factors on ``data`` and write the matrices' columns; rows with a missing
    factor are left out.

    The values are those of ``patsy.build_design_matrices``: each factor evaluated by patsy
    (``factor.eval`` with its memorised state; categorical values coded by
    ``patsy.categorical.categorical_to_int`` against the learnt levels), each column the
    product, in patsy's order, of ``1.0`` and the factor columns (a numerical column, or the
    contrast matrix's column picked by the level codes). Returns the number of rows written,
    their :math:`X'X` and their labels, or None (nothing written) when a numerical value is not numeric or not of the
    data's length, so that patsy builds the design and raises its own error.

    Numerical factors are not scanned for NaN up front: a NaN in a factor is a NaN in every
    column that multiplies it (or in ``endog``), so a design whose :math:`X'X` diagonal and
    outcome are finite has none. Only a design that fails this test is scanned, and written
    again without the missing rows.
    """
    from patsy.categorical import categorical_to_int

    size = len(data)
    values: dict[Any, np.ndarray] = {}
    bad = np.zeros(size, dtype=bool)
    floats = []
    for factor, finfo in plan.factors.items():
        raw = factor.eval(finfo.state, data)
        if finfo.type == "categorical":
            codes = _level_codes(raw, finfo.categories, size)
            if codes is None:  # patsy's own coding (a Python loop), which raises its errors
                codes = np.asarray(categorical_to_int(raw, finfo.categories, _NA_ACTION,
                                                      origin=factor))
            if codes.shape != (size,):
                return None
            bad |= codes < 0
            values[factor] = codes
            continue
        arr = np.asarray(raw)
        if arr.ndim == 1:
            arr = arr[:, None]
        if (arr.ndim != 2 or arr.shape != (size, finfo.num_columns)
                or arr.dtype.kind not in "iuf"):
            return None
        if arr.dtype.kind == "f":
            floats.append(arr)
        values[factor] = arr
    written, gram = _write_rows(plan, values, bad, endog, exog)
    if not (np.isfinite(np.diagonal(gram)).all() and np.isfinite(endog[:written]).all()):
        for arr in floats:  # NaN somewhere (or an infinity, kept as patsy keeps it)
            bad |= np.isnan(arr).any(axis=1)
        if bad.sum() > size - written:
            written, gram = _write_rows(plan, values, bad, endog, exog)
    return written, gram, data.index[~bad] if bad.any() else data.index


def _write_rows(plan: _Plan, values: dict[Any, np.ndarray], bad: np.ndarray,
                endog: np.ndarray, exog: np.ndarray) -> tuple[int, np.ndarray]:
    """Write the rows not ``bad``, a sub-block at a time; return their number and their X'X.

    A sub-block's kept rows are picked as it is written, so leaving rows out copies one
    sub-block of each factor, not the factors.
    """
    keep = ~bad if bad.any() else None
    k = exog.shape[1]
    gram = np.zeros((k, k))
    # integer values are converted to float as they are written (exact below 2**53)
    mats = (endog, exog)
    m = 0
    for start in range(0, len(bad), _WRITE_ROWS):
        stop = min(start + _WRITE_ROWS, len(bad))
        rows: slice | np.ndarray = slice(start, stop)
        if keep is not None:
            rows = start + np.flatnonzero(keep[start:stop])
        size = stop - start if keep is None else len(rows)
        if not size:
            continue
        for which, col, parts in plan.columns:
            out = mats[which][m:m + size, col]
            if not parts:
                out[...] = 1.0
                continue
            # patsy's 1.0 * f1 * f2 * ...: the leading 1.0 changes no bit
            for i, (factor, j, contrast) in enumerate(parts):
                v = values[factor]
                piece = v[rows, j] if contrast is None else contrast[v[rows]]
                if i == 0:
                    out[...] = piece
                else:
                    out *= piece
        _add_gram(gram, exog[m:m + size])
        m += size
    return m, gram


def _add_gram(acc: np.ndarray, rows: np.ndarray) -> None:
    """``acc += rows' rows`` without warnings: a non-finite entry makes its column's diagonal
    non-finite, which the caller tests (and :func:`~beliefreg.models.design.check_finite`
    reports); it is not the user's transform warning."""
    with np.errstate(over="ignore", invalid="ignore"):
        acc += rows.T @ rows


def _level_codes(raw: Any, levels: tuple[Any, ...], size: int) -> np.ndarray | None:
    """The codes ``categorical_to_int`` gives (index in ``levels``, -1 for missing), by hashing.

    patsy codes values one by one in Python (about 5 s at 10^6 rows); a hash lookup of the
    whole column gives the same codes. None (let patsy do it) for a value that is not one of
    the levels, for a box with its own levels, or for anything not one-dimensional.
    """
    try:
        from patsy.categorical import _CategoricalBox
    except ImportError:  # pragma: no cover - patsy's layout changed: use patsy
        return None
    if isinstance(raw, _CategoricalBox):
        if raw.levels is not None and tuple(raw.levels) != tuple(levels):
            return None
        raw = raw.data
    values = raw if isinstance(raw, (pd.Series, pd.Categorical, pd.Index)) else np.asarray(raw)
    if getattr(values, "ndim", 1) != 1 or len(values) != size:
        return None
    index = _level_index(levels)
    if index is None:
        return None
    if isinstance(values.dtype, pd.CategoricalDtype):  # code the categories, not the rows
        return _categorical_codes(values.array if isinstance(values, pd.Series)
                                  else pd.Categorical(values), index)
    try:
        codes = index.get_indexer(values)
    except (TypeError, ValueError):
        return None
    missing = np.asarray(pd.isna(values), dtype=bool)
    if ((codes < 0) & ~missing).any():
        return None
    codes[missing] = -1
    return codes


def _level_index(levels: tuple[Any, ...]) -> pd.Index | None:
    """The levels as an index to look values up in; None (patsy codes) if they repeat.

    ``C(x, levels=['a', 'a', 'b'])`` is accepted by patsy (a repeated level takes the code of
    its last place); pandas cannot look values up in a non-unique index.
    """
    try:
        index = pd.Index(list(levels))
        return index if index.is_unique else None
    except (TypeError, ValueError):
        return None


def _categorical_codes(values: pd.Categorical, levels: pd.Index) -> np.ndarray | None:
    """:func:`_level_codes` of a pandas Categorical: its few categories are looked up among
    the levels, and its integer codes mapped through that table (no hashing per row)."""
    try:
        table = levels.get_indexer(values.categories)
    except (TypeError, ValueError):
        return None
    own = values.codes
    used = np.bincount(own[own >= 0], minlength=len(table)) > 0
    if (table[used] < 0).any():  # a category in use that is not a level: patsy decides
        return None
    # a missing value's code -1 picks the appended -1 (and a Categorical without categories,
    # all missing, indexes only that entry)
    return np.append(table, -1).astype(np.intp)[own]


def _keep_first_rows(matrix: np.ndarray, m: int) -> None:
    """Shrink a column-major ``matrix`` that owns its data to its first ``m`` rows, in place.

    Each column is moved down to follow the previous one's first ``m`` entries, then the
    buffer is cut to ``m * k`` entries (a shorter allocation, no second copy of the design).
    """
    n, k = matrix.shape
    flat = matrix.reshape(-1, order="F")  # a view of the whole buffer, column after column
    for j in range(1, k):
        flat[j * m:(j + 1) * m] = flat[j * n:j * n + m]  # overlapping moves are buffered
    del flat
    matrix.resize((m, k), refcheck=False)


def build_formula_design(formula: str, data: pd.DataFrame, eval_env: Any) -> FormulaDesign:
    """Evaluate ``formula`` on ``data`` into the final matrices (see the module docstring).

    Parameters
    ----------
    formula : str
        ``'lhs ~ rhs'`` in patsy syntax.
    data : pandas.DataFrame
    eval_env : patsy.EvalEnvironment

    Returns
    -------
    FormulaDesign
        The matrices ``patsy.dmatrices(formula, data, NA_action="drop")`` gives, the design
        column-major, with its :math:`X'X`.

    Raises
    ------
    patsy.PatsyError
        As :func:`patsy.dmatrices` would (unknown names, no outcome, ...).
    """
    desc = patsy.ModelDesc.from_formula(formula)
    n = len(data)
    lhs_info, rhs_info = patsy.design_matrix_builders(
        [desc.lhs_termlist, desc.rhs_termlist], lambda: iter([data]), eval_env, "drop")
    if not lhs_info.column_names:
        raise patsy.PatsyError("model is missing required outcome variables")
    q, k = len(lhs_info.column_names), len(rhs_info.column_names)
    endog = np.empty((n, q))
    # column-major: each column of a sub-block is written as one contiguous piece (no
    # transposing stores), and the fit's passes scale rows along contiguous columns
    exog = np.empty((n, k), order="F")
    plan = _numeric_plan(lhs_info, rhs_info)
    with single_blas_thread():
        written = None if plan is None else _write_design(plan, data, endog, exog)
        if written is None:  # a layout this writer does not know, or a value patsy must refuse
            written = _patsy_design(lhs_info, rhs_info, data, endog, exog)
    m, gram, row_labels = written
    if m < n:  # rows dropped: shrink in place
        endog.resize((m, q), refcheck=False)  # a C-contiguous prefix keeps its data
        _keep_first_rows(exog, m)
    return FormulaDesign(endog=endog, exog=exog, row_labels=row_labels, lhs_info=lhs_info,
                         rhs_info=rhs_info, gram=gram)


def _patsy_design(lhs_info: Any, rhs_info: Any, data: pd.DataFrame, endog: np.ndarray,
                  exog: np.ndarray) -> tuple[int, np.ndarray, pd.Index]:
    """patsy's own matrices on the whole data, copied into ``endog`` and ``exog``."""
    try:  # no missing values: plain matrices, no row masks or copies
        yb, xb = patsy.build_design_matrices([lhs_info, rhs_info], data, NA_action="raise",
                                             return_type="matrix")
        index = data.index
    except patsy.PatsyError:  # missing values (or a real error, raised again here)
        yb, xb = patsy.build_design_matrices([lhs_info, rhs_info], data, NA_action="drop",
                                             return_type="dataframe")
        index = xb.index
    m = len(xb)
    endog[:m] = yb
    exog[:m] = xb
    gram = np.zeros((exog.shape[1],) * 2)
    _add_gram(gram, exog[:m])
    return m, gram, index
