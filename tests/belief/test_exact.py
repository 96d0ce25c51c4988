"""Exact beliefs from a full next-token distribution, the chain rule, tokenizer resolution."""

import math

import numpy as np
import pytest

from beliefreg.belief import (
    ChoiceSet,
    ChoiceSetError,
    Flag,
    TokenizerMismatchError,
    chain_rule_belief,
    exact_belief,
    resolve_choices,
)

VOCAB = [
    "<bos>",
    "Yes",
    "▁Yes",
    "yes",
    "No",
    "▁No",
    "▁Hug",
    "gies",
    "▁Pamp",
    "ers",
    "x",
    "▁P",
    "ampers",
    "H",
]
ID = {s: i for i, s in enumerate(VOCAB)}
TOKENIZE = {
    " Huggies": ["▁Hug", "gies"],
    "Huggies": ["H", "x", "gies"],
    " Pampers": ["▁Pamp", "ers"],
    "Pampers": ["▁P", "ampers"],  # a tokenizer with a dummy prefix
    " P": ["▁P"],
    "P": ["▁P"],
    "Yes": ["Yes"],
    " Yes": ["▁Yes"],
    "No": ["No"],
    " No": ["▁No"],
}


def tokenize(text):
    return [ID[p] for p in TOKENIZE[text]]


YN = ChoiceSet({"yes": ["Yes"], "no": ["No"]})
BRANDS = ChoiceSet({"pampers": ["Pampers"], "huggies": ["Huggies"]}, casefold=False)


def dist(**probs):
    p = np.zeros(len(VOCAB))
    for k, v in probs.items():
        p[ID[k.replace("_", "▁")]] = v
    p[ID["<bos>"]] += 1 - p.sum()  # the rest of the mass on a token no label uses
    return p


def test_resolve_by_vocabulary_scan():
    r = YN.resolve(vocab=VOCAB)
    assert r.token_ids == {"yes": (1, 2, 3), "no": (4, 5)}
    assert set(r.single_token_forms["yes"]) == {"Yes", " Yes", "yes"}
    # variants the vocabulary lacks as one token
    assert set(r.multi_token_forms["yes"]) == {" yes", "YES", " YES"}
    assert r.sequences["no"] == ((4,), (5,))
    assert r.alternative_of_id(2) == "yes" and r.alternative_of_id(10) is None
    assert r.is_single_token and r.n_vocab == len(VOCAB)


def test_resolve_with_tokenize_finds_multi_token_labels():
    r = BRANDS.resolve(tokenize=tokenize, vocab=VOCAB)
    assert r.multi_token_forms == {
        "pampers": ("Pampers", " Pampers"),
        "huggies": ("Huggies", " Huggies"),
    }
    assert r.single_token_forms == {"pampers": (), "huggies": ()}
    assert set(r.sequences["huggies"]) == {(ID["▁Hug"], ID["gies"]), (ID["H"], ID["x"], ID["gies"])}
    assert not r.is_single_token


def test_sequences_are_minimal_within_an_alternative():
    cs = ChoiceSet({"pampers": ["Pampers", "P"], "huggies": ["Huggies"]}, casefold=False)
    r = cs.resolve(tokenize=tokenize, vocab=VOCAB)
    # "Pampers" -> [▁P, ampers] extends the single token ▁P of the same alternative: dropped
    assert (ID["▁P"],) in r.sequences["pampers"]
    assert (ID["▁P"], ID["ampers"]) not in r.sequences["pampers"]
    assert r.alternative_of_first_token(ID["▁Hug"]) == "huggies"


def test_resolve_errors_name_tokens_and_alternatives():
    with pytest.raises(ChoiceSetError, match="'pampers' has no single-token variant.*tokenize="):
        BRANDS.resolve(vocab=VOCAB)
    clash = ChoiceSet({"pampers": ["Pampers"], "p": ["P"]}, casefold=False)
    with pytest.raises(ChoiceSetError, match=r"token ids \[11\] of alternative 'p'.*'pampers'"):
        clash.resolve(tokenize=tokenize, vocab=VOCAB)
    with pytest.raises(ValueError, match="needs tokenize"):
        resolve_choices(YN)


def test_resolve_with_piece_callable_equals_vocab():
    a = YN.resolve(vocab=VOCAB)
    b = YN.resolve(piece=VOCAB.__getitem__, n_vocab=len(VOCAB))
    assert a.token_ids == b.token_ids


