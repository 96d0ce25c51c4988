"""Resolving a choice set against a known tokenizer (the local backend).

:func:`resolve_choices` (also ``ChoiceSet.resolve``) turns the variants of each alternative
into token ids:

* with ``vocab`` (the vocabulary as a list of token strings, index = id, in vocabulary spelling
  such as ``"▁Yes"`` or decoded) or ``piece`` + ``n_vocab`` (a callable id -> token string), the
  whole vocabulary is scanned and every token whose canonical text is a variant is collected:
  these are the *single-token variants*, exhaustively;
* with ``tokenize`` (text -> list of ids, **without** BOS or other special tokens), every
  variant text is tokenized: one id makes it a single-token variant, several ids a
  multi-token variant, scored by the chain rule
  (:func:`~beliefreg.belief.chain_rule_belief`).

The result, :class:`ResolvedChoiceSet`, reports which surface variants are single tokens and
which need several, and holds the id sequences to score. For the chain rule the sequences of
one alternative are *minimal*: a sequence that extends another of the same alternative is
dropped (its event is contained in the shorter one's), and a sequence of one alternative that
is a prefix of another alternative's sequence is an error (that token would not decide
between them).

Example with the embedded Gemma 3 model served by xllamacpp (``/tokenize`` returns ids
without BOS when ``add_special`` is false)::

    cs = ChoiceSet({"yes": ["Yes"], "no": ["No"]})
    resolved = cs.resolve(tokenize=my_tokenize, vocab=gguf_token_strings)
    resolved.token_ids["yes"]        # (4443, 8438, 10784, 11262, 26915, 51327) for Gemma 3
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from beliefreg.belief.choices import ChoiceSet, canonical_token
from beliefreg.belief.exceptions import ChoiceSetError, TokenizerMismatchError

__all__ = ["ResolvedChoiceSet", "resolve_choices"]


@dataclass(frozen=True)
class ResolvedChoiceSet:
    """A :class:`ChoiceSet` resolved to the token ids of one tokenizer.

    Attributes
    ----------
    choices : ChoiceSet
        The choice set.
    token_ids : dict of str to tuple of int
        Ids of every single-token variant of each alternative (sorted).
    sequences : dict of str to tuple of tuple of int
        Minimal id sequences scored for each alternative by the chain rule (single-token
        variants are sequences of length one).
    single_token_forms : dict of str to tuple of str
        Variant texts of each alternative that are one token.
    multi_token_forms : dict of str to tuple of str
        Variant texts that are several tokens (when ``tokenize`` was given) or that the
        vocabulary lacks as a single token (vocabulary scan only).
    n_vocab : int or None
        Vocabulary size when known.
    """

    choices: ChoiceSet
    token_ids: dict[str, tuple[int, ...]]
    sequences: dict[str, tuple[tuple[int, ...], ...]]
    single_token_forms: dict[str, tuple[str, ...]]
    multi_token_forms: dict[str, tuple[str, ...]]
    n_vocab: int | None = None
    _id_to_alt: dict[int, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for alt, ids in self.token_ids.items():
            for i in ids:
                self._id_to_alt[i] = alt

    @property
    def alternatives(self) -> tuple[str, ...]:
        """Alternative ids, in order."""
        return self.choices.alternatives

    def alternative_of_id(self, token_id: int) -> str | None:
        """The alternative a single token id stands for, or None."""
        return self._id_to_alt.get(int(token_id))

    def alternative_of_first_token(self, token_id: int) -> str | None:
        """The alternative whose scored sequences alone start with ``token_id``, or None."""
        owners = {a for a, seqs in self.sequences.items() for s in seqs if s[0] == int(token_id)}
        return owners.pop() if len(owners) == 1 else None

    @property
    def is_single_token(self) -> bool:
        """Whether every alternative is scored by single tokens only (one forward pass)."""
        return all(len(s) == 1 for seqs in self.sequences.values() for s in seqs)

    @property
    def all_token_ids(self) -> tuple[int, ...]:
        """Every single-token variant id, of every alternative."""
        return tuple(sorted(self._id_to_alt))


def _vocab_pieces(
    vocab: Sequence[str] | None, piece: Callable[[int], str] | None, n_vocab: int | None
) -> Sequence[str] | None:
    if vocab is not None:
        return vocab
    if piece is not None and n_vocab is not None:
        return [piece(i) for i in range(n_vocab)]
    return None


def _is_extension(long: tuple[int, ...], short: tuple[int, ...]) -> bool:
    return len(long) > len(short) and long[: len(short)] == short


_SPECIAL = re.compile(r"^<[^<>]+>$|^\[[A-Z]+\]$")


def _check_no_special_prefix(
    cs: ChoiceSet,
    multi_seqs: Mapping[str, list[tuple[int, ...]]],
    pieces: Sequence[str] | None,
    piece: Callable[[int], str] | None,
) -> None:
    """Refuse a ``tokenize`` that prepends a special token (BOS) to every text.

    Every variant would then look like a multi-token label starting with BOS, and the chain
    rule would score ``P(BOS) * ...``: a silent wrong number.
    """
    seqs = [s for a in cs.alternatives for s in multi_seqs[a]]
    n_variants = sum(len(cs.variants(a)) for a in cs.alternatives)
    if not seqs or len(seqs) < n_variants:
        return  # some variant is a single token: nothing is prepended
    firsts = {s[0] for s in seqs}
    if len(firsts) != 1:
        return
    (first,) = firsts
    spelled = None
    if pieces is not None and 0 <= first < len(pieces):
        spelled = pieces[first]
    elif piece is not None:
        spelled = piece(first)
    looks_special = isinstance(spelled, str) and bool(_SPECIAL.match(spelled))
    if looks_special or cs.leading_space:
        raise TokenizerMismatchError(
            f"tokenize() puts token id {first}"
            + (f" ({spelled!r})" if spelled is not None else "")
            + " first in every variant of every alternative: it seems to add a BOS or other "
            "special token; pass a tokenize that adds no special tokens"
        )


def resolve_choices(
    choices: ChoiceSet | Mapping[str, object] | Sequence[str],
    *,
    tokenize: Callable[[str], Sequence[int]] | None = None,
    vocab: Sequence[str] | None = None,
    piece: Callable[[int], str] | None = None,
    n_vocab: int | None = None,
) -> ResolvedChoiceSet:
    """Token ids of every variant of every alternative under one tokenizer.

    Parameters
    ----------
    choices : ChoiceSet or mapping or sequence
        The alternatives.
    tokenize : callable, optional
        ``tokenize(text) -> list[int]`` without BOS or special tokens. Needed to score
        multi-token labels.
    vocab : sequence of str, optional
        The vocabulary: ``vocab[i]`` is the string of token ``i`` (vocabulary spelling with
        ``"▁"``/``"Ġ"`` markers, or decoded text).
    piece : callable, optional
        ``piece(i) -> str``. With ``n_vocab`` it replaces ``vocab`` (called once per id);
        without it, it checks that a single id returned by ``tokenize`` spells the variant.
    n_vocab : int, optional
        Vocabulary size (``len(vocab)`` when ``vocab`` is given).

    Returns
    -------
    ResolvedChoiceSet

    Raises
    ------
    ValueError
        Neither ``tokenize`` nor a vocabulary is given.
    TokenizerMismatchError
        ``tokenize`` prepends a special token (BOS) to every variant.
    ChoiceSetError
        An alternative has no variant the tokenizer can produce; or a token sequence of one
        alternative is a prefix of another alternative's (the message names the tokens).

    Examples
    --------
    >>> from beliefreg.belief import ChoiceSet
    >>> vocab = ["<bos>", "Yes", "▁Yes", "▁yes", "No", "▁No", "▁Hug", "gies"]
    >>> r = ChoiceSet({"yes": ["Yes"], "no": ["No"]}).resolve(vocab=vocab)
    >>> r.token_ids
    {'yes': (1, 2, 3), 'no': (4, 5)}
    >>> r.multi_token_forms["yes"]  # not single tokens in this vocabulary
    ('yes', 'YES', ' YES')
    """
    cs = ChoiceSet.coerce(choices)
    pieces = _vocab_pieces(vocab, piece, n_vocab)
    if tokenize is None and pieces is None:
        raise ValueError("resolve_choices needs tokenize=, vocab=, or piece= with n_vocab=")
    if pieces is not None:
        n_vocab = len(pieces)

    single: dict[str, set[int]] = {a: set() for a in cs.alternatives}
    single_forms: dict[str, list[str]] = {a: [] for a in cs.alternatives}
    multi_forms: dict[str, list[str]] = {a: [] for a in cs.alternatives}
    multi_seqs: dict[str, list[tuple[int, ...]]] = {a: [] for a in cs.alternatives}

    if pieces is not None:
        for i, s in enumerate(pieces):
            if isinstance(s, str) and cs.is_exact_variant(s):
                alt = cs.alternative_of(s)
                assert alt is not None
                single[alt].add(i)
                text = canonical_token(s)
                if text not in single_forms[alt]:
                    single_forms[alt].append(text)

    if tokenize is not None:
        for alt in cs.alternatives:
            for v in cs.variants(alt):
                ids = tuple(int(i) for i in tokenize(v))
                if len(ids) == 0:
                    raise ChoiceSetError(
                        f"variant {v!r} of alternative {alt!r} tokenizes to nothing"
                    )
                if len(ids) == 1:
                    tid = ids[0]
                    if pieces is not None and 0 <= tid < len(pieces):
                        spelled = canonical_token(pieces[tid])
                    elif piece is not None:
                        spelled = canonical_token(piece(tid))
                    else:
                        spelled = v
                    if spelled != v:
                        # e.g. a tokenizer that adds a dummy prefix space: treat as the variant
                        # the id really spells, if that is one of ours
                        owner = cs.alternative_of(spelled) if cs.is_exact_variant(spelled) else None
                        if owner is not None and owner != alt:
                            raise ChoiceSetError(
                                f"variant {v!r} of alternative {alt!r} tokenizes to id {tid} "
                                f"({spelled!r}), a variant of alternative {owner!r}"
                            )
                    single[alt].add(tid)
                    if v not in single_forms[alt]:
                        single_forms[alt].append(v)
                else:
                    multi_seqs[alt].append(ids)
                    if v not in multi_forms[alt]:
                        multi_forms[alt].append(v)
    else:
        for alt in cs.alternatives:
            for v in cs.variants(alt):
                if v not in single_forms[alt]:
                    multi_forms[alt].append(v)

    _check_no_special_prefix(cs, multi_seqs, pieces, piece)

    sequences: dict[str, tuple[tuple[int, ...], ...]] = {}
    for alt in cs.alternatives:
        seqs = sorted({(i,) for i in single[alt]} | set(multi_seqs[alt]), key=lambda s: (len(s), s))
        minimal: list[tuple[int, ...]] = []
        for s in seqs:
            if not any(_is_extension(s, m) or s == m for m in minimal):
                minimal.append(s)
        if not minimal:
            raise ChoiceSetError(
                f"alternative {alt!r} has no single-token variant in the vocabulary "
                f"(variants: {', '.join(map(repr, cs.variants(alt)))}); pass tokenize= to score "
                "it by the chain rule, or add a surface form that is one token"
            )
        sequences[alt] = tuple(minimal)

    alts = cs.alternatives
    for a in alts:
        for b in alts:
            if a == b:
                continue
            for sa in sequences[a]:
                for sb in sequences[b]:
                    if sa == sb or _is_extension(sb, sa):
                        raise ChoiceSetError(
                            f"token ids {list(sa)} of alternative {a!r} are also the start of "
                            f"{list(sb)} of alternative {b!r}; the first tokens would not decide "
                            "between them (use distinct labels)"
                        )

    return ResolvedChoiceSet(
        choices=cs,
        token_ids={a: tuple(sorted(single[a])) for a in alts},
        sequences=sequences,
        single_token_forms={a: tuple(single_forms[a]) for a in alts},
        multi_token_forms={a: tuple(multi_forms[a]) for a in alts},
        n_vocab=n_vocab,
    )
