"""Model belief from a provider's top-k log-probabilities: :func:`extract`."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from beliefreg.belief.choices import ChoiceSet, canonical_token
from beliefreg.belief.mass import alternative_mass
from beliefreg.belief.payloads import PayloadProblem, TokenLogprob, token_logprobs
from beliefreg.belief.pivot import PivotStrategy, _validate, find_pivot
from beliefreg.belief.result import BeliefResult, Flag, nan_result, result_from_mass

__all__ = ["extract", "belief_at"]


def _is_sampled(entry: TokenLogprob, position: TokenLogprob) -> bool:
    """Whether a listed entry is the sampled token of its position (by id, else by text)."""
    if position.token is None and position.id is None:
        return False
    if entry.id is not None and position.id is not None:
        return entry.id == position.id
    return entry.text is not None and entry.text == position.text


def _known_tokens(position: TokenLogprob) -> tuple[dict[Any, TokenLogprob], float | None]:
    """Distinct tokens with a known probability at a position, and the top-k floor.

    The sampled token counts too (its probability is exact even when it is not among the
    top-k). Duplicates (same id, else same bytes, else same string) are kept once, with the
    larger probability, so that the order of the list never matters.
    """
    known: dict[Any, TokenLogprob] = {}
    floor: float | None = None
    others: list[float] = []  # listed probabilities of tokens other than the sampled one
    for t in position.top_logprobs:
        if not t.known:
            continue
        p = t.prob
        floor = p if floor is None else min(floor, p)
        if not _is_sampled(t, position):
            others.append(p)
        key = t.identity
        if key not in known or known[key].logprob < t.logprob:
            known[key] = t
    if others:
        # vLLM builds its list as the sampled token plus the top-k: when the sampled token is
        # not among the top-k it is listed too, below the k-th. The bound on an unlisted token
        # is the k-th entry of the true top-k, the smallest listed entry *other than the
        # sampled token* (when the sampled token is itself in the top-k, this is the (k-1)-th
        # or k-th entry, still a valid bound whatever the provider).
        floor = min(others)
    if position.known and position.token is not None:
        if position.id is not None and any(t.id == position.id for t in position.top_logprobs):
            return known, floor  # listed under its id (llama.cpp, whatever text it emitted)
        sampled = TokenLogprob(
            token=position.token, logprob=position.logprob, bytes=position.bytes, id=position.id
        )
        text = sampled.text
        listed_texts = {t.text for t in position.top_logprobs if t.known}
        if text not in listed_texts:
            key = sampled.identity
            if key not in known:
                known[key] = sampled
    return known, floor


def belief_at(
    position: TokenLogprob,
    choices: ChoiceSet,
    *,
    pivot_index: int | None,
    pivot_method: str,
    payload_format: str | None = None,
) -> BeliefResult:
    """Belief from the top-k list of one generated position.

    Parameters
    ----------
    position : TokenLogprob
        The pivot token with its ``top_logprobs``.
    choices : ChoiceSet
        The alternatives.
    pivot_index : int or None
        Recorded in the result.
    pivot_method : str
        Recorded in the result.
    payload_format : str, optional
        Recorded in the result.

    Returns
    -------
    BeliefResult
        See :func:`extract` for the rules.
    """
    alts = choices.alternatives
    pivot_token = position.identity_text
    choice = choices.alternative_of(pivot_token)
    n_listed = len(position.top_logprobs)
    common = dict(
        pivot_method=pivot_method,
        source="top_logprobs",
        pivot_index=pivot_index,
        pivot_token=pivot_token,
        choice=choice,
        payload_format=payload_format,
        n_listed=n_listed,
    )
    if position.problem is not None:
        return nan_result(
            alts, Flag.MALFORMED, f"pivot token {pivot_index}: {position.problem}", **common
        )

    known, floor = _known_tokens(position)
    listed = []
    for t in known.values():
        text = t.text
        key = canonical_token(text) if text is not None else repr(t.identity)
        listed.append((choices.alternative_of(text), key, t.prob))
    mass = alternative_mass(
        alts,
        listed,
        n_variants={a: choices.n_token_variants(a) for a in alts},
        p_min=floor,
    )
    if mass.inconsistent is not None:
        return nan_result(
            alts, Flag.MALFORMED, f"pivot token {pivot_index}: {mass.inconsistent}", **common
        )
    return result_from_mass(
        mass, what=f"the {n_listed} listed tokens", sampled=pivot_token is not None, **common
    )


def extract(
    content: Any,
    choices: ChoiceSet | Mapping[str, Any] | Sequence[str],
    *,
    pivot: PivotStrategy = "first",
    anchor: str | None = None,
    anchor_occurrence: Literal["last", "first"] = "last",
) -> BeliefResult:
    """Model belief and model choice from one run's top-k log-probabilities.

    Parameters
    ----------
    content : object
        The log-probabilities of one run, in any provider shape (see
        :mod:`beliefreg.belief.payloads`): OpenAI Chat Completions
        ``choices[0].logprobs.content`` or the whole response, the Responses API response,
        vLLM and llama.cpp OpenAI-compatible responses, llama.cpp ``/completion`` with
        ``n_probs``, Ollama ``/api/generate`` and ``/api/chat``; dicts, ``openai`` pydantic
        objects or a JSON string.
    choices : ChoiceSet or mapping or sequence
        The alternatives (a plain mapping is passed to :class:`ChoiceSet` with defaults).
    pivot : {"first", "anchor", "first_match"}, int or callable, default "first"
        Pivot strategy (see :mod:`beliefreg.belief.pivot`).
    anchor : str, optional
        Anchor text for ``pivot="anchor"``, e.g. ``"Answer:"``.
    anchor_occurrence : {"last", "first"}, default "last"
        Which occurrence of the anchor counts.

    Returns
    -------
    BeliefResult
        ``belief`` (normalised), ``raw``, ``upper_bound``, ``covered_mass``,
        ``missing_mass``, ``pivot_index``, ``pivot_token``, ``choice``, ``reason``, ``flags``.

    Raises
    ------
    ChoiceSetError
        An invalid choice set.
    ValueError, TypeError
        An unknown pivot strategy, an anchor without ``pivot="anchor"``, or a response with
        several choices. Problems with the data never raise (see Notes).

    Notes
    -----
    At the pivot, every distinct token with a known probability counts: the listed top-k
    tokens *and* the sampled token, whose probability is exact even when it is not among the
    top-k. The probabilities of all variants of an alternative are summed (``raw``);
    ``belief = raw / covered_mass`` with ``covered_mass = sum(raw)``.

    An alternative none of whose variants is listed gets ``raw = 0`` and an ``upper_bound``
    (each unlisted token is at most the smallest listed probability other than the sampled
    token's, since vLLM appends the sampled token below its top-k; all unlisted tokens
    together at most one minus the listed total); the row is flagged ``truncated``. OpenAI's
    ``-9999`` placeholder log-probability is treated as unlisted, never as an exact zero; a
    ``-inf`` log-probability is an exact zero.

    Rows that cannot be scored get NaN beliefs and a reason, never an exception: no
    log-probabilities, empty content, an unreadable pivot entry (missing token, NaN or +inf
    log-probability, probabilities summing above one), no pivot, a pivot index past the end,
    or no alternative with positive probability at the pivot.

    Log-probabilities describe the model's distribution before temperature scaling for
    OpenAI, vLLM (default), llama.cpp and Ollama; the belief describes the sampled choice only
    at temperature 1 and top_p 1.

    Examples
    --------
    >>> from beliefreg.belief import extract
    >>> content = [{"token": "Yes", "logprob": -0.3, "top_logprobs": [
    ...     {"token": "Yes", "logprob": -0.3}, {"token": " yes", "logprob": -3.0},
    ...     {"token": "No", "logprob": -1.9}]}]
    >>> r = extract(content, {"yes": ["Yes"], "no": ["No"]})
    >>> round(r.belief["yes"], 4), round(r.covered_mass, 4), r.choice, r.reason
    (0.8409, 0.9402, 'yes', None)
    """
    cs = ChoiceSet.coerce(choices)
    _validate(pivot, anchor)
    alts = cs.alternatives
    pivot_name = (
        pivot
        if isinstance(pivot, str)
        else ("index" if isinstance(pivot, numbers.Integral) else "callable")
    )
    try:
        tokens, fmt = token_logprobs(content)
    except PayloadProblem as problem:
        return nan_result(
            alts,
            problem.flag,
            problem.detail,
            pivot_method=str(pivot_name),
            source="top_logprobs",
            payload_format=problem.payload_format,
        )
    loc = find_pivot(tokens, cs, pivot, anchor=anchor, anchor_occurrence=anchor_occurrence)
    if loc.index is None:
        return nan_result(
            alts,
            Flag.MALFORMED if loc.malformed else Flag.NO_PIVOT,
            loc.detail or "no pivot",
            pivot_method=loc.method,
            source="top_logprobs",
            payload_format=fmt,
        )
    if not 0 <= loc.index < len(tokens):
        return nan_result(
            alts,
            Flag.PIVOT_OUT_OF_RANGE,
            f"pivot index {loc.index} is outside the {len(tokens)} generated tokens",
            pivot_method=loc.method,
            source="top_logprobs",
            pivot_index=None,  # not a generated position (the index is in the reason)
            payload_format=fmt,
        )
    return belief_at(
        tokens[loc.index], cs, pivot_index=loc.index, pivot_method=loc.method, payload_format=fmt
    )
