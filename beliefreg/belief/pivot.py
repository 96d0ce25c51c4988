"""Pivot strategies: which generated token decides the answer.

The *pivot* is the first generated token that decides between the alternatives; model belief
is read from the probabilities at that position. Choose the strategy per study:

``"first"``
    The first generated token (index 0). The most robust design: ask for a single-token answer.
    No sampled token precedes the pivot, so the belief is the same in every run.
``"anchor"``
    The first token that stands for an alternative after the last (``anchor_occurrence=
    "last"``, default) or first occurrence of an anchor string such as ``"Answer:"``. The
    anchor is located in the generated text rebuilt from the tokens' bytes (or strings, when a
    provider gives no bytes), so anchors split across tokens (``"\\nAnswer"`` + ``":"``) and
    multi-byte characters are aligned exactly. A brand named in the reasoning *before* the
    anchor is never taken as the answer. Trailing whitespace of the anchor is ignored, so
    ``"Answer: "`` finds the token ``" Yes"``.
``"first_match"``
    The first generated token that stands for any alternative.
an ``int``
    A fixed index.
a callable
    ``pivot(tokens) -> int | None`` receives the list of
    :class:`~beliefreg.belief.payloads.TokenLogprob` and returns the pivot index, or None when
    there is none. Exceptions it raises propagate (they are programmer errors).

Every strategy returns a :class:`PivotLocation` (index, method, and why there is no pivot).
"""

from __future__ import annotations

import numbers
import operator

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Union

from beliefreg.belief.choices import ChoiceSet
from beliefreg.belief.payloads import TokenLogprob

__all__ = [
    "PivotLocation",
    "PivotStrategy",
    "PIVOT_METHODS",
    "find_pivot",
    "first_token_pivot",
    "anchor_pivot",
    "first_match_pivot",
    "token_byte_offsets",
]

PivotName = Literal["first", "anchor", "first_match"]
PivotStrategy = Union[PivotName, int, Callable[[Sequence[TokenLogprob]], Union[int, None]]]
PIVOT_METHODS: tuple[str, ...] = ("first", "anchor", "first_match")


@dataclass(frozen=True)
class PivotLocation:
    """Where the pivot is.

    Attributes
    ----------
    index : int or None
        Index of the pivot token, or None when no pivot was found.
    method : str
        The strategy that produced it.
    detail : str or None
        Why there is no pivot (when ``index`` is None).
    """

    index: int | None
    method: str
    detail: str | None = None
    malformed: bool = False


def first_token_pivot(tokens: Sequence[TokenLogprob]) -> PivotLocation:
    """The first generated token is the pivot."""
    return PivotLocation(0, "first")


def first_match_pivot(tokens: Sequence[TokenLogprob], choices: ChoiceSet) -> PivotLocation:
    """The first generated token that stands for any alternative."""
    for i, tok in enumerate(tokens):
        if choices.alternative_of(tok.identity_text) is not None:
            return PivotLocation(i, "first_match")
    return PivotLocation(None, "first_match", "no generated token stands for an alternative")


def token_byte_offsets(tokens: Sequence[TokenLogprob]) -> tuple[bytes, list[int]] | None:
    """The generated text as bytes and the byte offset at which each token starts.

    Uses each token's ``bytes`` when given, else its string encoded as UTF-8. Returns None
    when a token has neither.
    """
    starts: list[int] = []
    chunks: list[bytes] = []
    pos = 0
    for tok in tokens:
        b = tok.raw_bytes
        if b is None:
            return None
        starts.append(pos)
        chunks.append(b)
        pos += len(b)
    return b"".join(chunks), starts


