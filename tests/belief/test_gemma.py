"""The belief API on the real embedded model: Gemma 3 270M (GGUF) served by xllamacpp.

The Yes/No token ids are the reference list of the project's BACKGROUND notes. The server is
started once per session; every call uses ``cache_prompt: false`` and plain sampling, so the
probabilities are reproducible.
"""

import math

import numpy as np
import pytest

from beliefreg.belief import ChoiceSet, Flag, chain_rule_belief, exact_belief, extract

from .llamacpp_server import PLAIN_SAMPLING

YES_IDS = {4443, 8438, 10784, 11262, 26915, 51327}  # yes ▁Yes Yes ▁yes YES ▁YES
NO_IDS = {951, 1904, 2301, 3771, 7018, 9424}  # ▁no no ▁No No NO ▁NO
BOS = 2
YN = ChoiceSet({"yes": ["Yes"], "no": ["No"]})
BRANDS = ChoiceSet({"pampers": ["Pampers"], "huggies": ["Huggies"]}, casefold=False)
PROMPT = "Q: Is water wet?\nA: Yes\n\nQ: Is fire cold?\nA: No\n\nQ: Would you buy diapers for 35 cents?\nA:"
DIAPERS = (
    "Q: Which diapers do you buy, Pampers or Huggies?\nAnswer: Pampers\n\n"
    "Q: Which diapers do you buy, Pampers or Huggies?\nAnswer: Huggies\n\n"
    "Q: Which diapers do you buy, Pampers or Huggies?\nAnswer:"
)


def top_n(gemma, prompt, n):
    """{id: probability} of the n most likely next tokens (native /completion)."""
    key = (tuple(prompt) if isinstance(prompt, list) else prompt, n)
    if key not in _MEMO:
        _MEMO[key] = _top_n(gemma, prompt, n)
    return _MEMO[key]


_MEMO: dict = {}


def _top_n(gemma, prompt, n):
    r = gemma.post(
        "/completion", {"prompt": prompt, "n_predict": 1, "n_probs": n, "seed": 1, **PLAIN_SAMPLING}
    )
    return {
        t["id"]: math.exp(t["logprob"]) for t in r["completion_probabilities"][0]["top_logprobs"]
    }


def test_vocabulary_scan_finds_the_reference_yes_no_ids(gemma):
    r = YN.resolve(vocab=gemma.vocab)
    assert set(r.token_ids["yes"]) == YES_IDS
    assert set(r.token_ids["no"]) == NO_IDS
    assert r.n_vocab == 262144 and r.is_single_token
    assert set(r.single_token_forms["yes"]) == {"Yes", " Yes", "yes", " yes", "YES", " YES"}
    assert r.multi_token_forms == {"yes": (), "no": ()}


def test_tokenizer_resolution_agrees_with_the_vocabulary(gemma):
    by_tokenize = YN.resolve(tokenize=gemma.tokenize)
    assert set(by_tokenize.token_ids["yes"]) == YES_IDS
    assert set(by_tokenize.token_ids["no"]) == NO_IDS
    assert by_tokenize.n_vocab is None


def test_multi_token_brands_resolve_to_sequences(gemma):
    r = BRANDS.resolve(tokenize=gemma.tokenize, vocab=gemma.vocab)
    assert set(r.multi_token_forms["huggies"]) == {"Huggies", " Huggies"}
    assert (22798, 82965) in r.sequences["huggies"]  # ▁Hug gies
    assert (174726, 616) in r.sequences["pampers"]  # ▁Pamp ers
    assert r.single_token_forms == {"pampers": (), "huggies": ()}


