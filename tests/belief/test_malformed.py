"""Malformed and unscorable payloads: NaN beliefs with a reason, never an exception."""

import math

import pytest

from beliefreg.belief import ChoiceSet, Flag, extract

from .payload_shapes import BUILDERS, chat_content

YN = ChoiceSet({"yes": ["Yes"], "no": ["No"]})
GOOD = [(" Yes", 0.6, [(" Yes", 0.6), (" No", 0.3)]), (".", 0.9, [(".", 0.9)])]


def good():
    return chat_content(GOOD)


def with_(fn):
    c = good()
    fn(c)
    return c


CASES = {
    "none": (None, Flag.NO_LOGPROBS),
    "empty_list": ([], Flag.EMPTY_CONTENT),
    "chat_logprobs_null": (
        {
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "Yes"}, "logprobs": None}
            ]
        },
        Flag.NO_LOGPROBS,
    ),
    "chat_content_null": (
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ""},
                    "logprobs": {"content": None},
                }
            ]
        },
        Flag.NO_LOGPROBS,
    ),
    "chat_content_empty": (
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ""},
                    "logprobs": {"content": []},
                }
            ]
        },
        Flag.EMPTY_CONTENT,
    ),
    "no_choices": ({"choices": []}, Flag.EMPTY_CONTENT),
    "responses_without_logprobs": (
        {
            "object": "response",
            "output": [
                {
                    "type": "message",
                    "content": [{"type": "output_text", "text": "Yes", "annotations": []}],
                }
            ],
        },
        Flag.NO_LOGPROBS,
    ),
    "responses_without_text": (
        {"object": "response", "output": [{"type": "reasoning", "summary": []}]},
        Flag.EMPTY_CONTENT,
    ),
    "llamacpp_without_n_probs": ({"content": " Yes", "stop": True}, Flag.NO_LOGPROBS),
    "llamacpp_probs_null": (
        {"content": " Yes", "completion_probabilities": None},
        Flag.NO_LOGPROBS,
    ),
    "ollama_without_logprobs": (
        {"model": "m", "response": "Yes", "done": True, "logprobs": None},
        Flag.NO_LOGPROBS,
    ),
    "unknown_dict": ({"foo": 1}, Flag.MALFORMED),
    "int": (42, Flag.MALFORMED),
    "not_json": ("{not json", Flag.MALFORMED),
    "entry_not_object": (["Yes"], Flag.MALFORMED),
    "missing_logprob": (with_(lambda c: c[0].pop("logprob")), Flag.MALFORMED),
    "missing_token": (with_(lambda c: c[0].pop("token")), Flag.MALFORMED),
    "token_not_string": (with_(lambda c: c[0].update(token=7)), Flag.MALFORMED),
    "nan_logprob": (with_(lambda c: c[0].update(logprob=math.nan)), Flag.MALFORMED),
    "plus_inf_logprob": (with_(lambda c: c[0].update(logprob=math.inf)), Flag.MALFORMED),
    "positive_logprob": (with_(lambda c: c[0].update(logprob=0.5)), Flag.MALFORMED),
    "string_logprob": (with_(lambda c: c[0].update(logprob="-0.1")), Flag.MALFORMED),
    "bool_logprob": (with_(lambda c: c[0].update(logprob=True)), Flag.MALFORMED),
    "nan_in_top": (
        with_(lambda c: c[0]["top_logprobs"][1].update(logprob=math.nan)),
        Flag.MALFORMED,
    ),
    "top_missing_token": (with_(lambda c: c[0]["top_logprobs"][1].pop("token")), Flag.MALFORMED),
    "top_not_list": (with_(lambda c: c[0].update(top_logprobs=5)), Flag.MALFORMED),
    "probabilities_above_one": (
        with_(lambda c: c[0]["top_logprobs"].append({"token": " I", "logprob": math.log(0.5)})),
        Flag.MALFORMED,
    ),
    "legacy_lengths_differ": (
        {
            "choices": [
                {
                    "index": 0,
                    "text": "Yes",
                    "logprobs": {
                        "tokens": ["Yes", "."],
                        "token_logprobs": [-0.1],
                        "top_logprobs": [{}, {}],
                    },
                }
            ]
        },
        Flag.MALFORMED,
    ),
    "all_minus_inf": (
        [
            {
                "token": " I",
                "logprob": 0.0,
                "top_logprobs": [
                    {"token": " I", "logprob": 0.0},
                    {"token": " Yes", "logprob": -math.inf},
                    {"token": " No", "logprob": -math.inf},
                ],
            }
        ],
        Flag.NO_ALTERNATIVE_AT_PIVOT,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_unscorable_payloads_give_nan_with_reason(name):
    payload, flag = CASES[name]
    r = extract(payload, YN)
    assert r.flags[0] == flag
    assert r.reason.startswith(flag.value + ":") and len(r.reason) > len(flag.value) + 5
    assert all(math.isnan(v) for v in r.belief.values())
    assert not r.scored and not r.ok
    assert r.to_row()["flags"].startswith(flag.value)


@pytest.mark.parametrize("pivot", [2, 99, -1, lambda toks: 2])
def test_pivot_index_past_the_end(pivot):
    r = extract(good(), YN, pivot=pivot)
    assert r.flags == (Flag.PIVOT_OUT_OF_RANGE,)
    assert "outside the 2 generated tokens" in r.reason
    assert all(math.isnan(v) for v in r.belief.values())


def test_malformed_entry_after_the_pivot_does_not_matter_for_first():
    c = with_(lambda c: c[1].update(logprob=math.nan))
    r = extract(c, YN)
    assert r.reason is None and r.belief["yes"] == pytest.approx(2 / 3)


def test_anchor_alignment_needs_every_token_before_the_pivot():
    c = with_(lambda c: c[0].pop("token"))
    for e in c:
        e.pop("bytes", None)
    r = extract(c, YN, pivot="anchor", anchor="Answer:")
    assert r.flags == (Flag.MALFORMED,) and "align" in r.reason


def test_first_match_skips_unreadable_tokens_without_crashing():
    c = [{"logprob": -0.1}] + good()
    r = extract(c, YN, pivot="first_match")
    assert (r.pivot_index, r.choice) == (1, "yes")


def test_every_builder_survives_an_empty_generation():
    for name, build in BUILDERS.items():
        if name.endswith("json_string"):
            continue
        try:
            payload = build([])
        except Exception:  # pydantic shapes may refuse an empty output: nothing to test
            continue
        r = extract(payload, YN)
        assert r.flags and not r.scored, name
