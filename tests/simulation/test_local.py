"""The local backend end to end on the real embedded model (Gemma 3 270M, xllamacpp)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from beliefreg import Study, simulate
from beliefreg.belief import ChoiceSet
from beliefreg.simulation import LocalBackend, Store, panel_columns
from beliefreg.simulation.layout import completion_prompt

from .conftest import EXAMPLES

YES_IDS = [4443, 8438, 10784, 11262, 26915, 51327]  # yes, ▁Yes, Yes, ▁yes, YES, ▁YES
NO_IDS = [951, 1904, 2301, 3771, 7018, 9424]  # ▁no, no, ▁No, No, NO, ▁NO

ISSUE_COLUMNS = ["condition_id", "run", "model", "backend", "temperature", "choice",
                 "choice_valid", "belief_yes", "belief_no", "covered_mass", "missing_mass",
                 "pivot_index", "pivot_token", "pivot_method", "raw_text", "input_tokens",
                 "output_tokens", "cost_usd", "error", "cache_hit"]


def test_panel_schema_and_exact_beliefs(local_backend, diaper_study, tmp_path):
    panel = simulate(diaper_study, local_backend, store=tmp_path / "s.sqlite", progress=False)
    assert list(panel.columns) == panel_columns(diaper_study)
    assert set(ISSUE_COLUMNS) <= set(panel.columns)
    assert list(panel.columns[:1]) == ["price"]
    assert len(panel) == diaper_study.n_requests == 4
    assert panel[["condition_id", "run"]].values.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert panel["price"].tolist() == [30, 30, 45, 45]
    assert (panel["backend"] == "local").all() and (panel["model"] == "gemma-3-270m-q4_k_m").all()
    assert panel["error"].isna().all() and not panel["cache_hit"].any()
    assert (panel["belief_method"] == "exact").all() and (panel["pivot_method"] == "first").all()
    assert (panel["pivot_index"] == 0).all()
    b = panel[["belief_yes", "belief_no"]]
    assert np.allclose(b.sum(axis=1), 1.0) and ((b > 0) & (b < 1)).all().all()
    assert np.allclose(panel["covered_mass"] + panel["missing_mass"], 1.0)
    assert (panel["covered_mass"] > 0.5).all()  # the few-shot layout puts most mass on Yes/No
    assert (panel["cost_usd"] == 0.0).all() and (panel["input_tokens"] > 20).all()
    assert (panel["output_tokens"] == 1).all()
    # the choice is the alternative of the sampled first token, which is the raw text
    for _, row in panel.iterrows():
        if row["choice_valid"]:
            assert row["raw_text"].strip().lower() == row["choice"]
        else:
            assert row["choice"] is None and "choice_not_alternative" in row["belief_flags"]
    # pivot = first generated token: the belief is the same in every run of a condition
    assert panel.groupby("condition_id")["belief_yes"].nunique().eq(1).all()
    assert panel.loc[0, "belief_yes"] != panel.loc[2, "belief_yes"]
    with Store(tmp_path / "s.sqlite") as store:
        assert len(store) == 4


def test_exact_probabilities_equal_the_full_vocabulary_list(runtime):
    """The top-N list plus the logit-bias follow-up give the full-vocabulary probabilities."""
    prompt = completion_prompt(None, EXAMPLES, "Would you buy a pack of diapers for 35 cents? "
                                               "Answer Yes or No.")
    out = runtime.complete(prompt, max_tokens=1, n_probs=runtime.n_vocab, temperature=1.0,
                           top_p=1.0, seed=0)
    full = {t["id"]: math.exp(t["logprob"]) for t in
            out["choices"][0]["logprobs"]["content"][0]["top_logprobs"]}
    assert len(full) == runtime.n_vocab
    assert sum(full.values()) == pytest.approx(1.0, abs=1e-3)
    ids = YES_IDS + NO_IDS
    for n_probs in (16, 4096):  # 16: most variants are off the list and need the follow-up
        got = runtime.token_probs(prompt, ids, n_probs=n_probs)
        assert set(got) == set(ids)
        for i in ids:
            assert got[i] == pytest.approx(full[i], rel=2e-5, abs=1e-12), (n_probs, i)
    ranks = sorted(full, key=full.__getitem__, reverse=True)
    assert max(ranks.index(i) for i in ids) >= 16  # the follow-up path really was exercised


def test_beliefs_are_deterministic_and_independent_of_top_n(local_backend, diaper_study):
    a = simulate(diaper_study, local_backend, store=None, progress=False)
    b = simulate(diaper_study, LocalBackend(n_threads=1, top_n=16), store=None, progress=False)
    cols = ["belief_yes", "belief_no", "covered_mass", "choice", "raw_text"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=False, rtol=2e-5)
    c = simulate(diaper_study, local_backend, store=None, progress=False)
    pd.testing.assert_frame_equal(a.drop(columns="cache_hit"), c.drop(columns="cache_hit"))
    # runs differ only by their seeds: the choices vary across many runs
    many = simulate(diaper_study.replace(runs=12, conditions={"price": [30]}), local_backend,
                    store=None, progress=False)
    assert many["choice"].nunique() == 2 and many["belief_yes"].nunique() == 1


@pytest.mark.slow
def test_choice_frequencies_match_beliefs(local_backend):
    """Choices sampled over many runs follow the exact distribution at the pivot.

    The categories are yes, no and "anything else" (a token that is no alternative), with
    probabilities raw_yes, raw_no and missing_mass (all exact). Pearson's chi-square test at
    level 0.001: a correct sampler fails it with probability 0.001 for a random seed; with this
    fixed seed the outcome is deterministic. As a check of power, the same draws reject the
    distribution renormalised over the alternatives (what a sampler restricted to Yes/No would
    produce).
    """
    n = 150
    study = Study(prompt="Is a dollar a lot of money?", choices={"yes": ["Yes"], "no": ["No"]},
                  runs=n, examples=[("Is the sky blue?", "Yes"), ("Is fire cold?", "No")],
                  seed=2024)
    panel = simulate(study, local_backend, store=None, progress=False)
    first = panel.iloc[0]
    p_yes = first["belief_yes"] * first["covered_mass"]
    p_no = first["belief_no"] * first["covered_mass"]
    probs = np.array([p_yes, p_no, first["missing_mass"]])
    assert probs.min() > 0.1  # all three categories matter for this prompt
    observed = np.array([(panel["choice"] == "yes").sum(), (panel["choice"] == "no").sum(),
                         (~panel["choice_valid"]).sum()])
    assert observed.sum() == n
    assert stats.chisquare(observed, n * probs).pvalue > 0.001
    wrong = np.array([first["belief_yes"], first["belief_no"], 0.0])
    expected_wrong = n * np.clip(wrong, 1e-9, None) / np.clip(wrong, 1e-9, None).sum()
    assert stats.chisquare(observed, expected_wrong).pvalue < 0.001


def test_multi_token_alternatives_use_the_chain_rule(local_backend, gemma_path):
    """Brand names of two tokens: P(label) = p(t1 | prompt) * p(t2 | prompt, t1).

    The reference evaluates every context afresh on the runtime the backend uses for
    multi-token labels (full sliding-window cache: each prompt is one batch)."""
    from beliefreg.simulation.backends.llama_runtime import get_runtime

    runtime = get_runtime(gemma_path, n_threads=1, swa_full=True)
    cs = ChoiceSet({"pampers": ["Pampers"], "huggies": ["Huggies"]}, casefold=False)
    study = Study(prompt="Which diaper brand do you buy, {choices}?", choices=cs,
                  examples=[("Which soda do you drink, Coke or Pepsi?", "Coke")], seed=1)
    panel = simulate(study, local_backend, store=None, progress=False)
    row = panel.iloc[0]
    assert row["belief_method"] == "exact_chain_rule" and row["error"] is None
    assert row["belief_pampers"] + row["belief_huggies"] == pytest.approx(1.0)
    # independent check from long exact top-N lists (no logit bias involved)
    prompt = completion_prompt(None, study.examples, "Which diaper brand do you buy, Pampers "
                                                     "or Huggies?")

    def listed(ctx):
        out = runtime.complete([prompt, *ctx] if ctx else prompt, max_tokens=1, n_probs=20000,
                               temperature=1.0, top_p=1.0, seed=0)
        return {t["id"]: math.exp(t["logprob"]) for t in
                out["choices"][0]["logprobs"]["content"][0]["top_logprobs"]}

    raw = {}
    for alt, forms in (("pampers", [" Pampers", "Pampers"]), ("huggies", [" Huggies", "Huggies"])):
        total = 0.0
        for form in forms:
            ids = runtime.tokenize(form)
            p = 1.0
            for k, tid in enumerate(ids):
                dist = listed(ids[:k])
                assert tid in dist
                p *= dist[tid]
            total += p
        raw[alt] = total
    covered = raw["pampers"] + raw["huggies"]
    assert row["covered_mass"] == pytest.approx(covered, rel=1e-3)
    assert row["belief_pampers"] == pytest.approx(raw["pampers"] / covered, rel=1e-3)


def test_only_multi_token_studies_use_the_full_sliding_window_runtime(local_backend,
                                                                    diaper_study):
    """Single-token studies keep the default runtime (their store keys and values do not
    change); multi-token studies with the prompt cache record the other runtime in the key."""
    from beliefreg.simulation.design import expand

    model = local_backend.resolve_model(None)
    single = local_backend.build_payload(expand(diaper_study)[0], diaper_study, model)
    assert "swa_full" not in single["runtime"] and "chain" not in single["runtime"]
    brands = diaper_study.replace(choices={"pampers": ["Pampers"], "huggies": ["Huggies"]})
    multi = local_backend.build_payload(expand(brands)[0], brands, model)
    assert multi["runtime"]["swa_full"] is True and multi["runtime"]["chain"] == "prefix_cache"
    fresh = LocalBackend(n_threads=1, chain_cache=False)
    assert "swa_full" not in fresh.build_payload(expand(brands)[0], brands, model)["runtime"]
    assert local_backend._runtime(chain=True).swa_full
    assert not local_backend._runtime().swa_full


def test_default_model_has_no_chat_template_so_completion_layout(local_backend, diaper_study):
    from beliefreg.simulation.design import expand

    payload = local_backend.build_payload(expand(diaper_study)[0], diaper_study,
                                          local_backend.resolve_model(None))
    assert payload["layout"] == "completion"
    assert payload["prompt"].endswith("Would you buy a pack of diapers for 30 cents? Answer Yes "
                                      "or No.\nA:")
    assert payload["prompt"].startswith("Q: Is the sky blue? Answer Yes or No.\nA: Yes\n\n")


GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>"
    "{{ 'model' if message['role'] == 'assistant' else 'user' }}\n"
    "{{ message['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def test_a_gguf_file_with_a_chat_template_uses_it(gemma_path, diaper_study, tmp_path):
    """A user's GGUF file: the chat template in the file is applied (BOS added once)."""
    from beliefreg.simulation.backends.gguf import read_gguf_metadata
    from beliefreg.simulation.design import expand

    from .gguf_tools import with_chat_template

    path = with_chat_template(gemma_path, tmp_path / "gemma-chat.gguf", GEMMA_TEMPLATE)
    assert read_gguf_metadata(path, ["tokenizer.chat_template"]) == \
        {"tokenizer.chat_template": GEMMA_TEMPLATE}
    study = diaper_study.replace(runs=1, conditions={"price": [30]})
    backend = LocalBackend(path, n_threads=1)
    model = backend.resolve_model(None)
    payload = backend.build_payload(expand(study)[0], study, model)
    assert payload["layout"] == "chat_template" and payload["stop"] == []
    assert payload["prompt"] == (
        "<start_of_turn>user\nIs the sky blue? Answer Yes or No.<end_of_turn>\n"
        "<start_of_turn>model\nYes<end_of_turn>\n"
        "<start_of_turn>user\nIs fire cold? Answer Yes or No.<end_of_turn>\n"
        "<start_of_turn>model\nNo<end_of_turn>\n"
        "<start_of_turn>user\nWould you buy a pack of diapers for 30 cents? Answer Yes or No."
        "<end_of_turn>\n<start_of_turn>model\n")
    panel = simulate(study, backend, store=None, progress=False)
    assert panel.loc[0, "model"] == "gemma-chat" and panel.loc[0, "error"] is None
    assert panel.loc[0, "belief_method"] == "exact"
    assert panel.loc[0, "belief_yes"] + panel.loc[0, "belief_no"] == pytest.approx(1.0)
    # the same weights with and without the template: different store keys (new sha256)
    plain = LocalBackend(n_threads=1)
    assert backend.identity(model)["sha256"] != plain.identity("x")["sha256"]


