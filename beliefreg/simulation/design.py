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

__all__ = ["Item", "MAX_REQUESTS", "QuestionBlock", "condition_columns", "condition_records",
           "condition_table", "expand", "format_choices", "grid_size", "iter_items",
           "iter_question_blocks", "iter_rendered", "Rendered"]


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


def condition_columns(table: pd.DataFrame, start: int = 0,
                      stop: int | None = None) -> tuple[list[str], list[list[Any]]]:
    """Rows ``start:stop`` of a condition table as column names and columns of plain values
    (NaN -> None), the values of :func:`condition_records` without a dict per row.

    Column by column (``tolist`` gives Python scalars for numeric dtypes), so a chunk of 10^4
    rows costs a few milliseconds.
    """
    block = table.iloc[start:stop]
    names = [str(c) for c in block.columns]
    columns = []
    for name in block.columns:
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
    return names, columns


def condition_records(table: pd.DataFrame, start: int = 0,
                      stop: int | None = None) -> list[dict[str, Any]]:
    """Rows ``start:stop`` of a condition table as dicts of plain values (NaN -> None)."""
    names, columns = condition_columns(table, start, stop)
    if not names:
        return [{} for _ in range(len(table.iloc[start:stop]))]
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


class QuestionBlock:
    """Consecutive conditions whose runs all read one question each (no sampled variables,
    no shuffled choices), in columns: what planning needs to compute store keys without an
    :class:`Item` or a :class:`Rendered` per condition. Read only.

    Attributes
    ----------
    start : int
        ``condition_id`` of the first condition.
    questions : list of str
        The rendered question of each condition, in order.
    system : str or None
        The rendered system text (the same for every condition of the study).
    examples : tuple of (str, str)
    runs : range
        The runs of every condition.
    draw : int
    """

    __slots__ = ("start", "questions", "system", "examples", "runs", "draw")

    def __init__(self, start: int, questions: list[str], system: str | None,
                 examples: tuple[tuple[str, str], ...], runs: range, draw: int) -> None:
        self.start = start
        self.questions = questions
        self.system = system
        self.examples = examples
        self.runs = runs
        self.draw = draw

    def __len__(self) -> int:
        return len(self.questions) * len(self.runs)


class _Template:
    """A ``str.format`` template split into literal text and named fields, so that a column
    of conditions is rendered by formatting each column once and joining the pieces with a
    positional template (the same text as ``template.format(**fill)`` row by row).

    ``compile`` returns None for what it does not take apart (positional or indexed fields,
    attribute access, nested format specs): those templates are rendered row by row.
    """

    __slots__ = ("joiner", "fields")

    def __init__(self, joiner: str, fields: list[tuple[str, str | None, str]]) -> None:
        self.joiner = joiner
        self.fields = fields

    @classmethod
    def compile(cls, template: str, constants: Mapping[str, Any]) -> _Template | None:
        import string

        parts: list[str] = []
        fields: list[tuple[str, str | None, str]] = []
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError:
            return None
        for literal, name, spec, conversion in parsed:
            parts.append(literal.replace("{", "{{").replace("}", "}}"))
            if name is None:
                continue
            if not name.isidentifier() or "{" in (spec or ""):
                return None
            if conversion not in (None, "r", "s", "a"):
                return None
            if name in constants:  # a constant field is formatted once, into the text
                try:
                    text = _format_value(constants[name], conversion, spec or "")
                except (TypeError, ValueError):
                    return None
                parts.append(text.replace("{", "{{").replace("}", "}}"))
                continue
            parts.append("{}")
            fields.append((name, conversion, spec or ""))
        return cls("".join(parts), fields)

    def render(self, columns: Mapping[str, list[Any]], n: int) -> list[str]:
        """The text of ``n`` rows; ``columns`` maps each field name to its values."""
        if not self.fields:
            text = self.joiner.format()
            return [text] * n
        formatted = []
        for name, conversion, spec in self.fields:
            values = columns[name]  # KeyError: the caller renders row by row (and reports)
            if conversion is not None:
                values = list(map(_CONVERSIONS[conversion], values))
            formatted.append(list(map(format, values, [spec] * len(values))))
        return list(map(self.joiner.format, *formatted))


_CONVERSIONS = {"r": repr, "s": str, "a": ascii}


def _format_value(value: Any, conversion: str | None, spec: str) -> str:
    if conversion is not None:
        value = _CONVERSIONS[conversion](value)
    return format(value, spec)


def iter_question_blocks(study: Study, *, draw: int = 0,
                         chunk: int = 8192) -> Iterator[QuestionBlock] | None:
    """The design as :class:`QuestionBlock` s of about ``chunk`` conditions, or None when the
    runs of a condition read different texts (sampled variables, shuffled choices) or the
    system text depends on the condition.

    The questions are the texts :func:`iter_rendered` renders (a test checks it): each
    template field is formatted once per column of a chunk; a template this cannot take
    apart, or a chunk that does not fill it, is rendered row by row.
    """
    if study.sampled or study.shuffle_choices:
        return None
    labels = choice_labels(study.choices)
    shown = [labels[a] for a in labels]
    constants = {"choices": format_choices(shown),
                 "choices_list": "\n".join(f"- {s}" for s in shown)}
    system = None
    if study.system:
        sys_template = _Template.compile(study.system, constants)
        if sys_template is None or sys_template.fields:
            return None
        system = sys_template.joiner.format()
    template = _Template.compile(study.prompt, constants)
    return _question_blocks(study, template, constants, system, draw, chunk)


def _question_blocks(study: Study, template: _Template | None, constants: dict[str, str],
                     system: str | None, draw: int, chunk: int) -> Iterator[QuestionBlock]:
    table = study.condition_table_view
    n = len(table)
    examples = tuple(study.examples)
    runs = range(study.runs)
    chunk = max(1, int(chunk))
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        names, columns = condition_columns(table, lo, hi)
        questions = None
        if template is not None:
            try:
                questions = template.render(dict(zip(names, columns, strict=True)), hi - lo)
            except (KeyError, IndexError, TypeError, ValueError):
                questions = None  # rendered row by row below, which names the problem
        if questions is None:
            questions = []
            for row in zip(*columns, strict=True) if names else [()] * (hi - lo):
                fill = {**dict(zip(names, row, strict=True)), **constants}
                questions.append(_render(study, fill)[0])
        yield QuestionBlock(lo, questions, system, examples, runs, draw)


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
