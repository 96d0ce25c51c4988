"""Expand a study into request items: one per (condition, run).

Every random element of the design (sampled variables, the order of the alternatives) is drawn
from a generator seeded by the study seed, the condition's values, the run index and the draw, so
an item does not depend on the order of the conditions or on which other items exist.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import StudyError
from .keys import derive_seed, plain
from .study import choice_labels

if TYPE_CHECKING:
    from .study import Study

__all__ = ["Item", "MAX_REQUESTS", "condition_records", "condition_table", "expand", "format_choices",
           "grid_size", "iter_items", "iter_rendered", "Rendered"]


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


#: Default largest number of requests (conditions x runs) a study may have; see
#: :class:`~beliefreg.simulation.Study` ``max_requests``.
MAX_REQUESTS = 10_000_000


def grid_size(conditions: Mapping[str, Sequence[Any]] | pd.DataFrame | None) -> int:
    """Number of conditions ``conditions`` describes, computed without building anything."""
    if conditions is None:
        return 1
    if isinstance(conditions, pd.DataFrame):
        return len(conditions)
    if not isinstance(conditions, Mapping):
        raise StudyError("conditions must be a mapping {variable: [values]} or a DataFrame")
    n = 1
    for values in conditions.values():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            continue
        n *= len(values)
    return n


def condition_table(conditions: Mapping[str, Sequence[Any]] | pd.DataFrame | None) -> pd.DataFrame:
    """The design as a DataFrame, one row per condition.

    A mapping of lists is crossed into a full factorial (the first variable varies slowest);
    a DataFrame is taken row by row with a fresh index. The factorial is built column by column
    from level indices (no tuple per condition), so 10^6 conditions take a few columns of
    memory.
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
    sizes = [len(v) for v in levels]
    n = int(np.prod(sizes, dtype=object)) if sizes else 1
    columns = {}
    inner = n
    for name, values, size in zip(names, levels, sizes, strict=True):
        inner //= size
        index = np.tile(np.repeat(np.arange(size), inner), n // (size * inner))
        # the column's dtype is inferred as DataFrame(rows) would: from the Python values
        columns[name] = pd.Series(values, dtype=None).take(index).reset_index(drop=True) \
            if not _needs_object(values) else pd.Series([values[i] for i in index], dtype=object)
    return pd.DataFrame(columns, columns=names) if names else pd.DataFrame(index=pd.RangeIndex(n))


def _needs_object(values: list[Any]) -> bool:
    """Whether a level list holds sequences (kept as objects, not expanded by pandas)."""
    return any(isinstance(v, (list, tuple, dict, set)) for v in values)


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


def condition_records(table: pd.DataFrame, start: int = 0,
                      stop: int | None = None) -> list[dict[str, Any]]:
    """Rows ``start:stop`` of a condition table as dicts of plain values (NaN -> None).

    Column by column (``tolist`` gives Python scalars for numeric dtypes), so a chunk of 10^4
    rows costs a few milliseconds.
    """
    block = table.iloc[start:stop]
    names = list(block.columns)
    if not names:
        return [{} for _ in range(len(block))]
    columns = []
    for name in names:
        col = block[name]
        values = col.tolist()
        kind = col.dtype.kind
        if kind in "iub":
            pass
        elif kind == "f":
            if col.isna().any():
                values = [None if v != v else v for v in values]
        else:
            values = [_key_value(v) for v in values]
        columns.append(values)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


class Rendered:
    """The runs of one condition that share one rendered question.

    Without sampled variables or shuffled choices every run of a condition reads the same text,
    so a condition is one ``Rendered`` covering all its runs (backends hash the shared text
    once); otherwise each run is its own ``Rendered``. Read only.
    """

    __slots__ = ("condition_id", "runs", "draw", "variables", "choice_order", "system",
                 "question", "examples")

    def __init__(self, condition_id: int, runs: range, draw: int, variables: dict[str, Any],
                 choice_order: tuple[str, ...], system: str | None, question: str,
                 examples: tuple[tuple[str, str], ...]) -> None:
        self.condition_id = condition_id
        self.runs = runs
        self.draw = draw
        self.variables = variables
        self.choice_order = choice_order
        self.system = system
        self.question = question
        self.examples = examples

    def items(self) -> list[Item]:
        """One :class:`Item` per run."""
        return [_item(self.condition_id, run, self.draw, self.variables, self.choice_order,
                      self.system, self.question, self.examples) for run in self.runs]


def _item(condition_id: int, run: int, draw: int, variables: dict[str, Any],
          choice_order: tuple[str, ...], system: str | None, question: str,
          examples: tuple[tuple[str, str], ...]) -> Item:
    """An :class:`Item` without the frozen dataclass's per-field ``__setattr__`` (the design
    builds millions of them)."""
    item = object.__new__(Item)
    item.__dict__.update(condition_id=condition_id, run=run, draw=draw, variables=variables,
                         choice_order=choice_order, system=system, question=question,
                         examples=examples)
    return item


def iter_rendered(study: Study, *, draw: int = 0, start: int = 0, stop: int | None = None,
                  chunk: int = 4096) -> Iterator[Rendered]:
    """The rendered questions of conditions ``start:stop`` of ``study`` for one draw, lazily
    (see :class:`Rendered`); condition rows are read ``chunk`` at a time, so memory does not
    grow with the design."""
    labels = choice_labels(study.choices)
    alternatives = list(labels)
    table = study.condition_table_view
    n = len(table)
    stop = n if stop is None else min(stop, n)
    per_run = bool(study.sampled) or study.shuffle_choices
    examples = tuple(study.examples)
    default_fill: dict[str, str] = {}
    if not study.shuffle_choices:
        shown = [labels[a] for a in alternatives]
        default_fill = {"choices": format_choices(shown),
                        "choices_list": "\n".join(f"- {s}" for s in shown)}
    all_runs = range(study.runs)
    order0 = tuple(alternatives)
    for lo in range(start, stop, chunk):
        records = condition_records(table, lo, min(stop, lo + chunk))
        for offset, condition in enumerate(records):
            condition_id = lo + offset
            if not per_run:
                question, system = _render(study, {**condition, **default_fill})
                yield Rendered(condition_id, all_runs, draw, condition, order0, system,
                               question, examples)
                continue
            for run in all_runs:
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
                else:
                    fill = {**condition, **sampled, **default_fill}
                question, system = _render(study, fill)
                yield Rendered(condition_id, range(run, run + 1), draw,
                               {**condition, **sampled}, tuple(order), system, question,
                               examples)


def iter_items(study: Study, *, draw: int = 0, start: int = 0, stop: int | None = None,
               chunk: int = 4096) -> Iterator[Item]:
    """The items of conditions ``start:stop`` of ``study`` for one draw, lazily, ordered by
    condition then run."""
    for group in iter_rendered(study, draw=draw, start=start, stop=stop, chunk=chunk):
        yield from group.items()


def _render(study: Study, fill: Mapping[str, Any]) -> tuple[str, str | None]:
    try:
        question = study.prompt.format(**fill)
        system = study.system.format(**fill) if study.system else None
    except (KeyError, IndexError, ValueError) as exc:
        raise StudyError(f"cannot fill the prompt template: {exc!r}") from None
    return question, system


def expand(study: Study, *, draw: int = 0) -> list[Item]:
    """All items of ``study`` for one draw, ordered by condition then run (a list; see
    :func:`iter_items` for the lazy form)."""
    return list(iter_items(study, draw=draw))
