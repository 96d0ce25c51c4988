"""extract(): core numbers on small hand-made payloads in the OpenAI Chat Completions shape."""

import math

import numpy as np
import pytest

from beliefreg.belief import ChoiceSet, Flag, extract

YN = ChoiceSet({"yes": ["Yes"], "no": ["No"]})


def entry(token, logprob, top=()):
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top],
    }


def test_variants_are_summed_and_normalised():
    top = [
        ("Yes", math.log(0.5)),
        (" yes", math.log(0.1)),
        ("No", math.log(0.2)),
        ("The", math.log(0.15)),
    ]
    r = extract([entry("Yes", math.log(0.5), top)], YN)
    assert r.raw == pytest.approx({"yes": 0.6, "no": 0.2})
    assert r.belief == pytest.approx({"yes": 0.75, "no": 0.25})
    assert r.covered_mass == pytest.approx(0.8)
    assert r.missing_mass == pytest.approx(0.2)
    assert (r.pivot_index, r.pivot_token, r.choice, r.pivot_method) == (0, "Yes", "yes", "first")
    assert r.reason is None and r.flags == () and r.ok and r.scored
    assert r.n_listed == 4 and r.payload_format == "token_list"
    # unlisted variants (" YES", "no", ...) may hold at most min(k * 0.1, 1 - 0.95) each
    assert r.upper_bound["yes"] == pytest.approx(0.6 + 0.05)
    assert not r.exact


def test_missing_alternative_is_flagged_with_upper_bound():
    top = [("Yes", math.log(0.7)), ("The", math.log(0.1)), ("I", math.log(0.05))]
    r = extract([entry("Yes", math.log(0.7), top)], YN)
    assert r.flags == (Flag.TRUNCATED,)
    assert r.raw["no"] == 0.0
    # every unlisted token is <= 0.05; all unlisted together <= 0.15
    assert r.upper_bound["no"] == pytest.approx(0.15)
    assert r.belief == {"yes": 1.0, "no": 0.0}
    assert "truncated" in r.reason and "'no'" in r.reason and "0.05" in r.reason
    lo, hi = r.belief_bounds()["yes"]
    assert lo == pytest.approx(0.7 / 0.85) and hi == 1.0


def test_sampled_token_outside_top_k_counts_exactly():
    # llama.cpp at temperature 1 sampled a token that is not in its top-3 list
    top = [("Yes", math.log(0.4)), ("The", math.log(0.2)), ("I", math.log(0.1))]
    r = extract([entry(" no", math.log(0.05), top)], YN)
    assert r.raw == pytest.approx({"yes": 0.4, "no": 0.05})
    assert r.choice == "no"
    assert Flag.TRUNCATED not in r.flags


def test_no_alternative_at_pivot_gives_nan_with_reason():
    top = [("The", math.log(0.6)), ("I", math.log(0.3))]
    r = extract([entry("The", math.log(0.6), top)], YN)
    assert all(np.isnan(v) for v in r.belief.values())
    assert r.covered_mass == 0.0 and r.missing_mass == 1.0
    assert Flag.NO_ALTERNATIVE_AT_PIVOT in r.flags
    assert r.choice is None and r.pivot_token == "The"
    assert "no_alternative_at_pivot" in r.reason
    assert not r.scored


def test_choice_not_alternative_keeps_beliefs():
    top = [("Sure", math.log(0.5)), ("Yes", math.log(0.3)), ("No", math.log(0.1))]
    r = extract([entry("Sure", math.log(0.5), top)], YN)
    assert r.belief == pytest.approx({"yes": 0.75, "no": 0.25})
    assert r.choice is None
    assert r.flags == (Flag.LOW_MASS, Flag.CHOICE_NOT_ALTERNATIVE)  # 0.4 on Yes/No < 0.5
    assert r.scored


def test_openai_unlikely_sentinel_is_not_an_exact_zero():
    top = [("Yes", math.log(0.9)), ("No", -9999.0)]
    r = extract([entry("Yes", math.log(0.9), top)], YN)
    assert Flag.TRUNCATED in r.flags
    assert r.upper_bound["no"] == pytest.approx(0.1)


def test_minus_inf_is_an_exact_zero():
    top = [("Yes", math.log(0.9)), ("No", -math.inf), ("The", math.log(0.05))]
    r = extract([entry("Yes", math.log(0.9), top)], YN)
    assert r.raw["no"] == 0.0
    assert Flag.TRUNCATED not in r.flags
    assert r.belief == {"yes": 1.0, "no": 0.0}


def test_to_row_is_flat():
    top = [("Yes", math.log(0.5)), ("No", math.log(0.3))]
    row = extract([entry("Yes", math.log(0.5), top)], YN).to_row(prefix="m_")
    assert row["m_belief_yes"] == pytest.approx(0.625)
    assert row["m_flags"] == "" and row["m_reason"] is None and row["m_choice"] == "yes"
