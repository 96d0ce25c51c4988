"""Provider quirks that change what a top-k list means (issue 12, item 8) and the pivot index
of rows whose pivot lies outside the generated tokens (item 9)."""

import math

import numpy as np

import pytest

from beliefreg.belief import ChoiceSet, extract
from beliefreg.belief.result import Flag

YN = {"yes": ["Yes"], "no": ["No"]}
#: one variant per alternative, so the bound on "No" is one unlisted token's bound
LITERAL = ChoiceSet({"yes": ["Yes"], "no": ["No"]}, casefold=False, leading_space=False)


def _vllm_position(sampled, sampled_p, top):
    """A vLLM-style entry: the top-k list, then the sampled token appended when it is not
    among the top-k (vLLM builds its list as the sampled token plus the top-k)."""
    listed = [{"token": t, "logprob": math.log(p)} for t, p in top]
    if sampled not in [t for t, _ in top]:
        listed.append({"token": sampled, "logprob": math.log(sampled_p)})
    return [{"token": sampled, "logprob": math.log(sampled_p), "top_logprobs": listed}]


def test_bound_comes_from_the_kth_entry_of_the_true_top_k_not_the_appended_sampled_token():
    # top-3: Yes 0.4, Maybe 0.2, Sure 0.109468; the sampled token " The" (0.073263) is not in
    # the top 3, and vLLM appends it. "No" is unlisted, so it is at most the 3rd entry of the
    # true top-3 (0.109468), not the appended entry (0.073263); slack 1 - listed = 0.217269.
    content = _vllm_position(" The", 0.073263, [("Yes", 0.4), ("Maybe", 0.2), ("Sure", 0.109468)])
    r = extract(content, LITERAL)
    assert r.flags[0] == Flag.TRUNCATED
    assert r.upper_bound["no"] == pytest.approx(0.109468, abs=1e-9)
    assert r.raw["no"] == 0.0


def test_the_bound_stays_the_smallest_entry_when_the_sampled_token_is_in_the_top_k():
    # OpenAI-style: the sampled token is the top entry; the k-th (smallest) bounds the rest
    content = _vllm_position("Yes", 0.6, [("Yes", 0.6), ("Maybe", 0.2), ("Sure", 0.05)])
    r = extract(content, LITERAL)
    assert r.upper_bound["no"] == pytest.approx(0.05, abs=1e-12)


def test_bound_holds_against_the_full_distribution():
    """Property: with the sampled token appended below the top-k, the bound is never below
    an unlisted token's true probability (the k+1-th token of the full list)."""
    full = [("Yes", 0.35), ("Maybe", 0.2), ("Sure", 0.12), ("No", 0.11), ("The", 0.08),
            ("A", 0.07), ("I", 0.07)]
    for k in range(1, 4):
        for sampled, p in full[k + 1:]:
            content = _vllm_position(sampled, p, full[:k])
            r = extract(content, LITERAL)
            assert r.upper_bound["no"] >= 0.11 - 1e-12, (k, sampled)


def test_pre2025_llamacpp_probs_are_labelled_post_sampling():
    # pre-2025 llama.cpp /completion: probabilities after the sampler chain (temperature,
    # truncation): here truncation to two tokens renormalised their mass to 1.
    payload = {"content": " Yes", "completion_probabilities": [
        {"content": " Yes", "probs": [{"tok_str": " Yes", "prob": 0.6808},
                                      {"tok_str": " No", "prob": 0.3192}]}]}
    r = extract(payload, YN)
    assert r.payload_format == "llamacpp_native_post_sampling"
    assert r.belief["yes"] == pytest.approx(0.6808)
    # the newer pre-sampling shape keeps its native label
    newer = {"content": " Yes", "completion_probabilities": [
        {"id": 8438, "token": " Yes", "logprob": math.log(0.55), "top_logprobs": [
            {"id": 8438, "token": " Yes", "logprob": math.log(0.55)},
            {"id": 2301, "token": " No", "logprob": math.log(0.30)}]}]}
    assert extract(newer, YN).payload_format == "llamacpp_native"


@pytest.mark.parametrize("pivot", [2, 99, -1])
def test_pivot_out_of_range_has_no_pivot_index(pivot):
    content = [{"token": "Yes", "logprob": -0.1, "top_logprobs": [
        {"token": "Yes", "logprob": -0.1}]}, {"token": ".", "logprob": -0.01,
                                               "top_logprobs": []}]
    r = extract(content, YN, pivot=pivot)
    assert r.flags == (Flag.PIVOT_OUT_OF_RANGE,)
    assert r.pivot_index is None
    assert f"pivot index {pivot}" in r.reason


def test_local_backend_pivot_out_of_range_row_has_missing_pivot_index():
    # the embedded model's first sampled token ended the answer: no generated token, so the
    # "first token" pivot (index 0) lies outside; the row must not claim pivot_index 0
    from beliefreg.simulation.backends.local import LocalBackend
    from beliefreg.simulation.study import Study

    study = Study(prompt="Buy at {price}?", conditions={"price": [1.0]}, choices=YN)
    out = LocalBackend().read({"text": "", "tokens": [],
                               "pivot": {"index": 0, "method": "first", "detail": None}}, study)
    assert out.pivot_index is None
    assert out.belief_reason.startswith("pivot_out_of_range")


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(weights=st.lists(st.floats(0.01, 1.0), min_size=4, max_size=9),
       k=st.integers(1, 5), sampled=st.integers(0, 8), appended_first=st.booleans())
def test_upper_bounds_never_fall_below_the_true_probability(weights, k, sampled,
                                                            appended_first):
    """Property: whatever the sampled token and wherever vLLM puts it in the list, the upper
    bound of an alternative is at least its true probability (Yes and No are two of the
    tokens of a known full distribution)."""
    p = np.array(weights) / sum(weights)
    tokens = ["Yes", "No"] + [f"t{i}" for i in range(len(p) - 2)]
    order = np.argsort(-p, kind="stable")
    k = min(k, len(p))
    top = [(tokens[i], float(p[i])) for i in order[:k]]
    s = sampled % len(p)
    listed = [{"token": t, "logprob": math.log(q)} for t, q in top]
    if tokens[s] not in [t for t, _ in top]:
        entry = {"token": tokens[s], "logprob": math.log(p[s])}
        listed = [entry] + listed if appended_first else listed + [entry]
    content = [{"token": tokens[s], "logprob": math.log(p[s]), "top_logprobs": listed}]
    r = extract(content, LITERAL)
    truth = {"yes": p[0], "no": p[1]}
    for alt in ("yes", "no"):
        if not math.isnan(r.upper_bound[alt]):
            assert r.upper_bound[alt] >= truth[alt] - 1e-12
            assert r.raw[alt] <= truth[alt] + 1e-12