def test_exact_belief_full_distribution():
    resolved = YN.resolve(vocab=VOCAB)
    p = dist(Yes=0.3, _Yes=0.2, yes=0.05, No=0.1, _No=0.15)
    r = exact_belief(p, resolved, sampled_token=ID["▁No"], sampled_text=" No")
    assert r.raw == pytest.approx({"yes": 0.55, "no": 0.25}, abs=1e-15)
    assert r.upper_bound == r.raw
    assert r.covered_mass == pytest.approx(0.8) and r.missing_mass == pytest.approx(0.2)
    assert r.belief == pytest.approx({"yes": 0.55 / 0.8, "no": 0.25 / 0.8})
    assert r.exact and r.ok and r.source == "exact" and r.n_listed is None
    assert (r.choice, r.pivot_token, r.pivot_index) == ("no", " No", 0)
    assert r.belief_bounds()["yes"] == pytest.approx((0.55 / 0.8, 0.55 / 0.8))
    # same numbers from log-probabilities
    with np.errstate(divide="ignore"):
        lr = exact_belief(np.log(p), resolved, logprobs=True)
    assert lr.belief == pytest.approx(r.belief, rel=1e-12)


def test_exact_belief_sampled_non_alternative_is_flagged():
    r = exact_belief(
        dist(Yes=0.5, No=0.2), YN.resolve(vocab=VOCAB), sampled_token=ID["x"], sampled_text="x"
    )
    assert r.flags == (Flag.CHOICE_NOT_ALTERNATIVE,) and r.belief["yes"] == pytest.approx(5 / 7)


def test_exact_belief_subset_bounds_missing_alternative():
    resolved = YN.resolve(vocab=VOCAB)
    sub = {ID["Yes"]: 0.5, ID["▁Yes"]: 0.2, ID["x"]: 0.1}
    r = exact_belief(sub, resolved)
    assert r.flags == (Flag.TRUNCATED,) and r.n_listed == 3
    # "no" has 2 token ids, each <= 0.1; all unlisted together <= 0.2
    assert r.upper_bound["no"] == pytest.approx(0.2)
    assert r.upper_bound["yes"] == pytest.approx(0.8)  # + "yes" (id 3) <= 0.1
    assert r.belief == {"yes": 1.0, "no": 0.0} and not r.exact


def test_exact_belief_errors_and_data_problems():
    resolved = YN.resolve(vocab=VOCAB)
    with pytest.raises(TokenizerMismatchError, match="resolved against a vocabulary of 14"):
        exact_belief(np.full(5, 0.2), resolved)
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        exact_belief(np.linspace(-3, 3, len(VOCAB)), resolved)  # logits
    with pytest.raises(ValueError, match="sum to one"):
        exact_belief(np.full(len(VOCAB), 0.5), resolved)
    with pytest.raises(TokenizerMismatchError, match="chain_rule_belief"):
        exact_belief(
            np.full(len(VOCAB), 1 / len(VOCAB)), BRANDS.resolve(tokenize=tokenize, vocab=VOCAB)
        )
    p = dist(Yes=0.5)
    p[4] = np.nan
    r = exact_belief(p, resolved)
    assert r.flags == (Flag.MALFORMED,) and math.isnan(r.belief["yes"])
    r = exact_belief({ID["Yes"]: float("nan")}, resolved)
    assert r.flags == (Flag.MALFORMED,)


class CountingModel:
    """A toy autoregressive model: a table of next-token distributions by context."""

    def __init__(self, table, *, subset=False):
        self.table = table
        self.calls = []
        self.subset = subset

    def __call__(self, ctx):
        self.calls.append(ctx)
        p = dist(**self.table.get(ctx, {}))
        if self.subset:
            return {i: float(v) for i, v in enumerate(p) if v >= 0.05}
        return p


def test_chain_rule_multiplies_conditionals_of_the_labels_own_tokens():
    resolved = BRANDS.resolve(tokenize=tokenize, vocab=VOCAB)
    H, G, PA, E, P, AM, X, HH = (
        ID[k] for k in ["▁Hug", "gies", "▁Pamp", "ers", "▁P", "ampers", "x", "H"]
    )
    model = CountingModel(
        {
            (): {"_Hug": 0.4, "_Pamp": 0.3, "_P": 0.1, "H": 0.05},
            (H,): {"gies": 0.9},
            (PA,): {"ers": 0.8},
            (P,): {"ampers": 0.5},
            (HH,): {"x": 0.2},
            (HH, X): {"gies": 0.5},
        }
    )
    r = chain_rule_belief(model, resolved, sampled_token=H, sampled_text=" Hug")
    assert r.raw["huggies"] == pytest.approx(0.4 * 0.9 + 0.05 * 0.2 * 0.5)
    assert r.raw["pampers"] == pytest.approx(0.3 * 0.8 + 0.1 * 0.5)
    assert r.upper_bound == r.raw and r.source == "chain_rule"
    assert r.covered_mass == pytest.approx(0.36 + 0.005 + 0.24 + 0.05)
    assert r.choice == "huggies" and r.reason is None
    # each distinct context is evaluated once
    assert sorted(model.calls) == sorted({(), (H,), (PA,), (P,), (HH,), (HH, X)})


