"""extract() on every provider's payload shape, synthetic and recorded from a real server."""

import json
import math
from pathlib import Path

import pytest

from beliefreg.belief import ChoiceSet, Flag, extract

from .payload_shapes import BUILDERS, EXPECTED_FORMAT

FIXTURES = Path(__file__).parent / "fixtures"
YN = ChoiceSet({"yes": ["Yes"], "no": ["No"]})

# leading-space and case variants of both answers, a non-answer, and a token sampled at the
# second position
SCENARIO = [
    (" Yes", 0.55, [(" Yes", 0.55), (" No", 0.25), (" yes", 0.05), (" I", 0.04), ("NO", 0.03)]),
    (".", 0.6, [(".", 0.6), ("!", 0.2)]),
]


@pytest.mark.parametrize("shape", sorted(BUILDERS))
def test_every_shape_gives_the_same_belief(shape):
    r = extract(BUILDERS[shape](SCENARIO), YN)
    assert r.payload_format == EXPECTED_FORMAT[shape]
    assert r.raw == pytest.approx({"yes": 0.60, "no": 0.28}, rel=1e-12)
    assert r.belief == pytest.approx({"yes": 0.60 / 0.88, "no": 0.28 / 0.88}, rel=1e-12)
    assert r.covered_mass == pytest.approx(0.88, rel=1e-12)
    assert r.missing_mass == pytest.approx(0.12, rel=1e-12)
    assert (r.pivot_index, r.pivot_token, r.choice) == (0, " Yes", "yes")
    assert r.reason is None and r.n_listed == 5


# a brand named in the reasoning before the anchor; anchor split across tokens
ANCHOR_SCENARIO = [
    (" Pampers", 0.4, [(" Pampers", 0.4), (" Huggies", 0.3)]),
    (" leak", 0.5, [(" leak", 0.5)]),
    (".", 0.9, [(".", 0.9)]),
    ("\nAnswer", 0.8, [("\nAnswer", 0.8)]),
    (":", 0.99, [(":", 0.99)]),
    (" Huggies", 0.7, [(" Huggies", 0.7), (" Pampers", 0.2), (" I", 0.05)]),
]
BRANDS = ChoiceSet({"pampers": ["Pampers"], "huggies": ["Huggies"]})


@pytest.mark.parametrize("shape", sorted(BUILDERS))
def test_anchor_skips_brand_named_before_it_in_every_shape(shape):
    payload = BUILDERS[shape](ANCHOR_SCENARIO)
    r = extract(payload, BRANDS, pivot="anchor", anchor="Answer:")
    assert (r.pivot_index, r.choice, r.pivot_method) == (5, "huggies", "anchor")
    assert r.belief == pytest.approx({"pampers": 0.2 / 0.9, "huggies": 0.7 / 0.9})
    # the trap the anchor avoids: the first matching token is the brand in the reasoning
    trap = extract(payload, BRANDS, pivot="first_match")
    assert (trap.pivot_index, trap.choice) == (0, "pampers")


def test_anchor_first_and_last_occurrence():
    sc = [
        ("Answer", 0.9, []),
        (":", 0.9, []),
        (" No", 0.5, [(" No", 0.5), (" Yes", 0.4)]),
        (" wait", 0.1, []),
        (" Answer", 0.9, []),
        (": ", 0.9, []),
        ("Yes", 0.6, [("Yes", 0.6), ("No", 0.3)]),
    ]
    content = BUILDERS["openai_chat_content_dicts"](sc)
    last = extract(content, YN, pivot="anchor", anchor="Answer:")
    first = extract(content, YN, pivot="anchor", anchor="Answer:", anchor_occurrence="first")
    assert (last.pivot_index, last.choice) == (6, "yes")
    assert (first.pivot_index, first.choice) == (2, "no")
    # the token ": " straddles the end of "Answer:", so the pivot is the next token
    assert extract(content, YN, pivot="anchor", anchor="Answer: ").pivot_index == 6


