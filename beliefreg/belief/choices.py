"""Choice sets: the answer alternatives of a study and the token texts that stand for them.

A :class:`ChoiceSet` maps each alternative id (``"yes"``, ``"pampers"``) to its surface forms
(``["Yes"]``, ``["Pampers", "P"]``) and generates the token variants a model may emit for each
form:

* the form itself and, with ``leading_space=True``, the form after a space (``" Yes"``), which is
  a different token in every BPE and SentencePiece vocabulary;
* with ``casefold=True``, the case forms ``lower``, ``UPPER``, ``Capitalized`` and ``Title`` of
  each form (an explicit, finite list: exotic casings such as ``"yEs"`` are not variants);
* the vocabulary spellings of the leading space: the SentencePiece marker ``"▁"`` (U+2581) and
  the byte-level BPE marker ``"Ġ"`` (U+0120). Token strings are *canonicalised* before matching
  (a leading marker becomes a space), so ``"▁Yes"``, ``"ĠYes"`` and ``" Yes"`` are one variant.

Two alternatives may not share a variant: the constructor raises :class:`ChoiceSetError` naming
the token and both alternatives.

With ``prefix_match=True`` a token that is a *proper prefix* of the variants of exactly one
alternative (``" Hug"`` for ``"Huggies"``) also counts for that alternative. This is how a
multi-token label is read from a top-k list, where only the first token's probability is known:
the probability of the first token is then an upper bound on the probability of the full label
and equals the probability that the model *commits* to that alternative at the pivot. Exact,
full-label probabilities need the chain rule (:func:`beliefreg.belief.chain_rule_belief`).

Examples
--------
>>> from beliefreg.belief import ChoiceSet
>>> cs = ChoiceSet({"yes": ["Yes"], "no": ["No"]})
>>> cs.alternatives
('yes', 'no')
>>> cs.alternative_of("▁yes"), cs.alternative_of(" NO"), cs.alternative_of("Maybe")
('yes', 'no', None)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from beliefreg.belief.exceptions import ChoiceSetError

if TYPE_CHECKING:  # pragma: no cover
    from beliefreg.belief.vocabulary import ResolvedChoiceSet

__all__ = ["ChoiceSet", "canonical_token", "SPACE_MARKERS"]

#: Leading-space markers of tokenizer vocabularies: SentencePiece "▁" and byte-level BPE "Ġ".
SPACE_MARKERS: tuple[str, ...] = ("\u2581", "\u0120")


def canonical_token(token: str) -> str:
    """Canonical text of a token string, as used for matching against a choice set.

    SentencePiece marks a space with ``"▁"`` (U+2581) anywhere in a piece; byte-level BPE
    vocabularies mark a leading space with ``"Ġ"`` (U+0120). Both become a plain space. Decoded
    token strings, as returned by the OpenAI API or a llama.cpp server, are unchanged.

    Parameters
    ----------
    token : str
        A token string, either decoded (``" Yes"``) or as stored in a vocabulary (``"▁Yes"``).

    Returns
    -------
    str
        The token text with vocabulary space markers replaced by spaces.

    Examples
    --------
    >>> canonical_token("▁Yes"), canonical_token("ĠYes"), canonical_token(" Yes")
    (' Yes', ' Yes', ' Yes')
    """
    text = token.replace("\u2581", " ")
    if text.startswith("\u0120"):
        text = " " + text[1:]
    return text


def _case_forms(form: str) -> tuple[str, ...]:
    out: list[str] = []
    for f in (form, form.lower(), form.upper(), form.capitalize(), form.title()):
        if f not in out:
            out.append(f)
    return tuple(out)


class ChoiceSet:
    """The alternatives of a choice question and the token variants that stand for each.

    Parameters
    ----------
    alternatives : mapping of str to (str or sequence of str), or sequence of str
        Alternative id -> surface forms, e.g. ``{"yes": ["Yes"], "no": ["No"]}``. A plain
        sequence ``["Yes", "No"]`` uses each form as its own id. Order is kept and defines the
        order of beliefs in results.
    casefold : bool, default True
        Add the lower, upper, capitalised and title-case forms of every surface form.
    leading_space : bool, default True
        Add the variant with a leading space (written ``" Yes"``, ``"▁Yes"`` or ``"ĠYes"`` by
        different vocabularies). Leading and trailing whitespace of the given forms is stripped
        when True; when False the forms are used literally.
    prefix_match : bool, default False
        Also attribute a token to an alternative when it is a proper prefix of that
        alternative's variants and of no other alternative's (first token of a multi-token
        label, such as ``" Hug"`` for ``"Huggies"``). When True, a variant of one alternative
        that is a prefix of another alternative's variant is an error, because that token would
        not decide between them.

    Raises
    ------
    ChoiceSetError
        Fewer than two alternatives, an empty or non-string form, or a variant shared by two
        alternatives (the message names the token and both alternatives).

    Notes
    -----
    The variants are an explicit finite list (see :meth:`variants`); matching is exact after
    :func:`canonical_token`. The number of variants of an alternative enters the upper bound
    on the probability of variants missing from a truncated top-k list
    (:func:`beliefreg.belief.extract`).

    Examples
    --------
    >>> cs = ChoiceSet({"pampers": ["Pampers", "P"], "huggies": ["Huggies", "H"]})
    >>> cs.variants("huggies")[:4]
    ('Huggies', ' Huggies', 'huggies', ' huggies')
    >>> ChoiceSet({"a": ["Yes"], "b": ["yes"]})
    Traceback (most recent call last):
    ...
    beliefreg.belief.exceptions.ChoiceSetError: token variant 'yes' belongs to both ...
    """

    def __init__(
        self,
        alternatives: Mapping[str, str | Sequence[str]] | Sequence[str],
        *,
        casefold: bool = True,
        leading_space: bool = True,
        prefix_match: bool = False,
    ) -> None:
        self._casefold = bool(casefold)
        self._leading_space = bool(leading_space)
        self._prefix_match = bool(prefix_match)
        forms = self._normalise_input(alternatives)
        self._forms: dict[str, tuple[str, ...]] = forms
        self._variants: dict[str, tuple[str, ...]] = {}
        self._lookup: dict[str, str] = {}
        origin: dict[str, tuple[str, str]] = {}
        for alt, alt_forms in forms.items():
            variants: list[str] = []
            for form in alt_forms:
                for cased in _case_forms(form) if self._casefold else (form,):
                    spaced = (cased, " " + cased) if self._leading_space else (cased,)
                    for v in spaced:
                        v = canonical_token(v)
                        if v in origin and origin[v][0] != alt:
                            other_alt, other_form = origin[v]
                            hint = (
                                " (case folding made them equal: pass casefold=False)"
                                if self._casefold
                                else ""
                            )
                            raise ChoiceSetError(
                                f"token variant {v!r} belongs to both alternative {other_alt!r} "
                                f"(from form {other_form!r}) and alternative {alt!r} (from form "
                                f"{form!r}); alternatives must not share a token{hint}"
                            )
                        origin.setdefault(v, (alt, form))
                        if v not in variants:
                            variants.append(v)
            self._variants[alt] = tuple(variants)
            for v in variants:
                self._lookup[v] = alt
        self._prefixes: dict[str, str] = {}
        self._prefix_counts: dict[str, int] = {alt: 0 for alt in forms}
        if self._prefix_match:
            self._build_prefix_table()

    # ------------------------------------------------------------------ construction helpers
    def _normalise_input(
        self, alternatives: Mapping[str, str | Sequence[str]] | Sequence[str]
    ) -> dict[str, tuple[str, ...]]:
        if isinstance(alternatives, ChoiceSet):
            raise TypeError("use ChoiceSet.coerce(choices) to accept an existing ChoiceSet")
        if isinstance(alternatives, Mapping):
            items = list(alternatives.items())
        elif isinstance(alternatives, (str, bytes)) or not isinstance(alternatives, Iterable):
            raise ChoiceSetError(
                "alternatives must be a mapping {id: [surface forms]} or a sequence of forms, "
                f"got {type(alternatives).__name__}"
            )
        else:
            items = [(a, [a]) for a in alternatives]
        if len(items) < 2:
            raise ChoiceSetError(f"a choice set needs at least two alternatives, got {len(items)}")
        out: dict[str, tuple[str, ...]] = {}
        for alt, alt_forms in items:
            if not isinstance(alt, str) or not alt:
                raise ChoiceSetError(f"alternative ids must be non-empty strings, got {alt!r}")
            if alt in out:
                raise ChoiceSetError(f"alternative {alt!r} is given twice")
            if isinstance(alt_forms, str):
                alt_forms = [alt_forms]
            if not isinstance(alt_forms, Iterable):
                raise ChoiceSetError(
                    f"surface forms of alternative {alt!r} must be a string or a sequence of "
                    f"strings, got {type(alt_forms).__name__}"
                )
            clean: list[str] = []
            for form in alt_forms:
                if not isinstance(form, str):
                    raise ChoiceSetError(
                        f"surface form {form!r} of alternative {alt!r} is not a string"
                    )
                f = form.strip() if self._leading_space else form
                if not f.strip():
                    raise ChoiceSetError(f"alternative {alt!r} has an empty surface form {form!r}")
                if f not in clean:
                    clean.append(f)
            if not clean:
                raise ChoiceSetError(f"alternative {alt!r} has no surface form")
            out[alt] = tuple(clean)
        return out

    def _build_prefix_table(self) -> None:
        owners: dict[str, set[str]] = {}
        for alt, variants in self._variants.items():
            for v in variants:
                for i in range(1, len(v)):
                    p = v[:i]
                    if p.strip():
                        owners.setdefault(p, set()).add(alt)
        for p, alts in owners.items():
            if p in self._lookup:
                exact_alt = self._lookup[p]
                others = sorted(alts - {exact_alt})
                if others:
                    raise ChoiceSetError(
                        f"with prefix_match=True, token variant {p!r} of alternative "
                        f"{exact_alt!r} is also a prefix of alternative {others[0]!r}, so it "
                        "would not decide between them; use distinct labels or "
                        "prefix_match=False"
                    )
                continue
            if len(alts) == 1:
                (alt,) = alts
                self._prefixes[p] = alt
                self._prefix_counts[alt] += 1

    @classmethod
    def coerce(cls, choices: ChoiceSet | Mapping[str, Any] | Sequence[str]) -> ChoiceSet:
        """Return ``choices`` if it is a :class:`ChoiceSet`, else build one with defaults."""
        if isinstance(choices, ChoiceSet):
            return choices
        return cls(choices)

    # ------------------------------------------------------------------------- accessors
    @property
    def alternatives(self) -> tuple[str, ...]:
        """Alternative ids, in the order given."""
        return tuple(self._forms)

    @property
    def casefold(self) -> bool:
        """Whether case forms are variants."""
        return self._casefold

    @property
    def leading_space(self) -> bool:
        """Whether leading-space forms are variants."""
        return self._leading_space

    @property
    def prefix_match(self) -> bool:
        """Whether unique proper prefixes of variants are attributed to their alternative."""
        return self._prefix_match

    def forms(self, alternative: str) -> tuple[str, ...]:
        """Surface forms of ``alternative`` as given (stripped when ``leading_space``)."""
        return self._forms[self._check(alternative)]

    def variants(self, alternative: str, *, markers: bool = False) -> tuple[str, ...]:
        """Canonical token variants of ``alternative``.

        Parameters
        ----------
        alternative : str
            An alternative id.
        markers : bool, default False
            Also list the vocabulary spellings ``"▁Yes"`` and ``"ĠYes"`` of each leading-space
            variant (they match the same tokens as ``" Yes"``).
        """
        out = list(self._variants[self._check(alternative)])
        if markers:
            for v in list(out):
                if v.startswith(" "):
                    out.extend(m + v[1:] for m in SPACE_MARKERS)
        return tuple(out)

    def n_token_variants(self, alternative: str) -> int:
        """Number of distinct token texts that count for ``alternative``.

        The canonical variants, plus its unique proper prefixes when ``prefix_match``. Used to
        bound the probability of variants missing from a truncated top-k list.
        """
        alt = self._check(alternative)
        return len(self._variants[alt]) + self._prefix_counts[alt]

    def alternative_of(self, token: str | None) -> str | None:
        """The alternative a token string stands for, or None.

        Parameters
        ----------
        token : str or None
            A token string, decoded or in vocabulary spelling (see :func:`canonical_token`).

        Returns
        -------
        str or None
            The alternative id, or None when the token is not a variant (nor, with
            ``prefix_match``, a unique prefix) of any alternative.
        """
        if not isinstance(token, str) or not token:
            return None
        text = canonical_token(token)
        alt = self._lookup.get(text)
        if alt is None and self._prefix_match:
            alt = self._prefixes.get(text)
        return alt

    def is_exact_variant(self, token: str | None) -> bool:
        """Whether ``token`` is a full variant (not only a prefix) of some alternative."""
        return isinstance(token, str) and canonical_token(token) in self._lookup

    def _check(self, alternative: str) -> str:
        if alternative not in self._forms:
            raise KeyError(
                f"{alternative!r} is not an alternative of this choice set "
                f"(alternatives: {', '.join(map(repr, self._forms))})"
            )
        return alternative

    # ------------------------------------------------------------------------ tokenizers
    def resolve(
        self,
        *,
        tokenize: Callable[[str], Sequence[int]] | None = None,
        vocab: Sequence[str] | None = None,
        piece: Callable[[int], str] | None = None,
        n_vocab: int | None = None,
    ) -> ResolvedChoiceSet:
        """Resolve the choice set against a tokenizer: token ids of every variant.

        See :func:`beliefreg.belief.resolve_choices`, which this calls.
        """
        from beliefreg.belief.vocabulary import resolve_choices

        return resolve_choices(self, tokenize=tokenize, vocab=vocab, piece=piece, n_vocab=n_vocab)

    # ------------------------------------------------------------------------- dunder
    def __repr__(self) -> str:
        body = ", ".join(f"{a!r}: {list(f)!r}" for a, f in self._forms.items())
        opts = []
        if not self._casefold:
            opts.append("casefold=False")
        if not self._leading_space:
            opts.append("leading_space=False")
        if self._prefix_match:
            opts.append("prefix_match=True")
        return f"ChoiceSet({{{body}}}{''.join(', ' + o for o in opts)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChoiceSet):
            return NotImplemented
        return (self._forms, self._casefold, self._leading_space, self._prefix_match) == (
            other._forms,
            other._casefold,
            other._leading_space,
            other._prefix_match,
        )

    def __hash__(self) -> int:
        return hash(
            (tuple(self._forms.items()), self._casefold, self._leading_space, self._prefix_match)
        )

    def __len__(self) -> int:
        return len(self._forms)

    def __iter__(self):
        return iter(self._forms)

    def __contains__(self, alternative: object) -> bool:
        return alternative in self._forms
