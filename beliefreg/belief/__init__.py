"""Model belief from token probabilities: choice sets, pivots, exact and top-k beliefs.

*Model belief* is the probability distribution an LLM holds over the answer alternatives at
the *pivot token*, the first generated token that decides the answer; *model choice* is the
alternative the sampled text chose (arXiv 2512.23184).

Public API
----------
:class:`ChoiceSet`
    Alternatives and their surface forms, with automatic token variants (leading space,
    ``"▁"``/``"Ġ"`` markers, case forms) and overlap checks.
:func:`extract`
    Belief and choice from one run's top-k log-probabilities in any provider's shape (OpenAI
    Chat Completions and Responses, vLLM, llama.cpp, Ollama), with the pivot found by
    ``"first"``, ``"anchor"``, ``"first_match"``, an index or a callable.
:class:`BeliefResult`, :class:`Flag`
    The result (``belief``, ``raw``, ``upper_bound``, ``covered_mass``, ``missing_mass``,
    ``pivot_index``, ``pivot_token``, ``choice``, ``reason``, ``flags``, ...) and the row flags.

For a backend that knows its tokenizer and exposes the next-token distribution (the local
model):

:meth:`ChoiceSet.resolve` / :func:`resolve_choices` -> :class:`ResolvedChoiceSet`
    Token ids of every single-token variant, and id sequences of multi-token variants, from
    ``tokenize(text) -> list[int]`` (no BOS) and/or the vocabulary (``vocab`` list or
    ``piece(id)`` with ``n_vocab``).
:func:`exact_belief`
    Belief from one distribution at the pivot: a full-vocabulary probability array (exact) or
    a ``{token_id: probability}`` subset (bounded like a top-k list).
:func:`chain_rule_belief`
    Belief over complete multi-token labels by the chain rule, using the backend's
    ``next_token_probs(context_ids) -> probabilities`` callable.

Errors for programmer mistakes: :class:`ChoiceSetError`, :class:`TokenizerMismatchError`
(both ``ValueError``). Data problems of a run never raise: they give NaN beliefs with a
``reason``.
"""

from beliefreg.belief.choices import ChoiceSet, canonical_token
from beliefreg.belief.exact import chain_rule_belief, exact_belief
from beliefreg.belief.exceptions import ChoiceSetError, TokenizerMismatchError
from beliefreg.belief.extract import belief_at, extract
from beliefreg.belief.payloads import TokenLogprob, token_logprobs
from beliefreg.belief.pivot import PivotLocation, find_pivot
from beliefreg.belief.result import LOW_MASS_THRESHOLD, BeliefResult, Flag
from beliefreg.belief.vocabulary import ResolvedChoiceSet, resolve_choices

__all__ = [
    "BeliefResult",
    "ChoiceSet",
    "ChoiceSetError",
    "Flag",
    "LOW_MASS_THRESHOLD",
    "PivotLocation",
    "ResolvedChoiceSet",
    "TokenLogprob",
    "TokenizerMismatchError",
    "belief_at",
    "canonical_token",
    "chain_rule_belief",
    "exact_belief",
    "extract",
    "find_pivot",
    "resolve_choices",
    "token_logprobs",
]