def test_anchor_aligns_on_bytes_across_multibyte_characters():
    # "é" split over two byte tokens (OpenAI reports such tokens as escaped strings with bytes)
    content = [
        {"token": "caf", "logprob": -0.1, "bytes": list(b"caf"), "top_logprobs": []},
        {"token": "\\xc3", "logprob": -0.1, "bytes": [0xC3], "top_logprobs": []},
        {"token": "\\xa9", "logprob": -0.1, "bytes": [0xA9], "top_logprobs": []},
        {
            "token": " Réponse",
            "logprob": -0.1,
            "bytes": list(" Réponse".encode()),
            "top_logprobs": [],
        },
        {"token": ":", "logprob": -0.1, "bytes": [58], "top_logprobs": []},
        {
            "token": " Yes",
            "logprob": -0.3,
            "bytes": list(b" Yes"),
            "top_logprobs": [
                {"token": " Yes", "logprob": -0.3, "bytes": list(b" Yes")},
                {"token": " No", "logprob": -1.5, "bytes": list(b" No")},
            ],
        },
    ]
    r = extract(content, YN, pivot="anchor", anchor="café Réponse:")
    assert (r.pivot_index, r.choice) == (5, "yes")


def test_anchor_not_found_and_no_alternative_after_it():
    content = BUILDERS["openai_chat_content_dicts"](ANCHOR_SCENARIO)
    r = extract(content, BRANDS, pivot="anchor", anchor="Final answer:")
    assert r.flags == (Flag.NO_PIVOT,) and "not found" in r.reason
    assert all(math.isnan(v) for v in r.belief.values())
    r = extract(content[:5], BRANDS, pivot="anchor", anchor="Answer:")
    assert r.flags == (Flag.NO_PIVOT,) and "after anchor" in r.reason


def test_multi_token_labels_in_top_k():
    # Gemma splits " Huggies" into " Hug" + "gies" and " Pampers" into " Pamp" + "ers"
    sc = [
        (" Hug", 0.5, [(" Hug", 0.5), (" Pamp", 0.3), (" I", 0.1)]),
        ("gies", 0.99, [("gies", 0.99)]),
    ]
    content = BUILDERS["llamacpp_native"](sc)
    # exact matching: the first pieces are not labels, so no alternative is at the pivot
    r = extract(content, BRANDS)
    assert r.flags[0] == Flag.NO_ALTERNATIVE_AT_PIVOT and math.isnan(r.belief["huggies"])
    # prefix matching reads the committing first token
    pm = ChoiceSet({"pampers": ["Pampers"], "huggies": ["Huggies"]}, prefix_match=True)
    r = extract(content, pm)
    assert r.belief == pytest.approx({"pampers": 0.375, "huggies": 0.625})
    assert r.choice == "huggies" and r.reason is None
    # or the user names the pieces as surface forms
    forms = ChoiceSet({"pampers": ["Pampers", "Pamp"], "huggies": ["Huggies", "Hug"]})
    assert extract(content, forms).belief == pytest.approx(r.belief)


def test_pivot_strategies_int_and_callable():
    content = BUILDERS["openai_chat_content_dicts"](ANCHOR_SCENARIO)
    assert extract(content, BRANDS, pivot=5).pivot_method == "index"

    def last_token(tokens):
        return len(tokens) - 1

    r = extract(content, BRANDS, pivot=last_token)
    assert (r.pivot_index, r.pivot_method, r.choice) == (5, "callable:last_token", "huggies")
    r = extract(content, BRANDS, pivot=lambda toks: None)
    assert r.flags == (Flag.NO_PIVOT,)


def test_usage_errors_raise():
    content = BUILDERS["openai_chat_content_dicts"](SCENARIO)
    with pytest.raises(ValueError, match="unknown pivot"):
        extract(content, YN, pivot="last")
    with pytest.raises(ValueError, match="needs a non-empty anchor"):
        extract(content, YN, pivot="anchor")
    with pytest.raises(ValueError, match="only used with pivot='anchor'"):
        extract(content, YN, anchor="Answer:")
    with pytest.raises(TypeError, match="expected an int"):
        extract(content, YN, pivot=lambda toks: "0")
    two = BUILDERS["openai_chat_response_dict"](SCENARIO)
    two["choices"].append(dict(two["choices"][0], index=1))
    with pytest.raises(ValueError, match="2 choices"):
        extract(two, YN)


# ----------------------------------------------------------------- real llama.cpp payloads
def load(name):
    return json.loads((FIXTURES / name).read_text())


def listed_mass(entry, words, key="logprob"):
    """Independent reference: sum of listed probabilities whose text is one of ``words``."""
    top = entry.get("top_logprobs") or entry.get("top_probs")
    total = 0.0
    for t in top:
        if (
            t["token"].strip().lower() in words
            and t["token"].lstrip(" ") == t["token"][t["token"].startswith(" ") :]
        ):
            total += math.exp(t["logprob"]) if key == "logprob" else t["prob"]
    return total


