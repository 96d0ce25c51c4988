"""The two measures of a simulation panel, validated: model belief and model choice.

A *panel* is a pandas DataFrame with one row per (condition, run): the condition's variables
(e.g. ``price``), a condition identifier (default ``condition_id``), a run index (default
``run``), the belief in one alternative (default ``belief_yes``) and the sampled choice
(default ``choice``: the chosen alternative's id, compared with ``alternative``; or a 0/1 or
boolean column used as is). This is the simulator's documented panel schema; any DataFrame
with those columns works.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..exceptions import DataError, MissingValueWarning
from ..frames import as_pandas_frame, is_dataframe_like

__all__ = ["MeasureName", "MEASURES", "Measure", "MeasurePanel", "measure_panel"]

MeasureName = Literal["belief", "choice"]
MEASURES: tuple[MeasureName, ...] = ("belief", "choice")


@dataclass(frozen=True)
class Measure:
    """One of the two outcomes, as an estimator sees it.

    Attributes
    ----------
    name : {'belief', 'choice'}
        ``'belief'``: the probability at the pivot token, in [0, 1] (a fractional outcome);
        ``'choice'``: the sampled answer as 0/1.
    column : str
        The numeric column of the panel passed to the estimator that holds this measure.
    """

    name: MeasureName
    column: str

    @property
    def binary(self) -> bool:
        """True for ``'choice'`` (a 0/1 outcome), False for ``'belief'``."""
        return self.name == "choice"


@dataclass
class MeasurePanel:
    """A validated panel and what resampling needs to know about it.

    Attributes
    ----------
    data : pandas.DataFrame
        The rows used (missing measures dropped), with a 0/1 choice column added when the
        panel's choice column holds alternative ids. Index reset to 0..n-1.
    measures : dict
        ``{'belief': Measure, 'choice': Measure}``.
    condition : str
        The condition identifier column.
    condition_ids : list
        The conditions, in the order of ``rows``.
    rows : list of ndarray
        For each condition, the positions (in ``data``) of its runs, ordered by run.
    """

    data: pd.DataFrame
    measures: dict[str, Measure]
    condition: str
    run: str
    condition_ids: list[Any]
    rows: list[np.ndarray]

    @property
    def runs_per_condition(self) -> pd.Series:
        """Number of runs available at each condition."""
        return pd.Series([len(r) for r in self.rows], index=pd.Index(self.condition_ids,
                         name=self.condition), name="runs")

    def values(self, measure: str) -> np.ndarray:
        """The measure's values as floats, aligned with ``data``."""
        return self.data[self.measures[measure].column].to_numpy(dtype=float)

    def condition_frame(self) -> pd.DataFrame:
        """One row per condition (its first run), in the order of ``rows``."""
        first = [r[0] for r in self.rows]
        return self.data.iloc[first].reset_index(drop=True)

    def check_min_runs(self, minimum: int = 2) -> None:
        """Raise :class:`~beliefreg.DataError` naming the conditions with too few runs."""
        counts = self.runs_per_condition
        few = counts[counts < minimum]
        if len(few):
            shown = ", ".join(f"{cid!r} ({n} run{'s' if n != 1 else ''})"
                              for cid, n in list(few.items())[:10])
            more = f" and {len(few) - 10} more" if len(few) > 10 else ""
            raise DataError(f"resampling runs needs at least {minimum} runs per condition; "
                            f"{len(few)} condition(s) of {self.condition!r} have fewer: "
                            f"{shown}{more}")


def _require_columns(panel: pd.DataFrame, columns: dict[str, str]) -> None:
    missing = {role: col for role, col in columns.items() if col not in panel.columns}
    if missing:
        listed = ", ".join(f"{role}={col!r}" for role, col in missing.items())
        raise DataError(f"the panel has no column for {listed}; its columns are "
                        f"{list(map(str, panel.columns))[:30]}")


