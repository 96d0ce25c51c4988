"""Exact model belief from a backend's next-token distribution (the local model).

When the backend exposes the probabilities over the whole vocabulary at the pivot (the embedded
Gemma model served by xllamacpp with ``n_probs`` equal to the vocabulary size, or logits from a
forward pass), nothing is truncated and belief is exact. Two entry points:

:func:`exact_belief`
    One distribution at the pivot; single-token alternatives. ``raw[a]`` is the sum of the
    probabilities of the ids in ``resolved.token_ids[a]``.

:func:`chain_rule_belief`
    Alternatives of several tokens, scored as lm-evaluation-harness scores multiple-choice
    continuations: the probability of a label is the product of the conditional probabilities
    of its own tokens, feeding the model the label's tokens one at a time,

    .. math::

       P(a) = \\sum_{s \\in S_a} \\prod_{i=1}^{|s|} p(s_i \\mid c, s_1, \\ldots, s_{i-1})

    where :math:`c` is the context (prompt and any generated prefix) and :math:`S_a` the
    minimal token sequences of alternative :math:`a` (``resolved.sequences[a]``: its
    single-token variants and the canonical tokenizations of its multi-token variants). The
    alternatives' sequences are prefix-free across alternatives, so the events are disjoint
    and ``covered_mass`` is the probability of emitting any alternative. Only the canonical
    tokenization of each variant is scored (as in lm-evaluation-harness): other token paths to
    the same text are not counted, so ``raw`` is a lower bound on the probability of the text.

The backend interface
---------------------
``next_token_probs(context_ids) -> probabilities``, supplied by the backend:

* ``context_ids`` is a tuple of token ids: ``prefix`` (whatever the backend passes, e.g. the
  prompt ids or ``()`` when the callable closes over the prompt) followed by the tokens of the
  alternative fed so far;
* it returns either a 1-D array of probabilities over the whole vocabulary (exact; it must sum
  to one within ``1e-3``), or a mapping ``{token_id: probability}`` of exact probabilities for
  a subset of ids. With ``subset="top"`` (default) the mapping is the N most likely tokens, so
  an id it leaves out is at most its smallest value (and all of them together at most one
  minus its total); with ``subset="selected"`` the ids were chosen otherwise (for instance the
  alternatives' own ids) and only the second bound holds. An alternative with no listed id is
  flagged ``truncated``. A mapping that lists every id of every alternative gives exact
  ``raw`` values.

Pass ``logprobs=True`` when the backend returns log-probabilities. Values that are not
probabilities (negative, above one, a full vector not summing to one: for instance raw logits)
raise ``ValueError``: that is a programmer error. NaN or infinite values from the backend give
a NaN row flagged ``malformed_payload``.

Determinism: llama.cpp's prompt cache changes probabilities in the last digits (a cached
prefix shifted P(yes) from 0.479 to 0.448 in one test); fix one evaluation schedule (for
instance ``cache_prompt: false``) for reproducible beliefs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Union

import numpy as np

from beliefreg.belief.exceptions import TokenizerMismatchError
from beliefreg.belief.mass import SUM_TOLERANCE, AlternativeMass, alternative_mass
from beliefreg.belief.result import BeliefResult, Flag, nan_result, result_from_mass
from beliefreg.belief.vocabulary import ResolvedChoiceSet

__all__ = ["exact_belief", "chain_rule_belief", "NextTokenProbs", "Distribution"]

Distribution = Union[np.ndarray, Sequence[float], Mapping[int, float]]
NextTokenProbs = Callable[[tuple[int, ...]], Distribution]


class _BadDistribution(Exception):
    """NaN/inf from the backend: a data problem, reported as a flagged row."""


class _Dist:
    """A next-token distribution: full vector or subset, validated once."""

    def __init__(
        self, probs: Distribution, *, logprobs: bool, n_vocab: int | None, top: bool = True
    ) -> None:
        if isinstance(probs, Mapping):
            self.full = None
            sub: dict[int, float] = {}
            for k, v in probs.items():
                x = float(v)
                if logprobs:
                    if math.isnan(x) or x == math.inf:
                        raise _BadDistribution(f"log-probability {x!r} for token {k}")
                    if x > 1e-4:
                        raise ValueError(f"log-probability {x} of token {k} is positive")
                    x = math.exp(min(x, 0.0))
                if math.isnan(x) or math.isinf(x):
                    raise _BadDistribution(f"probability {x!r} for token {k}")
                if x < 0 or x > 1 + 1e-4:
                    raise ValueError(
                        f"value {x} for token {k} is not a probability (pass logprobs=True "
                        "for log-probabilities; softmax logits first)"
                    )
                sub[int(k)] = min(x, 1.0)
            self.subset = sub
            total = math.fsum(sub.values())
            if total > 1 + SUM_TOLERANCE:
                raise ValueError(f"the listed probabilities sum to {total:.6g} > 1")
            # only a top-N list bounds the tokens it leaves out by its smallest value
            self.floor = min(sub.values()) if (sub and top) else None
            self.n = len(sub)
        else:
            arr = np.asarray(probs, dtype=np.float64)
            if arr.ndim != 1:
                raise ValueError(f"a full distribution must be 1-D, got shape {arr.shape}")
            if n_vocab is not None and arr.shape[0] != n_vocab:
                raise TokenizerMismatchError(
                    f"the distribution has {arr.shape[0]} entries but the choice set was "
                    f"resolved against a vocabulary of {n_vocab}"
                )
            if logprobs:
                if np.isnan(arr).any() or np.isposinf(arr).any():
                    raise _BadDistribution("NaN or +inf log-probability in the distribution")
                arr = np.exp(arr)
            if not np.isfinite(arr).all():
                raise _BadDistribution("NaN or infinite probability in the distribution")
            if arr.min() < 0 or arr.max() > 1 + 1e-4:
                raise ValueError(
                    "the distribution has values outside [0, 1] (pass logprobs=True for "
                    "log-probabilities; softmax logits first)"
                )
            total = float(arr.sum())
            if abs(total - 1.0) > SUM_TOLERANCE:
                raise ValueError(
                    f"a full distribution must sum to one, got {total:.6g} (pass a mapping "
                    "{id: prob} for a subset)"
                )
            self.full = arr
            self.subset = None
            self.floor = None
            self.n = None

    def prob(self, token_id: int) -> float | None:
        """Exact probability of a token, or None when unknown (not in a subset)."""
        if self.full is not None:
            if not 0 <= token_id < self.full.shape[0]:
                raise TokenizerMismatchError(
                    f"token id {token_id} is outside the distribution of {self.full.shape[0]}"
                )
            return float(self.full[token_id])
        return self.subset.get(token_id)

    def unknown_bound(self) -> float:
        """Upper bound on the probability of an unknown token."""
        assert self.subset is not None
        slack = max(0.0, 1.0 - math.fsum(self.subset.values()))
        return slack if self.floor is None else min(self.floor, slack)


SubsetKind = Literal["top", "selected"]


def _check_subset(subset: str) -> bool:
    if subset not in ("top", "selected"):
        raise ValueError(f"subset must be 'top' or 'selected', got {subset!r}")
    return subset == "top"


def _mass_from_dist(resolved: ResolvedChoiceSet, dist: _Dist) -> AlternativeMass:
    alts = resolved.alternatives
    if dist.full is not None:
        raw = {a: math.fsum(dist.full[list(resolved.token_ids[a])].tolist()) for a in alts}
        covered = math.fsum(raw.values())
        return AlternativeMass(
            raw=raw,
            upper_bound=dict(raw),
            covered_mass=covered,
            missing_mass=max(0.0, 1.0 - covered),
            listed_total=1.0,
            p_min=None,
            unlisted=(),
            inconsistent=None,
        )
    listed = []
    for tid, p in dist.subset.items():
        alt = resolved.alternative_of_id(tid)
        listed.append((alt, f"id:{tid}", p))
    return alternative_mass(
        alts, listed, n_variants={a: len(resolved.token_ids[a]) for a in alts}, p_min=dist.floor
    )


def _sampled(
    resolved: ResolvedChoiceSet, sampled_token: int | None, text: str | None, *, first: bool
) -> tuple[str | None, str | None]:
    if sampled_token is None:
        return None, text
    if first:
        return resolved.alternative_of_first_token(sampled_token), text
    return resolved.alternative_of_id(sampled_token), text


def exact_belief(
    probs: Distribution,
    resolved: ResolvedChoiceSet,
    *,
    logprobs: bool = False,
    subset: SubsetKind = "top",
    sampled_token: int | None = None,
    sampled_text: str | None = None,
    pivot_index: int | None = 0,
) -> BeliefResult:
    """Belief from the next-token distribution at the pivot (single-token alternatives).

    Parameters
    ----------
    probs : array_like or mapping of int to float
        Probabilities over the whole vocabulary (exact), or ``{token_id: probability}`` for a
        subset (see the module docstring).
    resolved : ResolvedChoiceSet
        The choice set resolved against the backend's tokenizer.
    logprobs : bool, default False
        ``probs`` holds log-probabilities.
    subset : {"top", "selected"}, default "top"
        For a mapping: whether it is a top-N list or a selection of ids (see the module
        docstring). Ignored for a full distribution.
    sampled_token : int, optional
        Id of the token the run sampled at the pivot; sets ``choice``.
    sampled_text : str, optional
        Its text, recorded as ``pivot_token``.
    pivot_index : int or None, default 0
        Recorded in the result (0: the pivot is the first generated token).

    Returns
    -------
    BeliefResult
        ``source="exact"``. With a full distribution ``upper_bound == raw`` and
        ``covered_mass`` / ``missing_mass`` are exact.

    Raises
    ------
    TokenizerMismatchError
        The distribution's length differs from the resolved vocabulary, or an alternative
        has no single-token variant (use :func:`chain_rule_belief`).
    ValueError
        ``probs`` are not probabilities (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from beliefreg.belief import ChoiceSet, exact_belief
    >>> resolved = ChoiceSet({"yes": ["Yes"], "no": ["No"]}).resolve(
    ...     vocab=["Yes", "▁Yes", "No", "▁No", "maybe"])
    >>> r = exact_belief(np.array([0.3, 0.2, 0.1, 0.1, 0.3]), resolved)
    >>> round(r.belief["yes"], 4), round(r.covered_mass, 4), r.exact
    (0.7143, 0.7, True)
    """
    for a in resolved.alternatives:
        if not resolved.token_ids[a]:
            raise TokenizerMismatchError(
                f"alternative {a!r} has no single-token variant "
                f"(multi-token forms: {', '.join(map(repr, resolved.multi_token_forms[a]))}); "
                "score it with chain_rule_belief"
            )
    alts = resolved.alternatives
    choice, pivot_token = _sampled(resolved, sampled_token, sampled_text, first=False)
    common = dict(
        pivot_method="given",
        source="exact",
        pivot_index=pivot_index,
        pivot_token=pivot_token,
        choice=choice,
    )
    top = _check_subset(subset)
    try:
        dist = _Dist(probs, logprobs=logprobs, n_vocab=resolved.n_vocab, top=top)
    except _BadDistribution as exc:
        return nan_result(alts, Flag.MALFORMED, str(exc), **common)
    mass = _mass_from_dist(resolved, dist)
    return _result(mass, dist.n, sampled_token, **common)


def _result(
    mass: AlternativeMass, n_listed: int | None, sampled_token: int | None, **common: Any
) -> BeliefResult:
    what = "the full distribution" if n_listed is None else f"the {n_listed} listed tokens"
    return result_from_mass(
        mass, what=what, sampled=sampled_token is not None, n_listed=n_listed, **common
    )


def chain_rule_belief(
    next_token_probs: NextTokenProbs,
    resolved: ResolvedChoiceSet,
    *,
    prefix: Sequence[int] = (),
    logprobs: bool = False,
    subset: SubsetKind = "top",
    sampled_token: int | None = None,
    sampled_text: str | None = None,
    pivot_index: int | None = 0,
) -> BeliefResult:
    """Belief over complete alternatives by the chain rule (multi-token labels).

    Parameters
    ----------
    next_token_probs : callable
        ``next_token_probs(context_ids) -> probabilities`` (see the module docstring): called
        with ``tuple(prefix)`` for the pivot distribution and with ``tuple(prefix) +
        sequence[:i]`` for the later tokens of each label. Each distinct context is evaluated
        once; a label whose probability is already zero is not fed further.
    resolved : ResolvedChoiceSet
        The choice set resolved with ``tokenize=`` so that multi-token variants have
        sequences.
    prefix : sequence of int, default ()
        Ids that precede the pivot in the context the callable expects.
    logprobs : bool, default False
        The callable returns log-probabilities.
    subset : {"top", "selected"}, default "top"
        What a mapping returned by the callable is (see the module docstring).
    sampled_token, sampled_text, pivot_index
        As in :func:`exact_belief`. ``sampled_token`` is the *first* generated id; it sets
        ``choice`` when exactly one alternative's sequences start with it.

    Returns
    -------
    BeliefResult
        ``source="chain_rule"``; ``raw[a]`` is the summed product probability of the minimal
        sequences of ``a``. With subset distributions, an unknown factor makes that
        sequence's lower bound 0 and its upper bound the product with the unknown factor
        replaced by its bound.

    Examples
    --------
    A toy model over the vocabulary ``["Hug", "gies", "Pamp", "ers", "x"]``:

    >>> import numpy as np
    >>> from beliefreg.belief import ChoiceSet, chain_rule_belief
    >>> vocab = ["Hug", "gies", "Pamp", "ers", "x"]
    >>> def tokenize(text):
    ...     return {"Huggies": [0, 1], "Pampers": [2, 3]}[text]
    >>> resolved = ChoiceSet({"huggies": ["Huggies"], "pampers": ["Pampers"]},
    ...     casefold=False, leading_space=False).resolve(tokenize=tokenize, vocab=vocab)
    >>> resolved.sequences
    {'huggies': ((0, 1),), 'pampers': ((2, 3),)}
    >>> def next_token_probs(ctx):
    ...     table = {(): [0.5, 0, 0.3, 0, 0.2], (0,): [0, 0.9, 0, 0, 0.1],
    ...              (2,): [0, 0, 0, 0.5, 0.5]}
    ...     return np.array(table.get(ctx, [0, 0, 0, 0, 1.0]))
    >>> r = chain_rule_belief(next_token_probs, resolved)
    >>> {a: round(p, 3) for a, p in r.raw.items()}
    {'huggies': 0.45, 'pampers': 0.15}
    """
    alts = resolved.alternatives
    top = _check_subset(subset)
    prefix_t = tuple(int(i) for i in prefix)
    cache: dict[tuple[int, ...], _Dist] = {}
    choice, pivot_token = _sampled(resolved, sampled_token, sampled_text, first=True)
    common = dict(
        pivot_method="given",
        source="chain_rule",
        pivot_index=pivot_index,
        pivot_token=pivot_token,
        choice=choice,
    )

    def dist(ctx: tuple[int, ...]) -> _Dist:
        if ctx not in cache:
            cache[ctx] = _Dist(
                next_token_probs(prefix_t + ctx),
                logprobs=logprobs,
                n_vocab=resolved.n_vocab,
                top=top,
            )
        return cache[ctx]

    lows: dict[str, list[float]] = {a: [] for a in alts}
    highs: dict[str, list[float]] = {a: [] for a in alts}
    unknown_any = {a: False for a in alts}
    listed_any = {a: False for a in alts}
    try:
        for a in alts:
            for seq in resolved.sequences[a]:
                lo, hi, known = 1.0, 1.0, True
                for i, tid in enumerate(seq):
                    d = dist(seq[:i])
                    p = d.prob(tid)
                    if p is None:
                        known = False
                        hi *= d.unknown_bound()
                        lo = 0.0
                        break
                    lo *= p
                    hi *= p
                    if p == 0.0:
                        break
                lows[a].append(lo)
                highs[a].append(hi)
                if known:
                    listed_any[a] = True
                else:
                    unknown_any[a] = True
    except _BadDistribution as exc:
        return nan_result(alts, Flag.MALFORMED, str(exc), **common)
    raw = {a: math.fsum(lows[a]) for a in alts}
    upper = {a: math.fsum(highs[a]) for a in alts}
    root = cache.get(())
    n_listed = root.n if root is not None else None
    covered = math.fsum(raw.values())
    mass = AlternativeMass(
        raw=raw,
        upper_bound={a: min(1.0, upper[a]) for a in alts},
        covered_mass=covered,
        missing_mass=max(0.0, 1.0 - covered),
        listed_total=math.nan,
        p_min=root.floor if root is not None else None,
        unlisted=tuple(a for a in alts if not listed_any[a]),
        inconsistent=None,
    )
    if covered > 1.0 + SUM_TOLERANCE:
        return nan_result(
            alts,
            Flag.MALFORMED,
            f"the alternatives' chain-rule probabilities sum to {covered:.6g} > 1",
            **common,
        )
    return _result(mass, n_listed, sampled_token, **common)