def test_chain_rule_prefix_is_prepended():
    resolved = YN.resolve(vocab=VOCAB)
    seen = []

    def model(ctx):
        seen.append(ctx)
        return dist(Yes=0.6, No=0.2)

    r = chain_rule_belief(model, resolved, prefix=[0, 10])
    assert seen == [(0, 10)]
    # single-token alternatives: the chain rule is the exact belief
    assert r.raw == pytest.approx(exact_belief(dist(Yes=0.6, No=0.2), resolved).raw)


def test_chain_rule_with_subset_distributions_bounds_unknown_factors():
    resolved = BRANDS.resolve(tokenize=tokenize, vocab=VOCAB)
    H, P = ID["▁Hug"], ID["▁P"]
    model = CountingModel(
        {(): {"_Hug": 0.6, "_Pamp": 0.02, "_P": 0.1}, (H,): {"gies": 0.9}, (P,): {"ampers": 0.5}},
        subset=True,
    )
    r = chain_rule_belief(model, resolved)
    # " Pamp" (0.02) and "H" are below the subset cut: unknown. The root lists " Hug" 0.6,
    # " P" 0.1 and "<bos>" 0.28: each unknown token is <= min(0.1, 1 - 0.98) = 0.02
    assert r.raw["huggies"] == pytest.approx(0.54)
    assert r.raw["pampers"] == pytest.approx(0.05)
    assert r.upper_bound["pampers"] == pytest.approx(0.05 + 0.02)
    assert r.upper_bound["huggies"] == pytest.approx(0.54 + 0.02)
    assert r.n_listed == 3
    assert r.reason is None  # each alternative has a fully known sequence


def test_selected_subset_is_bounded_only_by_the_remaining_mass():
    resolved = YN.resolve(vocab=VOCAB)
    sub = {ID["Yes"]: 0.5, ID["▁Yes"]: 0.2, ID["yes"]: 0.01}
    top = exact_belief(sub, resolved)  # as a top-3 list: unlisted ids <= 0.01 each
    sel = exact_belief(sub, resolved, subset="selected")  # chosen ids: only <= 1 - 0.71
    assert top.upper_bound["no"] == pytest.approx(0.02)
    assert sel.upper_bound["no"] == pytest.approx(0.29)
    assert top.belief == sel.belief
    with pytest.raises(ValueError, match="subset"):
        exact_belief(sub, resolved, subset="all")


def test_sampled_token_without_text_still_sets_choice_flags():
    resolved = YN.resolve(vocab=VOCAB)
    r = exact_belief(dist(Yes=0.5, No=0.2), resolved, sampled_token=ID["x"])
    assert r.choice is None and r.flags == (Flag.CHOICE_NOT_ALTERNATIVE,)
    r = exact_belief(dist(Yes=0.5, No=0.2), resolved, sampled_token=ID["▁Yes"])
    assert r.choice == "yes" and r.ok
    # without a sampled token there is no choice to flag
    assert exact_belief(dist(Yes=0.5, No=0.2), resolved).ok


def test_a_tokenize_that_adds_bos_is_refused():
    def with_bos(text):
        return [ID["<bos>"], *tokenize(text)]

    with pytest.raises(TokenizerMismatchError, match=r"token id 0 \('<bos>'\).*BOS"):
        BRANDS.resolve(tokenize=with_bos, vocab=VOCAB)
    with pytest.raises(TokenizerMismatchError, match="token id 0 first"):
        BRANDS.resolve(tokenize=with_bos)  # leading-space variants all starting alike
    # labels that legitimately share a first token are fine
    shared = ChoiceSet({"p": [" Pampers"], "h": [" Hugo"]}, leading_space=False, casefold=False)
    toks = {" Pampers": [ID["▁P"], ID["ampers"]], " Hugo": [ID["▁P"], ID["x"]]}
    r = shared.resolve(tokenize=toks.__getitem__, vocab=VOCAB)
    assert r.sequences == {"p": ((ID["▁P"], ID["ampers"]),), "h": ((ID["▁P"], ID["x"]),)}
    assert r.alternative_of_first_token(ID["▁P"]) is None
