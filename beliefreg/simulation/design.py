"""Expand a study into request items: one per (condition, run).

Every random element of the design (sampled variables, the order of the alternatives) is drawn
from a generator seeded by the study seed, the condition's values, the run index and the draw, so
an item does not depend on the order of the conditions or on which other items exist.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import StudyError
from .keys import derive_seed, plain
from .study import choice_labels

if TYPE_CHECKING:
    from .study import Study

__all__ = ["Item", "condition_table", "expand", "format_choices"]


@dataclass(frozen=True)
class Item:
    """One request of a study, before a backend turns it into a payload."""

    condition_id: int
    run: int
    draw: int
    variables: dict[str, Any]
    """Condition variables followed by sampled variables (panel columns)."""
    choice_order: tuple[str, ...]
    system: str | None
    question: str
    examples: tuple[tuple[str, str], ...]


def condition_table(conditions: Mapping[str, Sequence[Any]] | pd.DataFrame | None) -> pd.DataFrame:
    """The design as a DataFrame, one row per condition.

    A mapping of lists is crossed into a full factorial (the first variable varies slowest);
    a DataFrame is taken row by row with a fresh index.
    """
    if conditions is None:
        return pd.DataFrame(index=pd.RangeIndex(1))
    if isinstance(conditions, pd.DataFrame):
        if len(conditions) == 0:
            raise StudyError("the conditions DataFrame has no rows")
        table = conditions.reset_index(drop=True).copy()
        table.columns = [str(c) for c in table.columns]
        return table
    if not isinstance(conditions, Mapping):
        raise StudyError("conditions must be a mapping {variable: [values]} or a DataFrame")
    names = [str(k) for k in conditions]
    levels = []
    for name, values in conditions.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            values = [values]
        if len(values) == 0:
            raise StudyError(f"condition variable {name!r} has no values")
        levels.append(list(values))
    rows = list(itertools.product(*levels))
    return pd.DataFrame(rows, columns=names)


def format_choices(labels: Sequence[str]) -> str:
    """Inline list of labels: ``"Yes or No"``, ``"A, B or C"``."""
    labels = list(labels)
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " or " + labels[-1]


def _key_value(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN in a DataFrame design
        return None
    return plain(value)


def _draw_rng(study: Study, purpose: str, condition: Mapping[str, Any], run: int,
              draw: int) -> np.random.Generator:
    return np.random.default_rng(derive_seed(study.seed, purpose, condition, run, draw))


def expand(study: Study, *, draw: int = 0) -> list[Item]:
    """All items of ``study`` for one draw, ordered by condition then run."""
    labels = choice_labels(study.choices)
    alternatives = list(labels)
    table = study.condition_table
    records = [{k: _key_value(v) for k, v in row.items()} for row in table.to_dict("records")]
    items = []
    for condition_id, condition in enumerate(records):
        for run in range(study.runs):
            sampled = {}
            for name, values in study.sampled.items():
                rng = _draw_rng(study, f"sampled:{name}", condition, run, draw)
                sampled[name] = values[int(rng.integers(len(values)))]
            order = list(alternatives)
            if study.shuffle_choices:
                rng = _draw_rng(study, "choice_order", condition, run, draw)
                order = [order[i] for i in rng.permutation(len(order))]
            shown = [labels[a] for a in order]
            fill = {**condition, **sampled, "choices": format_choices(shown),
                    "choices_list": "\n".join(f"- {s}" for s in shown)}
            try:
                question = study.prompt.format(**fill)
                system = study.system.format(**fill) if study.system else None
            except (KeyError, IndexError, ValueError) as exc:
                raise StudyError(f"cannot fill the prompt template: {exc!r}") from None
            items.append(
                Item(
                    condition_id=condition_id,
                    run=run,
                    draw=draw,
                    variables={**condition, **sampled},
                    choice_order=tuple(order),
                    system=system,
                    question=question,
                    examples=tuple(study.examples),
                )
            )
    return items
