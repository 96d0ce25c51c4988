"""Model belief from a provider's top-k log-probabilities: :func:`extract`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from beliefreg.belief.choices import ChoiceSet, canonical_token
from beliefreg.belief.mass import alternative_mass, normalise
from beliefreg.belief.payloads import PayloadProblem, TokenLogprob, token_logprobs
from beliefreg.belief.pivot import PivotStrategy, _validate, find_pivot
from beliefreg.belief.result import BeliefResult, Flag, nan_result

__all__ = ["extract", "belief_at"]


def _known_tokens(position: TokenLogprob) -> tuple[dict[Any, TokenLogprob], float | None]:
    """Distinct tokens with a known probability at a position, and the top-k floor.

    The sampled token counts too (its probability is exact even when it is not among the
    top-k). Duplicates (same id, else same bytes, else same string) are kept once, with the
    larger probability, so that the order of the list never matters.
    """
    known: dict[Any, TokenLogprob] = {}
    floor: float | None = None
    for t in position.top_logprobs:
        if not t.known:
            continue
        p = t.prob
        floor = p if floor is None else min(floor, p)
        key = t.identity
        if key not in known or known[key].logprob < t.logprob:
            known[key] = t
    if position.known and position.token is not None:
        sampled = TokenLogprob(
            token=position.token,
            logprob=position.logprob,
            bytes=position.bytes,
            id=position.id,
        )
        if position.id is not None:
            for t in position.top_logprobs:  # llama.cpp: true text of the sampled id
                if t.id == position.id:
                    sampled = TokenLogprob(
                        token=t.token, logprob=position.logprob, bytes=t.bytes, id=t.id
                    )
                    break
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
        return nan_result(alts, Flag.MALFORMED, f"pivot token {pivot_index}: {position.problem}", **common)

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
        return nan_result(alts, Flag.MALFORMED, f"pivot token {pivot_index}: {mass.inconsistent}", **common)
    return _assemble(mass, choices, what=f"the {n_listed} listed tokens", **common)


def _assemble(mass, choices: ChoiceSet | Sequence[str], *, what: str, **common: Any) -> BeliefResult:
    alts = tuple(mass.raw)
    belief = normalise(mass.raw, mass.covered_mass)
    flags: list[Flag] = []
    reasons: list[str] = []
    if not mass.covered_mass > 0:
        flags.append(Flag.NO_ALTERNATIVE_AT_PIVOT)
        reasons.append(
            f"{Flag.NO_ALTERNATIVE_AT_PIVOT.value}: no alternative has positive probability "
            f"among {what}"
        )
    if mass.unlisted:
        flags.append(Flag.TRUNCATED)
        floor = (
            f"each unlisted token has probability <= {mass.p_min:.4g}; "
            if mass.p_min is not None
            else ""
        )
        bounds = ", ".join(f"{a!r} <= {mass.upper_bound[a]:.4g}" for a in mass.unlisted)
        names = ", ".join(repr(a) for a in mass.unlisted)
        reasons.append(
            f"{Flag.TRUNCATED.value}: {names} not among {what} ({floor}{bounds})"
        )
    if common.get("choice") is None and common.get("pivot_token") is not None:
        flags.append(Flag.CHOICE_NOT_ALTERNATIVE)
        reasons.append(
            f"{Flag.CHOICE_NOT_ALTERNATIVE.value}: the sampled pivot token "
            f"{common['pivot_token']!r} is not an alternative"
        )
    return BeliefResult(
        belief=belief,
        raw=dict(mass.raw),
        upper_bound=dict(mass.upper_bound),
        covered_mass=mass.covered_mass,
        missing_mass=mass.missing_mass,
        reason="; ".join(reasons) or None,
        flags=tuple(flags),
        **common,
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
    (each unlisted token is at most the smallest listed probability, and all unlisted tokens
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
    pivot_name = pivot if isinstance(pivot, str) else ("index" if isinstance(pivot, int) else "callable")
    try:
        tokens, fmt = token_logprobs(content)
    except PayloadProblem as problem:
        return nan_result(
            alts, problem.flag, problem.detail, pivot_method=str(pivot_name),
            source="top_logprobs", payload_format=problem.payload_format,
        )
    loc = find_pivot(tokens, cs, pivot, anchor=anchor, anchor_occurrence=anchor_occurrence)
    if loc.index is None:
        return nan_result(
            alts, Flag.NO_PIVOT, loc.detail or "no pivot", pivot_method=loc.method,
            source="top_logprobs", payload_format=fmt,
        )
    if not 0 <= loc.index < len(tokens):
        return nan_result(
            alts, Flag.PIVOT_OUT_OF_RANGE,
            f"pivot index {loc.index} is outside the {len(tokens)} generated tokens",
            pivot_method=loc.method, source="top_logprobs", pivot_index=loc.index,
            payload_format=fmt,
        )
    return belief_at(
        tokens[loc.index], cs, pivot_index=loc.index, pivot_method=loc.method, payload_format=fmt
    )
