"""Property tests (hypothesis) of top-k and exact beliefs."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beliefreg.belief import ChoiceSet, chain_rule_belief, exact_belief, extract

CHOICE_SETS = [
    ChoiceSet({"yes": ["Yes"], "no": ["No"]}),
    ChoiceSet({"pampers": ["Pampers", "P"], "huggies": ["Huggies", "H"], "none": ["Neither"]}),
    ChoiceSet({"a": ["A"], "b": ["B"], "c": ["C"], "d": ["D"]}, casefold=False),
]
OTHER_TOKENS = [
    " The",
    "I",
    " Maybe",
    "\n",
    ".",
    " Y",
    "Ye",
    "  Yes",
    "Yess",
    "é",
    " P1",
    "<eos>",
    "",
]

settings.register_profile(
    "belief", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("belief")


@st.composite
def top_k_position(draw):
    """A choice set and a pivot entry: distinct listed tokens with probabilities summing <= 1."""
    cs = draw(st.sampled_from(CHOICE_SETS))
    pool = sorted(
        {v for a in cs.alternatives for v in cs.variants(a, markers=True)} | set(OTHER_TOKENS)
    )
    tokens = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=12, unique_by=lambda t: t))
    # at most one spelling of each canonical text, as a real top-k list has
    seen, uniq = set(), []
    for t in tokens:
        key = t.replace("▁", " ").replace("Ġ", " ", 1) if t[:1] in "▁Ġ" else t
        if key not in seen:
            seen.add(key)
            uniq.append(t)
    weights = draw(st.lists(st.floats(1e-6, 1.0), min_size=len(uniq), max_size=len(uniq)))
    scale = draw(st.floats(0.05, 1.0))
    probs = np.array(weights) / sum(weights) * scale
    top = [{"token": t, "logprob": float(np.log(p))} for t, p in zip(uniq, probs)]
    sampled = draw(st.sampled_from(top))
    entry = {"token": sampled["token"], "logprob": sampled["logprob"], "top_logprobs": top}
    return cs, entry


def _same(a, b):
    return all((math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b))


def _vals(r):
    return [
        *r.belief.values(),
        *r.raw.values(),
        *r.upper_bound.values(),
        r.covered_mass,
        r.missing_mass,
    ]


@given(top_k_position())
def test_beliefs_lie_in_unit_interval_and_sum_to_one(case):
    cs, entry = case
    r = extract([entry], cs)
    if r.covered_mass > 0:
        assert r.scored
        assert all(0.0 <= b <= 1.0 for b in r.belief.values())
        assert sum(r.belief.values()) == pytest.approx(1.0, abs=1e-12)
    else:
        assert all(math.isnan(b) for b in r.belief.values()) and r.reason
    assert r.covered_mass + r.missing_mass == pytest.approx(1.0)
    for a in cs.alternatives:
        assert 0.0 <= r.raw[a] <= r.upper_bound[a] <= 1.0
        lo, hi = r.belief_bounds()[a]
        if r.covered_mass > 0:
            assert lo - 1e-12 <= r.belief[a] <= hi + 1e-12


@given(top_k_position(), st.randoms(use_true_random=False))
def test_permuting_the_top_k_list_changes_nothing(case, rnd):
    cs, entry = case
    shuffled = dict(
        entry, top_logprobs=rnd.sample(entry["top_logprobs"], len(entry["top_logprobs"]))
    )
    a, b = extract([entry], cs), extract([shuffled], cs)
    assert _same(_vals(a), _vals(b))
    assert (a.choice, a.flags, a.reason) == (b.choice, b.flags, b.reason)


@given(top_k_position(), st.floats(0.0, 1.0))
def test_adding_a_non_alternative_token_changes_neither_belief_nor_covered_mass(case, frac):
    cs, entry = case
    listed = sum(math.exp(t["logprob"]) for t in entry["top_logprobs"])
    p = frac * max(0.0, 1.0 - listed)
    extra = {"token": " zebra", "logprob": math.log(p) if p > 0 else -math.inf}
    assert cs.alternative_of(extra["token"]) is None
    a = extract([entry], cs)
    b = extract([dict(entry, top_logprobs=[*entry["top_logprobs"], extra])], cs)
    assert _same(list(a.belief.values()), list(b.belief.values()))
    assert _same([a.covered_mass, a.missing_mass], [b.covered_mass, b.missing_mass])
    assert _same(list(a.raw.values()), list(b.raw.values()))


VOCAB = ["Yes", "▁Yes", "yes", "No", "▁No", "NO", "x", "y", "z", "▁The"]
YN = ChoiceSet({"yes": ["Yes"], "no": ["No"]}).resolve(vocab=VOCAB)


@given(
    st.lists(st.floats(0.0, 1.0), min_size=len(VOCAB), max_size=len(VOCAB)).filter(
        lambda w: sum(w) > 0
    )
)
def test_exact_belief_is_exact_and_matches_the_chain_rule(weights):
    p = np.array(weights) / sum(weights)
    r = exact_belief(p, YN)
    yes, no = p[[0, 1, 2]].sum(), p[[3, 4, 5]].sum()
    assert r.raw == pytest.approx({"yes": yes, "no": no}, rel=1e-12, abs=1e-15)
    assert r.upper_bound == r.raw
    assert r.covered_mass + r.missing_mass == pytest.approx(1.0)
    if yes + no > 0:
        assert r.exact and sum(r.belief.values()) == pytest.approx(1.0)
        assert r.belief["yes"] == pytest.approx(yes / (yes + no))
    c = chain_rule_belief(lambda ctx: p, YN)
    assert _same(_vals(r), _vals(c))


@given(top_k_position())
def test_exact_subset_agrees_with_extract_on_the_same_listed_tokens(case):
    """The two paths (provider top-k, backend subset) share one definition of the numbers."""
    cs, entry = case
    tokens = [t["token"] for t in entry["top_logprobs"]]
    resolved = cs.resolve(
        vocab=tokens
        + ["<unk>"]
        + [v for a in cs.alternatives for v in cs.variants(a) if v not in tokens]
    )
    sub = {i: math.exp(t["logprob"]) for i, t in enumerate(entry["top_logprobs"])}
    r = exact_belief(sub, resolved)
    e = extract([entry], cs)
    assert r.raw == pytest.approx(e.raw, rel=1e-12, abs=1e-15)
    for x, y in zip(r.belief.values(), e.belief.values()):
        assert (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-12)
    assert r.covered_mass == pytest.approx(e.covered_mass, rel=1e-12, abs=1e-15)
