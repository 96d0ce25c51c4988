"""The openai backend against real HTTP servers on 127.0.0.1, through the official client:
the fault-injecting server of :mod:`.fault_server` and the llama.cpp server of xllamacpp."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from beliefreg import Study, simulate
from beliefreg.simulation import (
    BackendError,
    BeliefSamplingWarning,
    BudgetExceededError,
    FailedRequestsWarning,
    LogprobsUnsupportedError,
    OpenAIBackend,
    QuotaExceededError,
    RetryPolicy,
    Store,
    estimate,
    panel_columns,
)

from .fault_server import LOGPROBS

pytest.importorskip("openai")

YN = {"yes": ["Yes"], "no": ["No"]}
FAST = RetryPolicy(max_retries=3, base_delay=0.05, max_delay=0.2)
P_YES, P_NO = math.exp(LOGPROBS[" Yes"]), math.exp(LOGPROBS[" No"])


def _study(cases, runs=1, **kw):
    conditions = pd.DataFrame({"case": cases})
    return Study(prompt="case={case} i={i}: would you buy? Answer {choices}.", choices=YN,
                 conditions=conditions.assign(i=range(len(cases))), runs=runs, **kw)


def _backend(server, **kw):
    kw.setdefault("timeout", 0.5)
    return OpenAIBackend(base_url=server.url, model="test-model", **kw)


def _requests(server, case):
    return [r for r in server.log if r["case"] == case and r["path"].endswith("completions")]


def test_retries_error_rows_and_resume(fault_server, tmp_path):
    cases = ["ok", "flaky500", "ratelimit", "timeout", "badjson", "nologprobs", "bad400"]
    study = _study(cases)
    store = tmp_path / "s.sqlite"
    with pytest.warns(FailedRequestsWarning, match="1 of 7 requests failed"):
        panel = simulate(study, _backend(fault_server), store=store, retry=FAST,
                         concurrency=4, progress=False)
    assert list(panel.columns) == panel_columns(study)
    by = panel.set_index("case")
    ok = ["ok", "flaky500", "ratelimit", "timeout", "badjson"]
    assert by.loc[ok, "error"].isna().all()
    assert np.allclose(by.loc[ok, "belief_yes"], P_YES / (P_YES + P_NO))
    assert np.allclose(by.loc[ok, "covered_mass"], P_YES + P_NO)
    assert (by.loc[ok, "belief_method"] == "top_logprobs").all()
    assert (by.loc[ok, "input_tokens"] == 40).all() and (by.loc[ok, "output_tokens"] == 2).all()
    assert by.loc[ok, "cost_usd"].isna().all()  # no price known for a local server
    # an answer without log-probabilities is an answer: kept once, not retried, explained
    nolp = by.loc["nologprobs"]
    assert nolp["error"] is None and nolp["belief_flags"] == "no_logprobs"
    assert nolp["finish_reason"] == "stop" and nolp["raw_text"] in (" Yes.", " No.")
    assert "kept and not sent again" in nolp["belief_reason"]
    assert "HTTP 400" in by.loc["bad400", "error"] and "context length" in by.loc["bad400", "error"]
    for case in ("nologprobs", "bad400"):
        assert np.isnan(by.loc[case, ["belief_yes", "belief_no"]].astype(float)).all()
        assert by.loc[case, "choice"] is None and not by.loc[case, "choice_valid"]
    # what the server saw
    attempts = {c: len(_requests(fault_server, c)) for c in cases}
    assert attempts == {"ok": 1, "flaky500": 3, "ratelimit": 2, "timeout": 2, "badjson": 2,
                        "nologprobs": 1, "bad400": 1}
    first, second = _requests(fault_server, "ratelimit")
    assert second["t"] - first["t"] >= 0.95  # Retry-After: 1 honoured
    with Store(store) as st:
        recs = {r.request["messages"][-1]["content"].split(" ")[0]: r for r in st}
    assert recs["case=flaky500"].attempts == 3 and recs["case=flaky500"].ok
    assert recs["case=bad400"].status == "error" and recs["case=bad400"].attempts == 1

    # resume once the server is healthy: only the failed request is sent again
    fault_server.state["healthy"] = True
    n_before = len(fault_server.log)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = simulate(study, _backend(fault_server), store=store, retry=FAST, progress=False)
    new = fault_server.log[n_before:]
    assert sorted(r["case"] for r in new if r["path"].endswith("completions")) == ["bad400"]
    assert again["error"].isna().all()
    assert again.set_index("case")["cache_hit"].to_dict() == {c: c != "bad400" for c in cases}
    pd.testing.assert_frame_equal(
        again.set_index("case").loc[ok].drop(columns="cache_hit"),
        panel.set_index("case").loc[ok].drop(columns="cache_hit"))


def test_quota_error_stops_cleanly_and_resume_completes(fault_server, tmp_path):
    cases = ["ok"] * 4 + ["quota"] + ["ok"] * 3
    study = _study(cases)
    store = tmp_path / "s.sqlite"
    fault_server.state["quota"] = True
    with pytest.raises(QuotaExceededError, match="quota") as info:
        simulate(study, _backend(fault_server), store=store, retry=FAST, concurrency=1,
                 progress=False)
    err = info.value
    assert len(err.panel) == 4 and err.panel["error"].isna().all()
    assert err.n_pending == 4  # the quota request itself and the 3 after it
    assert len(_requests(fault_server, "quota")) == 1  # a quota error is not retried
    with Store(store) as st:
        assert len(st) == 4
    fault_server.state["quota"] = False
    done = simulate(study, _backend(fault_server), store=store, retry=FAST, concurrency=1,
                    progress=False)
    assert len(done) == 8 and done["error"].isna().all()
    assert done["cache_hit"].tolist() == [True] * 4 + [False] * 4
    assert len(_requests(fault_server, "ok")) == 7


def test_probe_fails_clearly_when_logprobs_are_refused(fault_server, tmp_path):
    study = _study(["ok", "ok"])
    fault_server.state["refuse_logprobs"] = True
    with pytest.raises(LogprobsUnsupportedError, match="refused a request for log-probabilities"):
        simulate(study, _backend(fault_server), store=tmp_path / "a.sqlite", progress=False)
    assert len(fault_server.log) == 1  # the probe only; no study request was sent
    fault_server.state["refuse_logprobs"] = False
    fault_server.state["drop_logprobs"] = True
    with pytest.raises(LogprobsUnsupportedError, match="without token log-probabilities"):
        simulate(study, _backend(fault_server), store=tmp_path / "b.sqlite", progress=False)
    fault_server.state["drop_logprobs"] = False
    fault_server.state["auth_fail"] = True
    with pytest.raises(BackendError, match="HTTP 401") as info:
        simulate(study, _backend(fault_server), store=tmp_path / "c.sqlite", progress=False)
    assert not isinstance(info.value, LogprobsUnsupportedError)


def test_probe_is_remembered_by_the_store(fault_server, tmp_path):
    study = _study(["ok"], runs=2)
    store = tmp_path / "s.sqlite"
    simulate(study, _backend(fault_server), store=store, progress=False)
    simulate(study, _backend(fault_server), store=store, fresh=True, progress=False)
    probes = [r for r in fault_server.log if "case" in r and r["body"]["messages"][-1]
              ["content"].startswith("Is the sky blue")]
    assert len(probes) == 1


def test_api_key_is_sent_but_never_stored(fault_server, tmp_path):
    secret = "sk-test-VERYSECRET-0123456789"
    store = tmp_path / "s.sqlite"
    panel = simulate(_study(["ok", "flaky500"]), _backend(fault_server, api_key=secret),
                     store=store, retry=FAST, progress=False)
    assert {r["auth"] for r in fault_server.log} == {f"Bearer {secret}"}
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"VERYSECRET" not in blob
    assert not panel.astype(str).apply(lambda c: c.str.contains("VERYSECRET")).any().any()


def test_rate_limits_slow_the_run_down(fault_server, tmp_path):
    fault_server.burst = 8
    study = _study(["burst429"] * 16)
    panel = simulate(study, _backend(fault_server, timeout=5), store=tmp_path / "s.sqlite",
                     retry=RetryPolicy(max_retries=8, base_delay=0.05, max_delay=0.3),
                     concurrency=8, progress=False)
    assert panel["error"].isna().all()
    log = _requests(fault_server, "burst429")
    limited, served = log[:8], log[8:]
    assert max(r["inflight"] for r in limited) >= 4  # the run started at full concurrency
    assert max(r["inflight"] for r in served) <= 4  # ... and slowed down after the 429s
    assert min(r["t"] for r in served) - min(r["t"] for r in limited) >= 0.29  # Retry-After


def test_estimate_budget_and_progress(fault_server, tmp_path, capsys):
    study = _study(["ok"] * 3, runs=2)
    backend = _backend(fault_server, prices={"test-model": (1.0, 2.0)})
    assert backend.paid
    with pytest.raises(BudgetExceededError, match="exceeds budget_usd"):
        simulate(study, backend, store=tmp_path / "s.sqlite", budget_usd=1e-9)
    assert fault_server.log == []  # nothing was sent
    panel = simulate(study, _backend(fault_server, prices={"test-model": (1.0, 2.0)}),
                     store=tmp_path / "s.sqlite", budget_usd=1.0, progress=True)
    err = capsys.readouterr().err
    assert "6 requests to send (0 of 6 already stored)" in err
    assert "cost about $" in err
    assert "done=6" in err and "cached=0" in err and "failed=0" in err and "cost=$" in err
    assert np.allclose(panel["cost_usd"], (40 * 1.0 + 2 * 2.0) / 1e6)
    simulate(study, _backend(fault_server, prices={"test-model": (1.0, 2.0)}),
             store=tmp_path / "s.sqlite", progress=True)
    assert "cached=6" in capsys.readouterr().err


def test_sampling_parameters_warn_and_are_sent(fault_server, tmp_path):
    study = _study(["ok"], temperature=0.7, top_p=0.9, max_tokens=3, seed=5)
    with pytest.warns(BeliefSamplingWarning, match="temperature=0.7, top_p=0.9"):
        simulate(study, _backend(fault_server), store=None, progress=False)
    body = _requests(fault_server, "ok")[-1]["body"]
    assert body["temperature"] == 0.7 and body["top_p"] == 0.9
    assert body["max_tokens"] == 3 and body["logprobs"] is True and body["top_logprobs"] == 20
    assert isinstance(body["seed"], int) and body["model"] == "test-model"


def test_responses_api(fault_server, tmp_path):
    study = _study(["ok", "flaky500"], runs=2)
    panel = simulate(study, _backend(fault_server, api="responses"), store=None, retry=FAST,
                     progress=False)
    body = [r for r in fault_server.log if r["path"].endswith("/responses")][-1]["body"]
    assert body["include"] == ["message.output_text.logprobs"] and body["top_logprobs"] == 20
    assert body["max_output_tokens"] == 16
    assert panel["error"].isna().all()
    assert np.allclose(panel["belief_yes"], P_YES / (P_YES + P_NO))
    assert panel["raw_text"].isin([" Yes.", " No."]).all()
    assert (panel["choice"] == panel["raw_text"].str.strip(" .").str.lower()).all()


# -- the llama.cpp server started by xllamacpp -------------------------------------------------

def test_llama_cpp_server_through_the_openai_client(runtime, diaper_study, tmp_path):
    backend = OpenAIBackend(base_url=runtime.address + "/v1", model="gemma-3-270m")
    panel = simulate(diaper_study, backend, store=tmp_path / "s.sqlite", progress=False)
    assert list(panel.columns) == panel_columns(diaper_study)
    assert panel["error"].isna().all() and (panel["backend"] == "openai").all()
    assert (panel["belief_method"] == "top_logprobs").all()
    scored = panel.dropna(subset=["belief_yes"])
    assert len(scored) >= 1
    assert np.allclose(scored["belief_yes"] + scored["belief_no"], 1.0)
    assert (panel["input_tokens"] > 10).all() and panel["cost_usd"].isna().all()
    # the sampled first token is the pivot token, and the raw text starts with it
    assert all(t.startswith(p) for t, p in zip(panel["raw_text"], panel["pivot_token"]))
    # same requests (same seeds) give the same rows
    again = simulate(diaper_study, OpenAIBackend(base_url=runtime.address + "/v1",
                                                 model="gemma-3-270m"), store=None,
                     progress=False)
    cols = ["belief_yes", "covered_mass", "choice", "raw_text"]
    pd.testing.assert_frame_equal(panel[cols], again[cols])


def test_llama_cpp_server_responses_api_without_logprobs_fails_clearly(runtime, diaper_study):
    backend = OpenAIBackend(base_url=runtime.address + "/v1", model="gemma-3-270m",
                            api="responses")
    with pytest.raises(LogprobsUnsupportedError, match="log-probabilities"):
        simulate(diaper_study, backend, store=None, progress=False)


def test_simulate_inside_a_running_event_loop(fault_server):
    """Notebooks run an event loop: simulate() then runs its own loop in a thread."""
    import asyncio

    async def call():
        return simulate(_study(["ok"], runs=2), _backend(fault_server), store=None,
                        progress=False)

    panel = asyncio.run(call())
    assert len(panel) == 2 and panel["error"].isna().all()


def _raw_server(mode):
    """A TCP server on 127.0.0.1 that reads a request and then closes the connection
    (``close``), holds it without answering (``hang``) or sends half a response (``half``)."""
    import socket
    import threading
    import time

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)

    def serve():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.recv(65536)
            if mode == "hang":
                time.sleep(2.0)
            elif mode == "half":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 100\r\n\r\n{\"a\":")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return sock


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
@pytest.mark.parametrize("mode,expected", [("close", "connection error"),
                                           ("half", "connection error"),
                                           ("refused", "connection error"),
                                           ("hang", "timed out after 0.5 s")])
def test_transport_failures_are_classified_alike(transport, mode, expected):
    """Both transports of the official client give the same classification: the aiohttp
    transport reports a dropped or refused connection as a connect timeout, which the backend
    names a connection error (its cause)."""
    import asyncio
    import socket

    from beliefreg.simulation.errors import RequestFailed

    if transport == "aiohttp":
        pytest.importorskip("aiohttp")
    if mode == "refused":
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
    else:
        sock = _raw_server(mode)
        port = sock.getsockname()[1]
    backend = OpenAIBackend(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeout=0.5,
                            transport=transport)

    async def send():
        try:
            await backend.send({"api": "chat", "messages": [{"role": "user", "content": "x"}]},
                               "m")
        finally:
            await backend.close()

    try:
        with pytest.raises(RequestFailed) as info:
            asyncio.run(send())
    finally:
        sock.close()
    assert info.value.message.startswith(expected)
    assert info.value.retryable and not info.value.fatal and not info.value.quota


def test_the_aiohttp_transport_is_the_default_when_installed(fault_server):
    pytest.importorskip("aiohttp")
    import asyncio

    from openai._vendor.httpx_aiohttp.transport import AiohttpTransport

    backend = _backend(fault_server)
    client = backend._make_client()
    try:
        assert isinstance(client._client._transport, AiohttpTransport)
    finally:
        asyncio.run(client.close())
    assert OpenAIBackend(transport="httpx")._http_client(__import__("openai")) is None
    with pytest.raises(ValueError, match="transport"):
        OpenAIBackend(transport="curl")


@pytest.mark.parametrize("backend", ["openai", "openai-batch"])
def test_a_missing_api_key_stops_before_the_plan_is_printed(backend, tmp_path, capsys,
                                                            monkeypatch):
    """Without a key for OpenAI's own API the run stops before it prints its cost, opens a
    progress bar or sends anything (the check used to come when the client was made, after
    the plan line and with the bar left open)."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    study = Study(prompt="would you buy at {price}? Answer {choices}.", choices=YN,
                  conditions={"price": [1, 2]}, runs=2)
    with pytest.raises(BackendError, match="no API key"):
        simulate(study, backend, model="gpt-4o-mini", store=tmp_path / "s.sqlite",
                 progress=True)
    err = capsys.readouterr().err
    assert "beliefreg:" not in err and "it/s" not in err and "%" not in err, err
    # planning and cost estimates need no key
    assert estimate(study, backend, model="gpt-4o-mini", store=tmp_path / "s.sqlite").n_requests == 4
