"""What a panel's design is: condition variables, sampled variables, alternatives, formulas.

The simulator's panel (README, "The panel") puts the design variables first, before
``condition_id``. A design column that is constant within every condition is a **condition
variable** (set by the experimenter: a regressor); one that varies within a condition is a
**sampled variable** (drawn per run, e.g. a persona: the per-run latent state, not a
regressor by default).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataError

__all__ = ["PanelDesign", "panel_design", "default_rhs", "parse_rhs", "checked_rhs",
           "FEW_CLUSTERS"]

#: Fewer clusters than this are "few": normal critical values under-cover (measured: 0.910 with
#: 16 price clusters for a nominal 0.95), so the report uses t(G-1) critical values.
FEW_CLUSTERS = 42


@dataclass
class PanelDesign:
    """The design read from a panel.

    Attributes
    ----------
    conditions : list of str
        Condition variables (constant within each ``condition_id``), in panel order.
    sampled : list of str
        Sampled per-run variables.
    alternatives : list of str
        From the ``belief_<alt>`` columns, in order.
    price : str or None
        The price variable (``price`` if a condition variable, else None unless given).
    runs : pandas.Series
        Rows per condition.
    """

    conditions: list[str]
    sampled: list[str]
    alternatives: list[str]
    price: str | None
    runs: pd.Series

    @property
    def n_conditions(self) -> int:
        return len(self.runs)

    @property
    def binary(self) -> bool:
        return len(self.alternatives) == 2

    def cluster_choice(self) -> tuple[str, dict[str, Any], str]:
        """(cov_type, cov_kwds, reason) chosen from the design."""
        if int(self.runs.max()) > 1 and self.n_conditions > 1:
            g = self.n_conditions
            few = g < FEW_CLUSTERS
            why = (f"clustered by condition ({g} clusters): runs at the same condition share "
                   "the prompt, so their answers are not independent draws of the regressors")
            if few:
                why += (f"; {g} clusters are few (fewer than {FEW_CLUSTERS}), so intervals and "
                        f"p-values use t({g - 1}) critical values")
            return "cluster", {"groups": "condition_id"}, why
        return "HC1", {}, "HC1 (one row per condition: nothing to cluster)"

    def label(self, row: pd.Series) -> str:
        return ", ".join(f"{v}={_fmt_value(row[v])}" for v in self.conditions) or "all"


def _fmt_value(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def panel_design(panel: pd.DataFrame, *, price: str | None = None,
                 alternatives: Sequence[str] | None = None) -> PanelDesign:
    """Read the design of a simulator panel.

    Raises
    ------
    DataError
        The panel has no ``condition_id`` column, no ``belief_<alt>`` columns, a design value
        is missing, ``price`` is not numeric, or ``price`` is not one of its condition
        variables.
    """
    if not isinstance(panel, pd.DataFrame):
        raise TypeError(f"panel must be a pandas DataFrame, got {type(panel).__name__}")
    for col in ("condition_id", "run", "choice"):
        if col not in panel.columns:
            raise DataError(f"the panel has no {col!r} column: is it a beliefreg.simulate "
                            f"panel? columns: {list(panel.columns)[:20]}")
    design_cols = list(panel.columns[:list(panel.columns).index("condition_id")])
    for col in design_cols:  # the simulator never writes a missing design value
        missing = panel[col].isna().to_numpy()
        if missing.any():
            rows = [str(r) for r in panel.index[missing][:10]]
            raise DataError(f"design column {col!r} is missing in {int(missing.sum())} row(s) "
                            f"(rows {', '.join(rows)}{', ...' if missing.sum() > 10 else ''}): "
                            "a panel from beliefreg.simulate has every design value; fill or "
                            "drop those rows")
    conditions, sampled = [], []
    g = panel.groupby("condition_id", sort=True)
    for col in design_cols:
        if (g[col].nunique(dropna=False) <= 1).all():
            conditions.append(col)
        else:
            sampled.append(col)
    alts = [c[len("belief_"):] for c in panel.columns if c.startswith("belief_")
            and c not in ("belief_method", "belief_flags", "belief_reason")]
    if alternatives is not None:
        missing = [a for a in alternatives if a not in alts]
        if missing:
            raise DataError(f"no belief column for alternative(s) {missing}; the panel has "
                            f"{alts}")
        alts = list(alternatives)
    if len(alts) < 2:
        raise DataError(f"the panel needs belief columns of at least two alternatives; found "
                        f"{alts}")
    if price is None:
        price = "price" if "price" in conditions else None
    bad = _non_numeric(panel[price]) if price is not None and price in panel.columns else None
    if bad is not None and 0 < len(bad) < len(panel):
        _refuse_price(price, bad)  # a few text cells: a typo, not a sampled variable
    if price is not None and price not in conditions:
        raise DataError(f"price={price!r} is not a condition variable of the panel; condition "
                        f"variables: {conditions}" + (f" (sampled per run: {sampled})"
                                                      if sampled else ""))
    if bad is not None and len(bad):
        _refuse_price(price, bad)
    return PanelDesign(conditions, sampled, alts, price, g.size())


def _non_numeric(column: pd.Series) -> pd.Series:
    """The values of a price column that are not numbers (empty when it is numeric)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.iloc[:0]
    return column[pd.to_numeric(column, errors="coerce").isna()]


