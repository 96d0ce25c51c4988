"""Errors and warnings raised by :mod:`beliefreg.belief`.

Errors are for programmer mistakes (an invalid choice set, a strategy that does not exist, a
probability vector of the wrong length). Problems with the *data* of one run (a truncated top-k
list, an empty payload, a NaN log-probability) never raise: they give a
:class:`~beliefreg.belief.BeliefResult` with NaN beliefs and a ``reason``, so that one bad row
cannot lose a study.
"""

from __future__ import annotations

__all__ = ["ChoiceSetError", "TokenizerMismatchError"]


class ChoiceSetError(ValueError):
    """An invalid :class:`~beliefreg.belief.ChoiceSet`.

    Raised, for example, when two alternatives share a token variant (the message names the
    token and both alternatives), when a surface form is empty, or when fewer than two
    alternatives are given.
    """


class TokenizerMismatchError(ValueError):
    """A tokenizer or probability vector that does not fit a resolved choice set.

    Raised, for example, when a next-token probability vector is shorter than the vocabulary the
    choice set was resolved against, or when an alternative has no single-token variant and is
    asked for an exact single-token belief.
    """