def anchor_pivot(
    tokens: Sequence[TokenLogprob],
    choices: ChoiceSet,
    anchor: str,
    *,
    occurrence: Literal["last", "first"] = "last",
) -> PivotLocation:
    """The first alternative token after an anchor string.

    Parameters
    ----------
    tokens : sequence of TokenLogprob
        Generated tokens.
    choices : ChoiceSet
        The alternatives.
    anchor : str
        The anchor text, e.g. ``"Answer:"``. Trailing whitespace is ignored.
    occurrence : {"last", "first"}, default "last"
        Which occurrence of the anchor counts.

    Returns
    -------
    PivotLocation
        The index of the first token that starts at or after the end of the anchor and stands
        for an alternative. A token that straddles the end of the anchor is not a candidate.
    """
    method = "anchor"
    aligned = token_byte_offsets(tokens)
    if aligned is None:
        bad = next(i for i, t in enumerate(tokens) if t.raw_bytes is None)
        return PivotLocation(
            None, method, f"token {bad} has neither a token string nor bytes to align", True
        )
    text, starts = aligned
    needle = anchor.rstrip().encode("utf-8")
    at = text.rfind(needle) if occurrence == "last" else text.find(needle)
    if at < 0:
        return PivotLocation(None, method, f"anchor {anchor!r} not found in the generated text")
    end = at + len(needle)
    for i, tok in enumerate(tokens):
        if starts[i] >= end and choices.alternative_of(tok.identity_text) is not None:
            return PivotLocation(i, method)
    return PivotLocation(
        None, method, f"no token standing for an alternative after anchor {anchor!r}"
    )


def _validate(pivot: PivotStrategy, anchor: str | None) -> None:
    if isinstance(pivot, bool):
        raise TypeError("pivot must be 'first', 'anchor', 'first_match', an int or a callable")
    if isinstance(pivot, str):
        if pivot not in PIVOT_METHODS:
            raise ValueError(
                f"unknown pivot strategy {pivot!r}; use one of {', '.join(PIVOT_METHODS)}, an "
                "int index or a callable"
            )
        if pivot == "anchor" and (not isinstance(anchor, str) or not anchor.strip()):
            raise ValueError(
                "pivot='anchor' needs a non-empty anchor string, e.g. anchor='Answer:'"
            )
        if pivot != "anchor" and anchor is not None:
            raise ValueError(f"anchor={anchor!r} is only used with pivot='anchor' (got {pivot!r})")
    elif not isinstance(pivot, numbers.Integral) and not callable(pivot):
        raise TypeError(
            f"pivot must be 'first', 'anchor', 'first_match', an int or a callable, got {pivot!r}"
        )


def find_pivot(
    tokens: Sequence[TokenLogprob],
    choices: ChoiceSet,
    pivot: PivotStrategy = "first",
    *,
    anchor: str | None = None,
    anchor_occurrence: Literal["last", "first"] = "last",
) -> PivotLocation:
    """Locate the pivot with the chosen strategy (see the module docstring).

    The returned index may lie past the end of ``tokens`` (an ``int`` strategy or a callable
    can return one); :func:`~beliefreg.belief.extract` flags that row.

    Examples
    --------
    >>> from beliefreg.belief import ChoiceSet, token_logprobs
    >>> tokens, _ = token_logprobs([{"token": t, "logprob": -0.1} for t in
    ...     ["Pampers", " leak", ".", "\\nAnswer", ":", " Huggies"]])
    >>> cs = ChoiceSet({"pampers": ["Pampers"], "huggies": ["Huggies"]})
    >>> find_pivot(tokens, cs, "anchor", anchor="Answer:").index
    5
    >>> find_pivot(tokens, cs, "first_match").index
    0
    """
    _validate(pivot, anchor)
    if pivot == "first":
        return first_token_pivot(tokens)
    if pivot == "first_match":
        return first_match_pivot(tokens, choices)
    if pivot == "anchor":
        if anchor_occurrence not in ("last", "first"):
            raise ValueError("anchor_occurrence must be 'last' or 'first'")
        assert anchor is not None
        return anchor_pivot(tokens, choices, anchor, occurrence=anchor_occurrence)
    if isinstance(pivot, numbers.Integral):
        return PivotLocation(int(pivot), "index")
    name = getattr(pivot, "__name__", type(pivot).__name__)
    index = pivot(tokens)
    method = f"callable:{name}"
    if index is None:
        return PivotLocation(None, method, f"pivot callable {name} found no pivot")
    try:
        if isinstance(index, bool):
            raise TypeError
        index = operator.index(index)
    except TypeError:
        raise TypeError(
            f"pivot callable {name} returned {index!r}; expected an int or None"
        ) from None
    return PivotLocation(index, method)