def _refuse_price(price: str, bad: pd.Series) -> None:
    raise DataError(f"the price column {price!r} holds values that are not numbers: "
                    f"{list(dict.fromkeys(bad.astype(str)))[:5]} (rows "
                    f"{', '.join(map(str, bad.index[:10]))}); a price must be numeric")


def default_rhs(design: PanelDesign, panel: pd.DataFrame) -> str:
    """The default right-hand side: every condition variable that varies.

    The price enters as ``np.log(price)`` when all prices are positive (the paper's demand
    model); other numeric variables linearly; text, boolean and categorical ones as ``C(v)``.
    """
    terms = []
    for v in design.conditions:
        col = panel[v]
        if col.nunique(dropna=False) < 2:
            continue
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            if v == design.price and (col > 0).all():
                terms.append(f"np.log({v})")
            else:
                terms.append(v)
        else:
            terms.append(f"C({v})")
    if not terms:
        raise DataError("no condition variable varies across the panel's conditions: there "
                        "is nothing to regress on")
    return " + ".join(terms)


def parse_rhs(formula: str | None) -> str | None:
    """``'y ~ a + b'`` or ``'~ a + b'`` or ``'a + b'`` -> ``'a + b'`` (the outcome is the
    measure's own column)."""
    if formula is None:
        return None
    rhs = formula.split("~", 1)[1] if "~" in formula else formula
    rhs = rhs.strip()
    if not rhs:
        raise ValueError(f"the formula {formula!r} has no right-hand side")
    return rhs


def checked_rhs(formula: str | None, panel: pd.DataFrame, design: PanelDesign) -> str | None:
    """:func:`parse_rhs`, refusing up front a right-hand side that cannot be built on the panel.

    Raises
    ------
    ValueError
        The formula names a column the panel lacks (or does not parse); the message gives
        patsy's reason and the panel's condition and sampled variables. Nothing is fitted.
    """
    rhs = parse_rhs(formula)
    if rhs is None:
        return None
    import warnings

    import patsy

    env = patsy.EvalEnvironment([{"np": np, "numpy": np}])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # np.log(0) and the like: the fits report them
            patsy.dmatrix(rhs, panel, eval_env=env, NA_action="drop")
    except patsy.PatsyError as exc:
        origin = getattr(exc, "origin", None)
        where = f" (in `{origin.code[origin.start:origin.end]}`)" if origin is not None else ""
        sampled = (f" and sampled variables {design.sampled}" if design.sampled else "")
        raise ValueError(f"the formula {rhs!r} cannot be built on this panel{where}: "
                         f"{getattr(exc, 'message', exc)}; the panel's condition variables are "
                         f"{design.conditions}{sampled} (nothing was fitted)") from None
    return rhs


def isfinite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _default_rhs_or_note(design: PanelDesign, panel: pd.DataFrame, errors: list[str]) -> str:
    """:func:`default_rhs`, or (nothing varies) the price alone with the failure recorded."""
    try:
        return default_rhs(design, panel)
    except DataError as exc:
        errors.append(str(exc))
        return f"np.log({design.price})" if design.price else "1"
