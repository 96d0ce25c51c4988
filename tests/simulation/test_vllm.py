"""vLLM's response shape through the openai backend, against a fake vLLM server on 127.0.0.1.

vLLM's OpenAI-compatible server lists, at each position, the top ``top_logprobs`` tokens and
*also the sampled token when it is not among them* (so ``top_logprobs + 1`` entries), and adds
fields of its own (``stop_reason``, ``prompt_logprobs``, ``reasoning_content``, ...). The
fake answers in that shape; the panel must come out of the same belief extraction as for
OpenAI, with the appended sampled token counted once, and the request must carry the options
that matter for beliefs (temperature 1, top_p 1, no top-k truncation, log-probabilities).
"""

from __future__ import annotations

import json
import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from beliefreg import Study, simulate
from beliefreg.belief import extract
from beliefreg.simulation import OpenAIBackend

# case -> (top-k list as (token, logprob), sampled token, its logprob)
CASES: dict[str, tuple[list[tuple[str, float]], str, float]] = {
    # the sampled token is in the top-k: listed once
    "inlist": ([(" Yes", -0.45), (" No", -1.4), (" Maybe", -2.8)], " No", -1.4),
    # the sampled token is below the top-k: vLLM appends it as a (k+1)-th entry
    "appended": ([(" Yes", -0.3), (" Maybe", -2.2), (" Sure", -2.6)], " No", -4.0),
}


def _entry(tok: str, lp: float) -> dict[str, Any]:
    return {"token": tok, "logprob": lp, "bytes": list(tok.encode())}


def vllm_response(case: str, model: str, top: int) -> dict[str, Any]:
    """A vLLM 0.x ``/v1/chat/completions`` response (shape as vLLM serialises it)."""
    listed, sampled, lp = CASES[case]
    tops = [_entry(t, v) for t, v in listed[:top]]
    if sampled not in [t for t, _ in listed[:top]]:
        tops.append(_entry(sampled, lp))  # vLLM: the sampled token is always included
    first = dict(_entry(sampled, lp), top_logprobs=tops)
    return {
        "id": "chatcmpl-vllm", "object": "chat.completion", "created": 1700000000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": sampled, "refusal": None,
                        "annotations": None, "audio": None, "function_call": None,
                        "tool_calls": [], "reasoning_content": None},
            "logprobs": {"content": [first]},
            "finish_reason": "length", "stop_reason": None,
        }],
        "service_tier": None, "system_fingerprint": None,
        "usage": {"prompt_tokens": 31, "total_tokens": 32, "completion_tokens": 1,
                  "prompt_tokens_details": None},
        "prompt_logprobs": None, "kv_transfer_params": None,
    }


class FakeVLLM:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                last = body["messages"][-1]["content"]
                m = re.search(r"case=(\w+)", last)
                out = json.dumps(vllm_response(m.group(1) if m else "inlist", body["model"],
                                               int(body.get("top_logprobs") or 0))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/v1" % self.httpd.server_address[1]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def vllm():
    server = FakeVLLM()
    yield server
    server.stop()


def test_vllm_shape_through_the_openai_backend(vllm, tmp_path):
    study = Study(prompt="case={case}: would you buy? Answer {choices}.",
                  choices={"yes": ["Yes"], "no": ["No"]},
                  conditions={"case": ["inlist", "appended"]}, runs=2,
                  model="meta-llama/Llama-3.1-70B-Instruct", seed=2)
    backend = OpenAIBackend(base_url=vllm.url, top_logprobs=3, extra_body={"top_k": -1})
    panel = simulate(study, backend, store=tmp_path / "s.sqlite", progress=False)
    # the options that matter for beliefs reach the server
    sent = [r for r in vllm.requests if "case=" in r["messages"][-1]["content"]]
    assert len(sent) == 4
    for r in sent:
        assert r["temperature"] == 1.0 and r["top_p"] == 1.0 and r["top_k"] == -1
        assert r["logprobs"] is True and r["top_logprobs"] == 3 and r["max_tokens"] == 1
        assert "max_completion_tokens" not in r and isinstance(r["seed"], int)
    inlist = panel[panel["case"] == "inlist"].iloc[0]
    p_yes, p_no = math.exp(-0.45), math.exp(-1.4)
    assert inlist["belief_yes"] == pytest.approx(p_yes / (p_yes + p_no), rel=1e-12)
    assert inlist["covered_mass"] == pytest.approx(p_yes + p_no, rel=1e-12)
    assert inlist["choice"] == "no" and inlist["pivot_token"] == " No"
    # the appended sampled token is an exact probability, counted once
    app = panel[panel["case"] == "appended"].iloc[0]
    p_yes, p_no = math.exp(-0.3), math.exp(-4.0)
    assert app["belief_yes"] == pytest.approx(p_yes / (p_yes + p_no), rel=1e-12)
    assert app["covered_mass"] == pytest.approx(p_yes + p_no, rel=1e-12)
    assert app["choice"] == "no"
    assert panel["error"].isna().all()


def test_appended_sampled_token_is_not_double_counted_in_a_raw_extract():
    response = vllm_response("inlist", "m", 3)
    listed = response["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    assert len(listed) == 3  # sampled token already in the top-k: no extra entry
    response = vllm_response("appended", "m", 3)
    listed = response["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    assert len(listed) == 4 and listed[-1]["token"] == " No"
    r = extract(response, {"yes": ["Yes"], "no": ["No"]})
    assert r.raw["no"] == pytest.approx(math.exp(-4.0), rel=1e-12)
    assert r.raw["yes"] == pytest.approx(math.exp(-0.3), rel=1e-12)