def _choice_indicator(values: pd.Series, alternative: Any, name: str) -> pd.Series:
    """0/1 (float, NaN where missing) from a choice column of ids, booleans or 0/1 numbers."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    if pd.api.types.is_numeric_dtype(values):
        v = values.astype(float)
        bad = v.notna() & ~v.isin([0.0, 1.0])
        if bad.any():
            raise DataError(f"the choice column {name!r} is numeric, so it must be 0/1; it is "
                            f"not in {int(bad.sum())} row(s), e.g. {v[bad].iloc[:3].tolist()}")
        return v
    missing = values.isna()
    indicator = (values == alternative).astype(float)
    indicator[missing] = np.nan
    if not missing.all() and not (values[~missing] == alternative).any():
        seen = sorted(map(str, values[~missing].unique()))[:10]
        raise DataError(f"no row of the choice column {name!r} equals the alternative "
                        f"{alternative!r}; values seen: {seen}. Pass alternative= (and "
                        "belief=) for the alternative whose probability is modelled")
    return indicator


def measure_panel(panel: pd.DataFrame, *, condition: str = "condition_id", run: str = "run",
                  belief: str | None = None, choice: str = "choice",
                  alternative: Any = "yes",
                  extra_columns: Sequence[str] = ()) -> MeasurePanel:
    """Validate a panel and resolve its belief and choice measures.

    Parameters
    ----------
    panel : pandas.DataFrame (or a polars DataFrame or pyarrow Table)
        One row per (condition, run).
    condition, run : str
        The condition identifier and the run index columns. Each (condition, run) pair must be
        unique.
    belief : str, optional
        The belief column, in [0, 1]; default ``f"belief_{alternative}"``.
    choice : str
        The choice column: alternative ids (the measure is ``choice == alternative``), or a
        0/1 / boolean column used as is.
    alternative
        The alternative whose belief and choice are modelled (default ``'yes'``).
    extra_columns : sequence of str
        Further columns that must exist (e.g. the price).

    Returns
    -------
    MeasurePanel

    Raises
    ------
    DataError
        Unknown columns, beliefs outside [0, 1], a numeric choice that is not 0/1, duplicate
        (condition, run) pairs, or no usable rows.

    Warns
    -----
    MissingValueWarning
        Rows whose belief or choice is missing (e.g. failed requests) are dropped from both
        measures, so that the two are compared on the same runs.
    """
    if not isinstance(panel, pd.DataFrame):
        # a polars or pyarrow panel (e.g. pl.read_parquet("panel.parquet")), as the models
        # accept; anything else is named with its module ("got DataFrame" said nothing)
        if not is_dataframe_like(panel):
            kind = type(panel)
            raise TypeError(f"panel must be a data frame (pandas, polars, pyarrow), got "
                            f"{kind.__module__}.{kind.__qualname__}")
        panel = as_pandas_frame(panel, what="panel")
    belief = f"belief_{alternative}" if belief is None else belief
    roles = {"condition": condition, "run": run, "belief": belief, "choice": choice}
    roles.update({f"column {c!r}": c for c in extra_columns})
    _require_columns(panel, roles)

    data = panel.reset_index(drop=True)
    indicator = _choice_indicator(data[choice], alternative, choice)
    if pd.api.types.is_numeric_dtype(data[choice]) or pd.api.types.is_bool_dtype(data[choice]):
        choice_column = choice
        data = data.copy()
        data[choice_column] = indicator
    else:
        choice_column = f"{choice}_is_{alternative}"
        if choice_column in data.columns:
            raise DataError(f"the panel already has a column {choice_column!r}; rename it or "
                            "pass the 0/1 choice column as choice=")
        data = data.assign(**{choice_column: indicator})
    if not pd.api.types.is_numeric_dtype(data[belief]):
        raise DataError(f"the belief column {belief!r} must be numeric, got dtype "
                        f"{data[belief].dtype}")
    b = data[belief].astype(float)
    bad = b.notna() & ((b < 0.0) | (b > 1.0) | ~np.isfinite(b))
    if bad.any():
        raise DataError(f"beliefs must lie in [0, 1]; {belief!r} does not in "
                        f"{int(bad.sum())} row(s), e.g. {b[bad].iloc[:3].tolist()}")

    missing = b.isna() | data[choice_column].isna() | data[condition].isna() | data[run].isna()
    if missing.any():
        warnings.warn(f"{int(missing.sum())} of {len(data)} rows dropped: missing belief "
                      f"({belief!r}), choice ({choice!r}), condition or run; both measures use "
                      "the remaining runs", MissingValueWarning, stacklevel=3)
        data = data.loc[~missing].reset_index(drop=True)
    if not len(data):
        raise DataError("the panel has no rows with both a belief and a choice")

    dup = data.duplicated([condition, run], keep=False)
    if dup.any():
        pairs = data.loc[dup, [condition, run]].drop_duplicates().head(5)
        raise DataError(f"each (condition, run) pair must appear once; {int(dup.sum())} rows "
                        f"repeat pairs such as {list(map(tuple, pairs.to_numpy().tolist()))}")

    order = data.sort_values([condition, run], kind="stable").index.to_numpy()
    codes, uniques = pd.factorize(data.loc[order, condition], sort=True)
    rows = [order[codes == j] for j in range(len(uniques))]
    measures = {"belief": Measure("belief", belief), "choice": Measure("choice", choice_column)}
    return MeasurePanel(data=data, measures=measures, condition=condition, run=run,
                        condition_ids=list(uniques), rows=rows)