@pytest.mark.parametrize(
    "name, key",
    [
        ("llamacpp_native_yesno.json", "logprob"),
        ("llamacpp_native_post_sampling.json", "prob"),
        ("llamacpp_v1_completions.json", "logprob"),
    ],
)
def test_real_llamacpp_yes_no_payloads(name, key):
    payload = load(name)
    entry = (
        payload.get("completion_probabilities") or payload["choices"][0]["logprobs"]["content"]
    )[0]
    r = extract(payload, YN)
    yes, no = listed_mass(entry, {"yes"}, key), listed_mass(entry, {"no"}, key)
    assert yes > 0.5 and no > 0.2  # " Yes", " yes", " YES"; " No" (" Not" is not an answer)
    assert r.raw == pytest.approx({"yes": yes, "no": no}, rel=1e-9)
    assert r.belief["yes"] == pytest.approx(yes / (yes + no), rel=1e-9)
    assert (r.pivot_token, r.choice, r.reason) == (" No", "no", None)
    assert r.n_listed == 10


def test_real_llamacpp_anchor_payload_with_held_back_newline():
    payload = load("llamacpp_native_anchor.json")
    cp = payload["completion_probabilities"]
    # llama.cpp held back "\n" (could start the stop string) and emitted it with "Answer"
    assert cp[9]["token"] == "" and cp[10]["token"] == "\nAnswer"
    pm = ChoiceSet({"pampers": ["Pampers"], "huggies": ["Huggies"]}, prefix_match=True)
    r = extract(payload, pm, pivot="anchor", anchor="Answer:")
    assert (r.pivot_index, r.pivot_token, r.choice) == (12, " Hug", "huggies")
    top = {t["token"]: math.exp(t["logprob"]) for t in cp[12]["top_logprobs"]}
    # " P" is a unique prefix of " Pampers"
    assert r.raw == pytest.approx({"pampers": top[" Pamp"] + top[" P"], "huggies": top[" Hug"]})
    trap = extract(payload, pm, pivot="first_match")
    assert (trap.pivot_index, trap.choice) == (0, "pampers")
    # exact labels only: no alternative token after the anchor
    r = extract(payload, BRANDS, pivot="anchor", anchor="Answer:")
    assert r.flags == (Flag.NO_PIVOT,)


def test_real_llamacpp_chat_without_answer_at_pivot():
    r = extract(load("llamacpp_v1_chat_completions.json"), YN)
    assert r.flags == (Flag.NO_ALTERNATIVE_AT_PIVOT, Flag.TRUNCATED, Flag.CHOICE_NOT_ALTERNATIVE)
    assert r.reason.startswith("no_alternative_at_pivot")
    assert r.covered_mass == 0.0 and all(math.isnan(v) for v in r.belief.values())
    assert r.upper_bound["yes"] > 0  # unlisted, bounded by the smallest listed probability


def _stream_chunks(sc, make):
    """One chunk per generated token, plus a final chunk without tokens."""
    return [make([pos]) for pos in sc]


def test_streamed_chunks_are_concatenated():
    from .payload_shapes import ollama_generate, openai_chat_dict

    chunks = _stream_chunks(ANCHOR_SCENARIO, ollama_generate)
    chunks.append({"model": "gemma3", "created_at": "x", "response": "", "done": True})
    r = extract(chunks, BRANDS, pivot="anchor", anchor="Answer:")
    assert (r.pivot_index, r.choice, r.payload_format) == (5, "huggies", "stream:ollama")

    def chat_chunk(sc):
        d = openai_chat_dict(sc)
        d["object"] = "chat.completion.chunk"
        choice = d["choices"][0]
        choice["delta"] = choice.pop("message")
        return d

    chunks = _stream_chunks(ANCHOR_SCENARIO, chat_chunk)
    final = chat_chunk(ANCHOR_SCENARIO[:1])
    final["choices"][0]["logprobs"] = None
    chunks.append(final)
    pytest.importorskip("openai")
    from openai.types.chat import ChatCompletionChunk

    typed = [ChatCompletionChunk.model_validate(c) for c in chunks]
    for payload in (chunks, typed):
        r = extract(payload, BRANDS, pivot="anchor", anchor="Answer:")
        assert (r.pivot_index, r.choice) == (5, "huggies")
        assert r.payload_format == "stream:chat_completions"
    assert extract([final], BRANDS).flags == (Flag.NO_LOGPROBS,)
