"""The study description: what to ask, under which conditions, how often.

A :class:`Study` is plain data. It knows nothing of backends or stores; :mod:`.design` expands it
into one request item per (condition, run).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..belief import ChoiceSet, ChoiceSetError
from .errors import StudyError

__all__ = ["Study", "load_study", "SIMULATE_KEYS", "RESERVED_PLACEHOLDERS", "as_choice_set",
           "choice_alternatives", "choice_labels"]

#: Placeholders filled by the simulator rather than by condition variables.
RESERVED_PLACEHOLDERS = ("choices", "choices_list")

#: Column names of the panel that condition or sampled variables may not take.
_RESERVED_COLUMNS = frozenset(
    {
        "condition_id", "run", "draw", "model", "backend", "temperature", "choice",
        "choice_valid", "choice_order", "covered_mass", "missing_mass", "pivot_index",
        "pivot_token", "pivot_method", "belief_method", "belief_reason", "raw_text",
        "input_tokens", "output_tokens", "cost_usd", "error", "cache_hit", "request_key",
    }
)


def choice_alternatives(choices: Any) -> dict[str, list[str]]:
    """Alternatives of a choice set as ``{id: [surface forms]}``, in their declared order."""
    cs = as_choice_set(choices)
    return {alt: list(cs.forms(alt)) for alt in cs.alternatives}


def as_choice_set(choices: Any) -> ChoiceSet:
    """``choices`` as a :class:`~beliefreg.belief.ChoiceSet` (a mapping gets the defaults).

    Raises
    ------
    StudyError
        The choice set is invalid (the message of the underlying ``ChoiceSetError``).
    """
    try:
        return ChoiceSet.coerce(choices)
    except (ChoiceSetError, TypeError) as exc:
        raise StudyError(f"invalid choices: {exc}") from None


def choice_labels(choices: Any) -> dict[str, str]:
    """The label shown in the prompt for each alternative: its first surface form."""
    return {alt: forms[0] for alt, forms in choice_alternatives(choices).items()}


def _placeholders(template: str) -> set[str]:
    names: set[str] = set()
    try:
        for _, name, _, _ in string.Formatter().parse(template):
            if name is not None:
                if name == "" or not name.isidentifier():
                    raise StudyError(
                        f"placeholder {{{name}}} in {template!r} must be a variable name; "
                        "write literal braces as {{ and }}"
                    )
                names.add(name)
    except ValueError as exc:
        raise StudyError(f"malformed template {template!r}: {exc}") from None
    return names


def _normalise_examples(examples: Any) -> tuple[tuple[str, str], ...]:
    out = []
    examples = list(examples or ())
    for i, ex in enumerate(examples):
        if isinstance(ex, Mapping):
            keys = set(map(str, ex))
            if keys != {"question", "answer"}:
                missing = sorted({"question", "answer"} - keys)
                extra = sorted(keys - {"question", "answer"})
                raise StudyError(
                    f"example {i + 1} (of {len(examples)}) needs exactly 'question' and "
                    f"'answer'" + (f"; missing {missing}" if missing else "")
                    + (f"; unknown {extra}" if extra else ""))
            out.append((str(ex["question"]), str(ex["answer"])))
        elif isinstance(ex, (str, bytes)) or not hasattr(ex, "__len__") or len(ex) != 2:
            raise StudyError(f"example {i + 1} (of {len(examples)}) must be a (question, "
                             f"answer) pair or a table with 'question' and 'answer', got "
                             f"{ex!r:.80}")
        else:
            q, a = ex
            out.append((str(q), str(a)))
    return tuple(out)


@dataclass(frozen=True, eq=False)
class Study:
    """A choice study: a prompt template asked under a design of conditions, ``runs`` times each.

    Parameters
    ----------
    prompt : str
        The question, a :meth:`str.format` template. ``{name}`` is filled from the condition and
        sampled variables; ``{choices}`` gives the alternatives inline ("Yes or No"),
        ``{choices_list}`` one per line. Literal braces are written ``{{`` and ``}}``.
    choices : ChoiceSet or mapping
        The alternatives, e.g. ``{"yes": ["Yes"], "no": ["No"]}`` (id -> surface forms; a mapping
        becomes a :class:`~beliefreg.belief.ChoiceSet` with its defaults: case and leading-space
        variants). The first surface form is the label shown in the prompt.
    conditions : mapping of lists or DataFrame, optional
        A mapping ``{variable: values}`` is crossed into a full factorial (in the order given);
        a DataFrame is used row by row. ``None`` means a single condition.
    runs : int
        Requests per condition (``run`` = 0 .. runs-1).
    system : str, optional
        System message (a template too). For a base model without a chat template it heads the
        completion prompt.
    examples : sequence of (question, answer), optional
        Few-shot examples: earlier user/assistant turns for chat models, ``Q:``/``A:`` pairs in the
        completion layout that base models need.
    sampled : mapping of lists, optional
        Variables drawn at random for each run (personas, contexts), uniformly from the listed
        values, seeded by ``seed``, the condition and the run. They are panel columns too.
    shuffle_choices : bool
        Randomise the order of the alternatives in ``{choices}``/``{choices_list}`` per run
        (recorded in the ``choice_order`` column).
    temperature, top_p : float
        Sampling parameters of the choice. Belief describes the choice only at temperature 1
        and top_p 1 (a :class:`~beliefreg.simulation.BeliefSamplingWarning` says so otherwise).
    max_tokens : int
        Tokens to generate. With ``pivot="first"`` one token is enough.
    pivot : {"first", "anchor", "first_match"} or callable
        How the pivot token (the token that decides the answer) is found; see
        :mod:`beliefreg.belief`.
    anchor : str, optional
        The anchor string for ``pivot="anchor"`` (e.g. ``"Answer:"``).
    seed : int
        Seeds every random element (sampled variables, choice order, the backend's sampler).
    model : str, optional
        The model; ``None`` takes the backend's default (the embedded Gemma 3 270M for
        ``"local"``).
    name : str, optional
        A label for logs.
    layout : {"completion", "chat"}, optional
        How the prompt is laid out, whatever the backend: ``"completion"`` is the few-shot
        ``Q:``/``A:`` text (:func:`~beliefreg.simulation.layout.completion_prompt`; the local
        backend evaluates it as is, the OpenAI-compatible backend sends it to the completions
        endpoint), ``"chat"`` the chat messages (the model's chat template locally, the chat
        completions endpoint remotely). ``None`` (default): the backend's choice (local: the
        file's chat template if it carries one, else completion; OpenAI-compatible: chat). The
        layout is recorded in the panel (``layout``) and enters the store key, so the same model
        gives the same beliefs locally and through its server with the same layout.
    max_requests : int
        Largest number of requests (conditions x runs) accepted, default 10^7. A design above it
        is refused with its size before any condition is built (a 10^8-condition grid would
        otherwise exhaust memory); raise it deliberately for larger studies.

    Examples
    --------
    >>> from beliefreg import Study
    >>> study = Study(
    ...     prompt="Would you buy a pack of diapers for {price} cents? Answer {choices}.",
    ...     choices={"yes": ["Yes"], "no": ["No"]},
    ...     conditions={"price": [30, 35, 40]},
    ...     runs=2,
    ...     examples=[("Is the sky blue?", "Yes"), ("Is grass red?", "No")],
    ... )
    >>> study.n_requests
    6
    """

    prompt: str
    choices: ChoiceSet | Mapping[str, Any]
    conditions: Mapping[str, Sequence[Any]] | pd.DataFrame | None = None
    runs: int = 1
    system: str | None = None
    examples: Sequence[Any] = ()
    sampled: Mapping[str, Sequence[Any]] | None = None
    shuffle_choices: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 1
    pivot: str | Callable[..., Any] = "first"
    anchor: str | None = None
    seed: int = 0
    model: str | None = None
    name: str | None = None
    layout: str | None = None
    max_requests: int = 10_000_000
    _table: pd.DataFrame = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise StudyError("prompt must be a non-empty string")
        if isinstance(self.runs, bool) or not isinstance(self.runs, int) or self.runs < 1:
            raise StudyError(f"runs must be a positive integer, got {self.runs!r}")
        if not (isinstance(self.temperature, (int, float)) and 0 <= self.temperature <= 2):
            raise StudyError(f"temperature must lie in [0, 2], got {self.temperature!r}")
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise StudyError(f"top_p must lie in (0, 1], got {self.top_p!r}")
        if isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int) \
                or self.max_tokens < 1:
            raise StudyError(f"max_tokens must be a positive integer, got {self.max_tokens!r}")
        if isinstance(self.pivot, str) and self.pivot not in ("first", "anchor", "first_match"):
            raise StudyError(
                f"pivot must be 'first', 'anchor', 'first_match' or a callable, got {self.pivot!r}"
            )
        if self.pivot == "anchor" and not self.anchor:
            raise StudyError("pivot='anchor' needs an anchor string, e.g. anchor='Answer:'")
        if self.layout not in (None, "completion", "chat"):
            raise StudyError(f"layout must be 'completion', 'chat' or None, got {self.layout!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise StudyError(f"seed must be an integer, got {self.seed!r}")
        object.__setattr__(self, "choices", as_choice_set(self.choices))
        object.__setattr__(self, "examples", _normalise_examples(self.examples))
        sampled = {str(k): list(v) for k, v in (self.sampled or {}).items()}
        for name, values in sampled.items():
            if isinstance(values, str) or not values:
                raise StudyError(f"sampled variable {name!r} needs a non-empty list of values")
        object.__setattr__(self, "sampled", sampled)
        from .design import condition_table, grid_size

        if isinstance(self.max_requests, bool) or not isinstance(self.max_requests, int) \
                or self.max_requests < 1:
            raise StudyError(f"max_requests must be a positive integer, got {self.max_requests!r}")
        n_conditions = grid_size(self.conditions)
        if n_conditions * self.runs > self.max_requests:
            raise StudyError(
                f"the design has {n_conditions:,} conditions x {self.runs:,} runs = "
                f"{n_conditions * self.runs:,} requests, above max_requests="
                f"{self.max_requests:,}; nothing was built. Shrink the grid, or pass a larger "
                "max_requests if the study is meant to be this large")
        table = condition_table(self.conditions)
        _refuse_missing(table, sampled)
        _refuse_mixed_types(table, sampled)
        object.__setattr__(self, "_table", table)
        variables = set(table.columns) | set(sampled)
        clash = set(table.columns) & set(sampled)
        if clash:
            raise StudyError(f"variables both in conditions and sampled: {sorted(clash)}")
        bad = sorted((variables & _RESERVED_COLUMNS) | {v for v in variables
                                                         if v.startswith("belief_")})
        bad += sorted(variables & set(RESERVED_PLACEHOLDERS))
        if bad:
            raise StudyError(f"variable names reserved by the panel schema: {bad}")
        needed = _placeholders(self.prompt) | _placeholders(self.system or "")
        missing = needed - variables - set(RESERVED_PLACEHOLDERS)
        if missing:
            raise StudyError(
                f"placeholders without a variable: {sorted(missing)}; "
                f"available: {sorted(variables) + list(RESERVED_PLACEHOLDERS)}"
            )

    # -- derived -----------------------------------------------------------------------------
    @property
    def condition_table(self) -> pd.DataFrame:
        """The conditions, one row per condition; the row position is ``condition_id``."""
        return self._table.copy()

    @property
    def condition_table_view(self) -> pd.DataFrame:
        """The condition table without a copy (read only; for the simulator's own use)."""
        return self._table

    @property
    def n_conditions(self) -> int:
        return len(self._table)

    @property
    def n_requests(self) -> int:
        """Requests of a complete study: conditions x runs."""
        return len(self._table) * self.runs

    @property
    def alternatives(self) -> list[str]:
        """Alternative ids in declared order (they name the ``belief_<id>`` columns)."""
        return list(choice_alternatives(self.choices))

    def replace(self, **changes: Any) -> Study:
        """A copy with some fields changed (e.g. ``study.replace(runs=10)``)."""
        return replace(self, **changes)

    # -- TOML ----------------------------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path) -> Study:
        """Load a study from a TOML file; see :func:`load_study`."""
        return load_study(path)


_STUDY_KEYS = {f.name for f in fields(Study) if f.init}


def _refuse_mixed_types(table: pd.DataFrame, sampled: Mapping[str, list[Any]]) -> None:
    """A variable whose values mix numbers and text (``price = [30, "sixty"]``) cannot be a
    regressor, and its panel column cannot be written to Parquet: refuse it before anything is
    sent, naming the variable and a value of each kind."""
    columns = [(f"condition variable {name!r}", table[name]) for name in table.columns
               if table[name].dtype == object]
    columns += [(f"sampled variable {name!r}", pd.Series(values, dtype=object))
                for name, values in sampled.items()]
    for what, col in columns:
        kind = pd.api.types.infer_dtype(col, skipna=True)
        if kind not in ("mixed", "mixed-integer"):
            continue
        first: dict[str, Any] = {}
        for v in col:  # the error path only
            first.setdefault(type(v).__name__, v)
        shown = ", ".join(f"{v!r} ({t})" for t, v in first.items())
        raise StudyError(f"{what} mixes value types: {shown}; use one type (numbers for a "
                         "quantity, text for a label)")


def _refuse_missing(table: pd.DataFrame, sampled: Mapping[str, list[Any]]) -> None:
    """A missing design value would reach the prompt as "None" or "nan" (and turn a column of
    integers into floats): refuse it, naming the variable and the conditions."""
    for name in table.columns:
        missing = table[name].isna().to_numpy()
        if missing.any():
            rows = [int(i) for i in missing.nonzero()[0]]
            shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
            raise StudyError(
                f"condition variable {name!r} is missing (None/NaN) in {len(rows)} condition(s) "
                f"(rows {shown}): the prompt would read 'None'. Fill or drop those conditions")
    for name, values in sampled.items():
        bad = [i for i, v in enumerate(values) if v is None or (isinstance(v, float) and v != v)]
        if bad:
            raise StudyError(f"sampled variable {name!r} has missing values (None/NaN) at "
                             f"positions {bad[:10]}")


#: Options a study file's ``[simulate]`` table may hold (defaults for ``beliefreg simulate``).
SIMULATE_KEYS = frozenset({"backend", "model", "base_url", "api", "store", "out", "concurrency",
                           "max_retries", "timeout", "threads", "budget", "poll_interval",
                           "max_batch_requests", "max_batch_bytes"})


def load_study(path: str | Path) -> Study:
    """Load a :class:`Study` from a TOML file.

    The top-level keys are the fields of :class:`Study`; ``[choices]`` maps ids to surface
    forms, ``[conditions]`` maps variables to lists (a full factorial) or ``conditions`` is the
    path of a CSV file (relative to the TOML file), ``[sampled]`` maps per-run variables to lists,
    ``[[examples]]`` tables have ``question`` and ``answer``, and an optional ``[choice_options]``
    table passes options to :class:`~beliefreg.belief.ChoiceSet` (``casefold = false``, ...).
    An optional ``[simulate]`` table holds defaults for the command line (``backend``,
    ``store``, ``out``, ``concurrency``, ...: :data:`SIMULATE_KEYS`); its keys are checked
    here (a misspelt option is refused, whichever command reads the file) and its values are
    used by ``beliefreg simulate`` only. Each variable's values have
    one type: ``price = [30, "sixty"]`` is refused (numbers for a quantity, text for a label).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    StudyError
        The TOML cannot be parsed (line and column given), a key (or a ``[simulate]`` key) is
        unknown, an example lacks ``question`` or ``answer`` (its number given), ``prompt`` or
        ``choices`` is missing, or the study is invalid (the message names the field).

    Examples
    --------
    .. code-block:: toml

        prompt = "Would you buy a pack of diapers for {price} cents? Answer {choices}."
        runs = 5
        seed = 1

        [choices]
        yes = ["Yes"]
        no = ["No"]

        [conditions]
        price = [30, 35, 40]

        [[examples]]
        question = "Is the sky blue?"
        answer = "Yes"
    """
    data = read_toml(path)
    table = data.pop("simulate", None)
    if table is not None:
        if not isinstance(table, dict):
            raise StudyError(f"{path}: simulate must be a [simulate] table of options")
        unknown = set(table) - SIMULATE_KEYS
        if unknown:
            raise StudyError(f"{path}: unknown [simulate] keys {sorted(unknown)}; "
                             f"known: {sorted(SIMULATE_KEYS)}")
    options = data.pop("choice_options", None)
    if options is not None:
        if "choices" not in data:
            raise StudyError(f"{path}: choice_options without choices")
        try:
            data["choices"] = ChoiceSet(data["choices"], **options)
        except (ChoiceSetError, TypeError) as exc:
            raise StudyError(f"{path}: invalid choices: {exc}") from None
    absent = [k for k in ("prompt", "choices") if k not in data]
    if absent:
        raise StudyError(f"{path}: the study needs {' and '.join(repr(k) for k in absent)} "
                         "(a top-level prompt = \"...\" and a [choices] table)")
    unknown = set(data) - _STUDY_KEYS
    if unknown:
        raise StudyError(f"{path}: unknown study keys {sorted(unknown)}; "
                         f"known: {sorted(_STUDY_KEYS)}")
    conditions = data.get("conditions")
    if isinstance(conditions, str):
        csv = Path(conditions)
        if not csv.is_absolute():
            csv = Path(path).parent / csv
        if not csv.is_file():
            raise StudyError(f"{path}: conditions = {conditions!r}: no file at {csv} (a "
                             "relative path is relative to the study file)")
        data["conditions"] = pd.read_csv(csv)
    try:
        return Study(**data)
    except (TypeError, StudyError) as exc:
        raise StudyError(f"{path}: {exc}") from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file (``tomllib`` on Python 3.11+, ``tomli`` before)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise StudyError("reading TOML on Python 3.10 needs `pip install tomli`") from None
    with open(path, "rb") as fh:
        try:
            return tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise StudyError(f"{path}: {exc}") from None
