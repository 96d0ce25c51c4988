"""A small OpenAI-compatible HTTP server on 127.0.0.1 that injects faults (tests only).

It answers ``POST /v1/chat/completions`` and ``POST /v1/responses`` in OpenAI's shapes, with
token log-probabilities whose values are fixed, so that the expected beliefs are known:
at the first token, ``" Yes"`` has log-probability -0.5, ``" No"`` -1.25 and ``" Maybe"`` -3.0.
The sampled token is ``" Yes"`` or ``" No"`` depending on the request's seed.

The behaviour of a request is chosen by ``case=<name>`` in its last user message and by how
many times that same request (same messages and seed) has been seen:

``ok``          a normal answer;
``flaky500``    HTTP 500 twice, then an answer;
``ratelimit``   HTTP 429 with ``Retry-After: 1`` once, then an answer;
``timeout``     the first attempt sleeps ``slow_seconds`` before answering, then answers;
``badjson``     a 200 whose body is not JSON once, then an answer;
``nologprobs``  an answer without log-probabilities while ``state["healthy"]`` is False;
``bad400``      HTTP 400 (not retryable) while ``state["healthy"]`` is False;
``quota``       HTTP 429 ``insufficient_quota`` while ``state["quota"]`` is True;
``slow``        answers after ``slow_seconds`` (to observe concurrency);
``burst429``    HTTP 429 (``Retry-After: 0.3``) for the first ``burst`` requests of this case;
``filtered``    a content-filtered answer: ``finish_reason="content_filter"``, no text, no
                log-probabilities;
``empty``       an empty answer: ``content=""`` and an empty log-probability list;
``refusal``     a refusal "I can't help with that." whose first-token list has " Yes" far down
                (log-probability -9) and no " No": a naive belief_yes of 1.0;
``echokey``     an answer whose text echoes the request's ``Authorization`` header;
``echokey400``  HTTP 400 whose message echoes the ``Authorization`` header.

Requests without a ``case=`` tag (the start-up probe) answer normally, unless
``state["probe"]`` is ``"400"`` (a 400 about something else than log-probabilities),
``"quota"`` (HTTP 429 ``insufficient_quota``) or ``"echo401"`` (a 401 echoing the key).

Global switches in ``state``: ``refuse_logprobs`` (HTTP 400 to any request asking for
log-probabilities, as reasoning models answer), ``auth_fail`` (HTTP 401), ``drop_logprobs``
(answers never carry log-probabilities).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOGPROBS = {" Yes": -0.5, " No": -1.25, " Maybe": -3.0}
TOKEN_IDS = {" Yes": 8438, " No": 2301, " Maybe": 9912}


def _entry(tok: str) -> dict[str, Any]:
    return {"token": tok, "logprob": LOGPROBS[tok], "bytes": list(tok.encode())}


def _content(sampled: str, top: int) -> list[dict[str, Any]]:
    tops = [_entry(t) for t in LOGPROBS][:top]
    first = dict(_entry(sampled), top_logprobs=tops)
    tail = {"token": ".", "logprob": -0.01, "bytes": [46],
            "top_logprobs": [{"token": ".", "logprob": -0.01, "bytes": [46]}][:top]}
    return [first, tail]


class FaultServer:
    """Start with :meth:`start`; ``url`` is the base URL (``.../v1``)."""

    def __init__(self, *, slow_seconds: float = 2.0, burst: int = 8) -> None:
        self.slow_seconds = slow_seconds
        self.burst = burst
        self.state: dict[str, Any] = {"healthy": False, "quota": False, "refuse_logprobs": False,
                                      "auth_fail": False, "drop_logprobs": False,
                                      "probe": None}
        self.log: list[dict[str, Any]] = []
        self.attempts: dict[str, int] = {}
        self.case_counts: dict[str, int] = {}
        self.inflight = 0
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FaultServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server._handle(self, body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes,
              headers: dict[str, str] | None = None) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                handler.send_header(k, v)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            pass

    def _json(self, handler: BaseHTTPRequestHandler, status: int, obj: Any,
              headers: dict[str, str] | None = None) -> None:
        self._send(handler, status, json.dumps(obj).encode(), headers)

    @staticmethod
    def _error(message: str, etype: str, code: str | None = None) -> dict[str, Any]:
        return {"error": {"message": message, "type": etype, "param": None, "code": code}}

    @staticmethod
    def _chat(body: dict[str, Any], text: str | None, logprobs: Any,
              finish: str = "stop") -> dict[str, Any]:
        return {"id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000,
                "model": body.get("model"),
                "choices": [{"index": 0, "finish_reason": finish, "logprobs": logprobs,
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 40, "completion_tokens": 2, "total_tokens": 42}}

    def _answer(self, path: str, body: dict[str, Any], with_logprobs: bool) -> dict[str, Any]:
        seed = body.get("seed")
        if seed is None:
            seed = int(hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(), 16)
        sampled = " Yes" if seed % 3 else " No"
        top = int(body.get("top_logprobs") or 0)
        text = sampled + "."
        if path.endswith("/responses"):
            part: dict[str, Any] = {"type": "output_text", "text": text, "annotations": []}
            if with_logprobs:
                part["logprobs"] = _content(sampled, top)
            return {
                "id": "resp_test", "object": "response", "created_at": 1700000000,
                "model": body.get("model"), "status": "completed",
                "output": [{"type": "message", "id": "msg_test", "status": "completed",
                            "role": "assistant", "content": [part]}],
                "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
                "usage": {"input_tokens": 40, "output_tokens": 2, "total_tokens": 42,
                          "input_tokens_details": {"cached_tokens": 0},
                          "output_tokens_details": {"reasoning_tokens": 0}},
            }
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": text}}
        choice["logprobs"] = {"content": _content(sampled, top)} if with_logprobs else None
        return {"id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000,
                "model": body.get("model"), "choices": [choice],
                "usage": {"prompt_tokens": 40, "completion_tokens": 2, "total_tokens": 42}}

    def _handle(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        path = handler.path
        messages = body.get("messages") or body.get("input") or []
        last = str(messages[-1].get("content", "")) if messages else ""
        m = re.search(r"case=(\w+)", last)
        case = m.group(1) if m else "untagged"  # e.g. the log-probability probe
        ident = hashlib.sha256(json.dumps([messages, body.get("seed")], sort_keys=True)
                               .encode()).hexdigest()
        with self.lock:
            self.attempts[ident] = attempt = self.attempts.get(ident, 0) + 1
            self.case_counts[case] = case_no = self.case_counts.get(case, 0) + 1
            self.inflight += 1
            self.log.append({"path": path, "case": case, "attempt": attempt, "t": time.monotonic(),
                             "inflight": self.inflight,
                             "auth": handler.headers.get("Authorization"), "body": body})
        try:
            self._respond(handler, path, body, case, attempt, case_no)
        finally:
            with self.lock:
                self.inflight -= 1

    def _respond(self, handler: BaseHTTPRequestHandler, path: str, body: dict[str, Any],
                 case: str, attempt: int, case_no: int) -> None:
        st = self.state
        asks_logprobs = bool(body.get("logprobs")) or "message.output_text.logprobs" in (
            body.get("include") or [])
        if st["auth_fail"]:
            return self._json(handler, 401, self._error("Incorrect API key provided",
                                                        "invalid_request_error",
                                                        "invalid_api_key"))
        if st["refuse_logprobs"] and asks_logprobs:
            return self._json(handler, 400, self._error(
                "logprobs are not supported with reasoning models", "invalid_request_error",
                "unsupported_parameter"))
        with_lp = asks_logprobs and not st["drop_logprobs"]
        if case == "flaky500" and attempt <= 2:
            return self._json(handler, 500, self._error("The server had an error", "server_error"))
        if case == "ratelimit" and attempt == 1:
            return self._json(handler, 429, self._error("Rate limit reached", "requests",
                                                        "rate_limit_exceeded"),
                              {"Retry-After": "1"})
        if case == "burst429" and case_no <= self.burst:
            time.sleep(0.15)  # keep the burst in flight together
            return self._json(handler, 429, self._error("Rate limit reached", "requests",
                                                        "rate_limit_exceeded"),
                              {"Retry-After": "0.3"})
        if case == "timeout" and attempt == 1:
            time.sleep(self.slow_seconds)
        if case == "slow":
            time.sleep(self.slow_seconds)
        if case == "badjson" and attempt == 1:
            return self._send(handler, 200, b'{"id": "chatcmpl-broken", "choices": [')
        if case == "nologprobs" and not st["healthy"]:
            with_lp = False
        if case == "bad400" and not st["healthy"]:
            return self._json(handler, 400, self._error("This model's maximum context length "
                                                        "is exceeded", "invalid_request_error",
                                                        "context_length_exceeded"))
        auth = handler.headers.get("Authorization") or ""
        if case == "untagged" and st["probe"] == "400":
            return self._json(handler, 400, self._error(
                "Invalid value for 'max_tokens': must be at least 16.", "invalid_request_error",
                "integer_below_min_value"))
        if case == "untagged" and st["probe"] == "quota":
            return self._json(handler, 429, self._error(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota", "insufficient_quota"))
        if case == "untagged" and st["probe"] == "echo401":
            return self._json(handler, 401, self._error(
                f"Incorrect API key provided: {auth}", "invalid_request_error",
                "invalid_api_key"))
        if case == "filtered":
            return self._json(handler, 200, self._chat(body, None, None, "content_filter"))
        if case == "empty":
            return self._json(handler, 200, self._chat(body, "", {"content": []}))
        if case == "refusal":
            first = {"token": "I", "logprob": -0.01, "bytes": [73], "top_logprobs": [
                {"token": "I", "logprob": -0.01, "bytes": [73]},
                {"token": "Sorry", "logprob": -5.0, "bytes": list(b"Sorry")},
                {"token": " Yes", "logprob": -9.0, "bytes": list(b" Yes")}]}
            rest = {"token": " can't", "logprob": -0.1, "bytes": list(b" can't"),
                    "top_logprobs": [{"token": " can't", "logprob": -0.1,
                                      "bytes": list(b" can't")}]}
            return self._json(handler, 200, self._chat(
                body, "I can't help with that.", {"content": [first, rest]}))
        if case == "echokey":
            answer = self._answer(path, body, with_lp)
            answer["choices"][0]["message"]["content"] += f" (debug: Authorization={auth})"
            answer["system_fingerprint"] = auth
            return self._json(handler, 200, answer)
        if case == "echokey400":
            return self._json(handler, 400, self._error(
                f"Bad request from client with header Authorization: {auth}",
                "invalid_request_error"))
        if case == "quota" and st["quota"]:
            return self._json(handler, 429, self._error(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota", "insufficient_quota"))
        return self._json(handler, 200, self._answer(path, body, with_lp))
