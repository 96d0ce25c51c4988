"""The result of a belief extraction: :class:`BeliefResult`, and the row flags :class:`Flag`.

Every extraction, whether from a provider's top-k log-probabilities
(:func:`~beliefreg.belief.extract`) or from the exact next-token distribution of a local model
(:func:`~beliefreg.belief.exact_belief`, :func:`~beliefreg.belief.chain_rule_belief`), returns a
:class:`BeliefResult`. A row that cannot be scored has NaN beliefs and a ``reason``; a row
that can be scored but with a caveat (an alternative missing from a truncated list) has numbers
*and* a ``reason``. ``reason is None`` means the row is clean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from beliefreg.belief.mass import AlternativeMass, normalise

__all__ = ["BeliefResult", "Flag", "Source", "nan_result", "result_from_mass",
           "LOW_MASS_THRESHOLD"]

#: Below this covered mass (the probability, at the pivot, of answering with any alternative)
#: a row is flagged ``low_mass``: the model most likely answers with something else (a
#: refusal, a hedge, a preamble), so the beliefs, renormalised over a small remainder, do not
#: describe what the model does. At 0.5 answering with an alternative is no longer the more
#: likely outcome. On the embedded model the few-shot layout puts 0.95-0.99 there and a chat
#: layout about 0.01, far on either side.
LOW_MASS_THRESHOLD = 0.5

Source = Literal["top_logprobs", "exact", "chain_rule"]


class Flag(str, Enum):
    """Why a row is flagged. The value is the short code stored in panels.

    Codes that make the beliefs NaN come first; the others leave numbers that are valid but
    come with a caveat.
    """

    #: The payload carries no log-probabilities (``None``; logprobs not requested or refused).
    NO_LOGPROBS = "no_logprobs"
    #: The payload has no generated tokens.
    EMPTY_CONTENT = "empty_content"
    #: A field needed for the pivot is missing or unreadable (NaN or +inf log-probability, a
    #: token without a string, probabilities that sum to more than one).
    MALFORMED = "malformed_payload"
    #: The pivot strategy found no pivot (anchor absent, no alternative token generated).
    NO_PIVOT = "no_pivot"
    #: The pivot index lies outside the generated tokens.
    PIVOT_OUT_OF_RANGE = "pivot_out_of_range"
    #: No alternative has positive listed probability at the pivot: beliefs are 0/0.
    NO_ALTERNATIVE_AT_PIVOT = "no_alternative_at_pivot"
    #: An alternative has no variant among the listed tokens: its probability is only bounded
    #: above (see ``upper_bound``); the beliefs treat its listed probability as 0.
    TRUNCATED = "truncated"
    #: The sampled pivot token is not an alternative: ``choice`` is None while the beliefs,
    #: conditional on answering with an alternative, remain valid.
    CHOICE_NOT_ALTERNATIVE = "choice_not_alternative"
    #: The alternatives carry less than :data:`LOW_MASS_THRESHOLD` of the probability at the
    #: pivot (a refusal or an off-task answer): the beliefs are numbers but do not mean much.
    LOW_MASS = "low_mass"

    def __str__(self) -> str:
        return self.value

    @property
    def voids_belief(self) -> bool:
        """Whether this flag makes the beliefs NaN."""
        return self in _VOIDING


_VOIDING = frozenset(
    {
        Flag.NO_LOGPROBS,
        Flag.EMPTY_CONTENT,
        Flag.MALFORMED,
        Flag.NO_PIVOT,
        Flag.PIVOT_OUT_OF_RANGE,
        Flag.NO_ALTERNATIVE_AT_PIVOT,
    }
)


@dataclass(frozen=True)
class BeliefResult:
    """Model belief over the alternatives at the pivot token of one run.

    Attributes
    ----------
    belief : dict of str to float
        Normalised belief: ``raw[a] / covered_mass`` for each alternative ``a``, in the choice
        set's order. Sums to one when ``covered_mass > 0``; all NaN when the row cannot be
        scored (then ``reason`` says why).
    raw : dict of str to float
        Unnormalised probability of each alternative at the pivot: the sum of the
        probabilities of its variants. From a top-k list it is the *listed* mass, a lower
        bound; from the full distribution it is exact. NaN when no pivot distribution exists.
    upper_bound : dict of str to float
        Upper bound on each alternative's probability: ``raw`` plus the most its unlisted
        variants can carry (each unlisted token is at most the smallest listed probability, and
        all of them together at most one minus the listed total). Equal to ``raw`` when exact.
        Each bound is valid on its own; they are not jointly attainable.
    covered_mass : float
        Total probability on any alternative, ``sum(raw.values())`` (a lower bound under
        truncation).
    missing_mass : float
        ``1 - covered_mass``: the probability of answering with something that is not a
        (listed) alternative.
    pivot_index : int or None
        Index of the pivot among the generated tokens.
    pivot_token : str or None
        The sampled token at the pivot.
    choice : str or None
        Model choice: the alternative the sampled pivot token stands for, or None.
    pivot_method : str
        How the pivot was found: ``"first"``, ``"anchor"``, ``"first_match"``, ``"index"``,
        ``"callable:<name>"``, or ``"given"`` for exact beliefs where the backend fixes it.
    source : {"top_logprobs", "exact", "chain_rule"}
        What the probabilities come from.
    reason : str or None
        None for a clean row; otherwise a human-readable explanation of every flag.
    flags : tuple of Flag
        Machine-readable flags (``Flag`` members, which compare equal to their string codes).
    n_listed : int or None
        Number of tokens listed at the pivot (top-k size, or the size of a probability
        subset); None for a full-vocabulary distribution or when there is no pivot.
    payload_format : str or None
        The payload shape that was recognised (``"chat_completions"``, ``"responses"``,
        ``"llamacpp_native"``, ...), for audits.
    """

    belief: dict[str, float]
    raw: dict[str, float]
    upper_bound: dict[str, float]
    covered_mass: float
    missing_mass: float
    pivot_index: int | None
    pivot_token: str | None
    choice: str | None
    pivot_method: str
    source: Source
    reason: str | None = None
    flags: tuple[Flag, ...] = ()
    n_listed: int | None = None
    payload_format: str | None = None

    # -------------------------------------------------------------------------- properties
    @property
    def alternatives(self) -> tuple[str, ...]:
        """Alternative ids, in the choice set's order."""
        return tuple(self.belief)

    @property
    def ok(self) -> bool:
        """True when the row carries no flag at all."""
        return not self.flags

    @property
    def scored(self) -> bool:
        """True when the beliefs are numbers (no flag voids them)."""
        return not any(f.voids_belief for f in self.flags)

    @property
    def exact(self) -> bool:
        """True when every alternative's probability is known exactly (no truncation)."""
        return self.scored and all(self.upper_bound[a] == self.raw[a] for a in self.raw)

    def belief_bounds(self) -> dict[str, tuple[float, float]]:
        r"""Bounds on each normalised belief implied by ``raw`` and ``upper_bound``.

        For alternative :math:`a` the belief lies in

        .. math::

           \Bigl[\frac{r_a}{r_a + \sum_{b \ne a} u_b},\;
                  \frac{u_a}{u_a + \sum_{b \ne a} r_b}\Bigr]

        with :math:`r` = ``raw`` and :math:`u` = ``upper_bound``.
        Both ends equal ``belief[a]`` when the row is exact. NaN when the row is not scored.

        Returns
        -------
        dict of str to (float, float)
        """
        out: dict[str, tuple[float, float]] = {}
        for a in self.raw:
            if not self.scored:
                out[a] = (math.nan, math.nan)
                continue
            rest_raw = sum(v for b, v in self.raw.items() if b != a)
            rest_up = sum(v for b, v in self.upper_bound.items() if b != a)
            lo_den = self.raw[a] + rest_up
            hi_den = self.upper_bound[a] + rest_raw
            lo = self.raw[a] / lo_den if lo_den > 0 else math.nan
            hi = self.upper_bound[a] / hi_den if hi_den > 0 else math.nan
            out[a] = (lo, hi)
        return out

    def to_row(self, *, prefix: str = "") -> dict[str, Any]:
        """Flatten into one panel row.

        Columns: ``belief_<alt>``, ``raw_<alt>``, ``upper_<alt>`` for each alternative, then
        ``covered_mass``, ``missing_mass``, ``pivot_index``, ``pivot_token``, ``choice``,
        ``pivot_method``, ``source``, ``n_listed``, ``payload_format``, ``flags`` (codes joined
        by ``","``, empty when clean) and ``reason``.

        Parameters
        ----------
        prefix : str, default ""
            Prepended to every column name.

        Examples
        --------
        >>> from beliefreg.belief import extract
        >>> r = extract([{"token": "No", "logprob": -0.5, "top_logprobs": [
        ...     {"token": "No", "logprob": -0.5}, {"token": "Yes", "logprob": -1.5}]}],
        ...     {"yes": ["Yes"], "no": ["No"]})
        >>> row = r.to_row()
        >>> round(row["belief_yes"], 4), row["choice"], row["flags"]
        (0.2689, 'no', '')
        """
        row: dict[str, Any] = {}
        for a in self.belief:
            row[f"{prefix}belief_{a}"] = self.belief[a]
        for a in self.raw:
            row[f"{prefix}raw_{a}"] = self.raw[a]
        for a in self.upper_bound:
            row[f"{prefix}upper_{a}"] = self.upper_bound[a]
        row.update(
            {
                f"{prefix}covered_mass": self.covered_mass,
                f"{prefix}missing_mass": self.missing_mass,
                f"{prefix}pivot_index": self.pivot_index,
                f"{prefix}pivot_token": self.pivot_token,
                f"{prefix}choice": self.choice,
                f"{prefix}pivot_method": self.pivot_method,
                f"{prefix}source": self.source,
                f"{prefix}n_listed": self.n_listed,
                f"{prefix}payload_format": self.payload_format,
                f"{prefix}flags": ",".join(f.value for f in self.flags),
                f"{prefix}reason": self.reason,
            }
        )
        return row