def test_exact_subset_and_provider_payload_agree_on_real_model(gemma):
    resolved = YN.resolve(vocab=gemma.vocab)
    payload = gemma.completions(
        {
            "prompt": PROMPT,
            "max_tokens": 1,
            "logprobs": 1000,
            "n_probs": 1000,
            "seed": 1,
            **PLAIN_SAMPLING,
        }
    )
    content = payload["choices"][0]["logprobs"]["content"]
    sub = {t["id"]: math.exp(t["logprob"]) for t in content[0]["top_logprobs"]}
    ex = exact_belief(
        sub, resolved, sampled_token=content[0]["id"], sampled_text=content[0]["token"]
    )
    tk = extract(payload, YN)
    assert ex.raw == pytest.approx(tk.raw, rel=1e-12)
    assert ex.belief == pytest.approx(tk.belief, rel=1e-12)
    assert ex.choice == tk.choice
    assert ex.covered_mass > 0.5  # the few-shot layout puts most mass on Yes/No
    assert ex.raw["yes"] == pytest.approx(math.fsum(sub[i] for i in YES_IDS if i in sub), rel=1e-12)
    assert ex.raw["no"] == pytest.approx(math.fsum(sub[i] for i in NO_IDS if i in sub), rel=1e-12)
    # an alternative is truncated exactly when none of its ids is listed; both paths agree
    assert (Flag.TRUNCATED in ex.flags) == (not YES_IDS & set(sub) or not NO_IDS & set(sub))
    assert ex.flags == tk.flags


@pytest.mark.slow
def test_full_vocabulary_distribution_is_exact(gemma):
    resolved = YN.resolve(vocab=gemma.vocab)
    full = top_n(gemma, PROMPT, 262144)
    assert len(full) == 262144
    probs = np.zeros(262144)
    probs[list(full)] = list(full.values())
    assert probs.sum() == pytest.approx(1.0, abs=1e-3)
    r = exact_belief(probs, resolved)
    assert r.exact and r.ok and r.upper_bound == r.raw
    assert r.raw["yes"] == pytest.approx(math.fsum(full[i] for i in YES_IDS), rel=1e-12)
    assert r.covered_mass + r.missing_mass == pytest.approx(1.0)
    # the top-1000 list gives the same listed values (one evaluation schedule: no prompt cache)
    sub = top_n(gemma, PROMPT, 1000)
    assert all(
        full[i] == pytest.approx(p, rel=1e-6) for i, p in sub.items() if i in YES_IDS | NO_IDS
    )


def test_chain_rule_on_real_multi_token_brands(gemma):
    # the labels as the model writes them after "Answer:" (two tokens each), to keep calls few
    spaced = ChoiceSet(
        {"pampers": [" Pampers"], "huggies": [" Huggies"]}, leading_space=False, casefold=False
    )
    resolved = spaced.resolve(tokenize=gemma.tokenize, vocab=gemma.vocab)
    assert resolved.sequences == {"pampers": ((174726, 616),), "huggies": ((22798, 82965),)}
    prompt_ids = [BOS, *gemma.tokenize(DIAPERS)]
    calls = []

    def next_token_probs(ctx):
        calls.append(ctx)
        return _top_n(gemma, list(ctx), 100)  # not memoised: the chain rule must ask once

    r = chain_rule_belief(next_token_probs, resolved, prefix=prompt_ids)
    # reference: the definition, one sequence at a time with fresh calls to the model
    reference = {}
    for alt, seqs in resolved.sequences.items():
        total = []
        for seq in seqs:
            prod = 1.0
            for i, tid in enumerate(seq):
                prod *= top_n(gemma, [*prompt_ids, *seq[:i]], 100).get(tid, 0.0)
                if prod == 0.0:
                    break
            total.append(prod)
        reference[alt] = math.fsum(total)
    assert r.raw == pytest.approx(reference, rel=1e-12)
    hug, gies = 22798, 82965
    assert r.raw["huggies"] == pytest.approx(
        top_n(gemma, prompt_ids, 100)[hug] * top_n(gemma, [*prompt_ids, hug], 100)[gies], rel=1e-12
    )
    assert r.reason is None and r.n_listed == 100
    assert 0 < r.covered_mass <= 1 and r.scored
    assert sum(r.belief.values()) == pytest.approx(1.0)
    # every context is the prompt plus a proper prefix of a scored sequence, each asked once
    seqs = [s for a in resolved.alternatives for s in resolved.sequences[a]]
    assert len(calls) == len(set(calls))
    assert all(tuple(c[: len(prompt_ids)]) == tuple(prompt_ids) for c in calls)
    assert {c[len(prompt_ids) :] for c in calls} <= {s[:i] for s in seqs for i in range(len(s))}
