"""The simulation panel: one row per request, in a documented schema.

The schema (README, "The panel") is the contract between the simulator and the models:
the models read ``belief_<alternative>`` and ``choice`` and the design variables, and know
nothing else of how they were produced.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .backends.base import Outcome

if TYPE_CHECKING:
    from .backends.base import Backend
    from .design import Item
    from .store import Record
    from .study import Study

__all__ = ["build_panel", "panel_columns", "recommended_rows", "META_COLUMNS"]

#: Columns after the design variables, in order (``belief_<alt>`` are inserted after
#: ``choice_valid``).
META_COLUMNS = (
    "condition_id", "run", "draw", "model", "backend", "layout", "temperature", "choice",
    "choice_valid",
    # belief_<alt> ...
    "covered_mass", "missing_mass", "pivot_index", "pivot_token", "pivot_method",
    "belief_method", "belief_flags", "belief_reason", "choice_order", "raw_text",
    "finish_reason", "input_tokens", "output_tokens", "cost_usd", "error", "cache_hit", "request_key",
)


def panel_columns(study: Study) -> list[str]:
    """Column names of the panel of ``study``, in order."""
    design = list(study.condition_table.columns) + list(study.sampled)
    i = META_COLUMNS.index("choice_valid") + 1
    beliefs = [f"belief_{a}" for a in study.alternatives]
    return design + list(META_COLUMNS[:i]) + beliefs + list(META_COLUMNS[i:])


def recommended_rows(panel: pd.DataFrame) -> pd.Series:
    """The rows to estimate on: the recommended filter of a simulation panel.

    A row is kept when its request succeeded (``error`` is missing), every ``belief_<alt>`` is
    a number, the sampled answer is one of the alternatives (``choice_valid``), and the
    alternatives carry at least :data:`beliefreg.belief.LOW_MASS_THRESHOLD` (0.5) of the
    probability at the pivot (``belief_flags`` has no ``low_mass``). The last two drop
    refusals and off-task answers: a refusal whose first token lists "Yes" far down its top-k
    list would otherwise count as a belief of 1.0.

    Parameters
    ----------
    panel : pandas.DataFrame
        A panel from :func:`beliefreg.simulate` (the columns used must be present).

    Returns
    -------
    pandas.Series of bool
        Aligned with ``panel``: True for the rows to keep.

    Examples
    --------
    >>> ok = panel[recommended_rows(panel)]  # doctest: +SKIP
    """
    beliefs = [c for c in panel.columns if c.startswith("belief_")
               and c not in ("belief_method", "belief_flags", "belief_reason")]
    if not beliefs:
        raise ValueError("the panel has no belief_<alternative> column")
    keep = panel[beliefs].notna().all(axis=1)
    if "error" in panel:
        keep &= panel["error"].isna()
    keep &= panel["choice_valid"].astype(bool) if "choice_valid" in panel \
        else panel["choice"].notna()
    if "belief_flags" in panel:
        flags = panel["belief_flags"].astype(object).fillna("").astype(str)
        keep &= ~flags.str.split(",").map(lambda f: "low_mass" in f)
    return keep.astype(bool)


def _outcome(backend: Backend, record: Record, study: Study) -> Outcome:
    alts = study.alternatives
    if not record.ok or record.response is None:
        return Outcome.failed(alts, reason="request failed")
    try:
        return backend.read(record.response, study)
    except Exception as exc:  # reading must never lose the row
        return Outcome.failed(alts, reason=f"unreadable response: {type(exc).__name__}: {exc}")


def build_panel(study: Study, items: Sequence[Item], keys: Sequence[str],
                records: Mapping[str, Record], *, backend: Backend, model: str,
                cached: set[str] | frozenset[str] = frozenset()) -> pd.DataFrame:
    """The panel for the items that have a stored record (in design order).

    Parameters
    ----------
    study : Study
    items, keys : sequences
        The design items and their store keys, aligned.
    records : mapping
        Stored records by key (items without one are left out).
    backend : Backend
        Reads the stored responses.
    model : str
    cached : set of str
        Keys that were in the store before this call (``cache_hit``).
    """
    table = study.condition_table
    alts = study.alternatives
    layout = backend.layout_of(study)
    read_cache: dict[str, Outcome] = {}
    rows = []
    for item, key in zip(items, keys, strict=True):
        rec = records.get(key)
        if rec is None:
            continue
        if key not in read_cache:
            read_cache[key] = _outcome(backend, rec, study)
        out = read_cache[key]
        row: dict[str, Any] = {k: item.variables[k] for k in study.sampled}
        valid = out.choice is not None
        row.update({
            "condition_id": item.condition_id,
            "run": item.run,
            "draw": item.draw,
            "model": model,
            "backend": backend.name,
            "layout": layout,
            "temperature": float(study.temperature),
            "choice": out.choice,
            "choice_valid": valid,
        })
        for a in alts:
            row[f"belief_{a}"] = out.belief.get(a, math.nan)
        row.update({
            "covered_mass": out.covered_mass,
            "missing_mass": out.missing_mass,
            "pivot_index": out.pivot_index,
            "pivot_token": out.pivot_token,
            "pivot_method": out.pivot_method,
            "belief_method": out.belief_method,
            "belief_flags": out.extra.get("flags", ""),
            "belief_reason": out.belief_reason,
            "choice_order": "|".join(item.choice_order),
            "raw_text": out.raw_text,
            "finish_reason": out.extra.get("finish_reason"),
            "input_tokens": rec.input_tokens,
            "output_tokens": rec.output_tokens,
            "cost_usd": math.nan if rec.cost_usd is None else float(rec.cost_usd),
            "error": rec.error,
            "cache_hit": key in cached,
            "request_key": key,
        })
        rows.append(row)
    columns = panel_columns(study)
    meta = pd.DataFrame(rows, columns=[c for c in columns if c not in table.columns])
    # the condition variables keep the design's dtypes
    design = table.iloc[meta["condition_id"].to_numpy(dtype="int64")].reset_index(drop=True)
    df = pd.concat([design, meta], axis=1)[columns]
    for col in ("condition_id", "run", "draw"):
        df[col] = df[col].astype("int64")
    for col in ("pivot_index", "input_tokens", "output_tokens"):
        df[col] = df[col].astype("Int64")
    for col in ["temperature", "covered_mass", "missing_mass", "cost_usd",
                *[f"belief_{a}" for a in alts]]:
        df[col] = df[col].astype("float64")
    df["choice_valid"] = df["choice_valid"].astype(bool)
    df["cache_hit"] = df["cache_hit"].astype(bool)
    for col in ("choice", "model", "backend", "layout", "pivot_token", "pivot_method",
                "belief_method", "belief_flags", "belief_reason", "choice_order", "raw_text",
                "finish_reason", "error",
                "request_key"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df.reset_index(drop=True)