def test_anchor_pivot_after_generated_reasoning(local_backend, tmp_path):
    """With pivot='anchor' the pivot is the alternative token after "Answer:" in the sampled
    text; the probabilities there are exact and agree with the decode step's own list."""
    study = Study(
        prompt="{q} Explain briefly, then answer.", choices={"yes": ["Yes"], "no": ["No"]},
        conditions={"q": ["Is the sun dark?"]}, runs=2, max_tokens=24, pivot="anchor",
        anchor="Answer:", seed=4,
        examples=[("Is the sky blue? Explain briefly, then answer.",
                   "The sky looks blue on clear days. Answer: Yes"),
                  ("Is fire cold? Explain briefly, then answer.",
                   "Fire burns and feels hot. Answer: No")])
    store_path = tmp_path / "s.sqlite"
    panel = simulate(study, local_backend, store=store_path, progress=False)
    found = panel[panel["pivot_index"].notna()]
    assert len(found) >= 1
    for _, row in found.iterrows():
        assert row["pivot_index"] > 0 and row["pivot_method"] == "anchor"
        assert "Answer:" in row["raw_text"] and row["belief_method"] == "exact"
        assert row["belief_yes"] + row["belief_no"] == pytest.approx(1.0)
        assert row["choice"] == row["pivot_token"].strip().lower()
    missing = panel[panel["pivot_index"].isna()]
    assert missing["belief_yes"].isna().all()
    assert missing["belief_flags"].eq("no_pivot").all()
    with Store(store_path) as store:
        for rec in store:
            if "exact" not in rec.response:
                continue
            j = rec.response["pivot"]["index"]
            listed = {t["id"]: math.exp(t["logprob"])
                      for t in rec.response["tokens"][j]["top_logprobs"]}
            exact = {int(k): v for k, v in rec.response["exact"]["probs"].items()}
            common = set(listed) & set(exact)
            assert common  # " Yes"/" No" are among the top 20 there
            for i in common:
                assert exact[i] == pytest.approx(listed[i], rel=1e-12)


def test_a_request_llama_cpp_rejects_becomes_an_error_row(local_backend):
    from beliefreg.simulation import FailedRequestsWarning

    study = Study(prompt="{text} Would you buy it? Answer {choices}.",
                  choices={"yes": ["Yes"], "no": ["No"]},
                  conditions={"text": ["Short.", "word " * 5000]}, examples=EXAMPLES)
    with pytest.warns(FailedRequestsWarning, match="1 of 2 requests failed"):
        panel = simulate(study, local_backend, store=None, progress=False)
    assert panel.loc[0, "error"] is None and panel.loc[0, "belief_method"] == "exact"
    assert "exceeds the available context size" in panel.loc[1, "error"]
    assert math.isnan(panel.loc[1, "belief_yes"]) and not panel.loc[1, "choice_valid"]


def test_choice_set_that_does_not_fit_the_tokenizer_fails_before_sending(local_backend):
    from beliefreg.simulation import StudyError

    # " Pamp" is the first token of " Pampers": it would not decide between the two labels
    study = Study(prompt="Which brand?", choices={"a": ["Pamp"], "b": ["Pampers"]})
    with pytest.raises(StudyError, match="does not fit the model's tokenizer"):
        simulate(study, local_backend, store=None, progress=False)