def nan_result(
    alternatives: tuple[str, ...],
    flag: Flag,
    detail: str,
    *,
    pivot_method: str,
    source: Source,
    pivot_index: int | None = None,
    pivot_token: str | None = None,
    choice: str | None = None,
    payload_format: str | None = None,
    n_listed: int | None = None,
) -> BeliefResult:
    """A result whose beliefs cannot be computed: NaN everywhere, with a reason."""
    nan = {a: math.nan for a in alternatives}
    return BeliefResult(
        belief=dict(nan),
        raw=dict(nan),
        upper_bound=dict(nan),
        covered_mass=math.nan,
        missing_mass=math.nan,
        pivot_index=pivot_index,
        pivot_token=pivot_token,
        choice=choice,
        pivot_method=pivot_method,
        source=source,
        reason=f"{flag.value}: {detail}",
        flags=(flag,),
        n_listed=n_listed,
        payload_format=payload_format,
    )


def result_from_mass(
    mass: AlternativeMass, *, what: str, sampled: bool, **fields: Any
) -> BeliefResult:
    """A scored result from an :class:`~beliefreg.belief.mass.AlternativeMass`, with its flags.

    Parameters
    ----------
    mass : AlternativeMass
        Probability mass per alternative and its bounds.
    what : str
        What the probabilities were read from, for the reason text ("the 20 listed tokens").
    sampled : bool
        Whether the sampled pivot token is known (then a ``choice`` of None is flagged).
    **fields
        The other :class:`BeliefResult` fields (``choice``, ``pivot_index``, ...).
    """
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
        reasons.append(f"{Flag.TRUNCATED.value}: {names} not among {what} ({floor}{bounds})")
    if 0 < mass.covered_mass < LOW_MASS_THRESHOLD:
        flags.append(Flag.LOW_MASS)
        reasons.append(
            f"{Flag.LOW_MASS.value}: the alternatives carry {mass.covered_mass:.3g} of the "
            f"probability at the pivot (< {LOW_MASS_THRESHOLD:g}): the model mostly answers "
            "with something else"
        )
    if sampled and fields.get("choice") is None:
        flags.append(Flag.CHOICE_NOT_ALTERNATIVE)
        reasons.append(
            f"{Flag.CHOICE_NOT_ALTERNATIVE.value}: the sampled pivot token "
            f"{fields.get('pivot_token')!r} is not an alternative"
        )
    return BeliefResult(
        belief=normalise(mass.raw, mass.covered_mass),
        raw=dict(mass.raw),
        upper_bound=dict(mass.upper_bound),
        covered_mass=mass.covered_mass,
        missing_mass=mass.missing_mass,
        reason="; ".join(reasons) or None,
        flags=tuple(flags),
        **fields,
    )
