"""OpenAI and OpenAI-compatible servers (vLLM, the llama.cpp server, Ollama) through the
official ``openai`` client.

* Chat Completions (default) with ``logprobs=True, top_logprobs=20`` (20 is OpenAI's maximum;
  servers may return fewer). The Responses API on request (``api="responses"``), which returns
  log-probabilities only with ``include=["message.output_text.logprobs"]``.
* ``base_url`` points the client at any compatible server.
* The API key comes from ``api_key=`` or the environment (``OPENAI_API_KEY``). It is held by
  the client only: payloads never contain it, and responses and error messages are redacted
  (the key, ``Authorization`` values, ``sk-...`` keys) before they are stored or printed, in
  case a server echoes them.
* An answer without usable log-probabilities (a content filter, a refusal, empty content) is
  not retried: it is returned and stored once, and the panel says why it has no belief
  (``belief_flags``, ``belief_reason``, ``finish_reason``, ``raw_text``).
* Before the first request of a run the backend probes the model with a one-token request and
  raises :class:`~beliefreg.simulation.LogprobsUnsupportedError` when the model refuses
  log-probabilities (reasoning models answer HTTP 400) or returns none. The probe's outcome is
  kept in the store, so a resumed run does not probe again.
* The client's own retries are switched off (``max_retries=0``): the runner retries with its
  own policy and records what happened.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ...belief import extract
from ..errors import (
    BackendError,
    LogprobsUnsupportedError,
    QuotaExceededError,
    RequestFailed,
    StudyError,
)
from ..keys import canonical_json, derive_seed
from ..layout import COMPLETION_STOP, chat_messages, completion_prompt
from ..pricing import OPENAI_PRICES, Price, estimate_tokens, price_for
from ..redact import Redactor
from .base import Backend, Outcome, Reply, outcome_from_result

if TYPE_CHECKING:
    from ..design import Item, QuestionBlock, Rendered
    from ..store import Store
    from ..study import Study

__all__ = ["OpenAIBackend", "DEFAULT_BASE_URL"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"

#: The Responses API rejects ``max_output_tokens`` below 16.
_RESPONSES_MIN_OUTPUT_TOKENS = 16

#: Stand-ins for the messages and the seed when deriving the canonical payload text.
_MSG_SENTINEL = "\x00beliefreg-messages\x00"
_SEED_SENTINEL = -918_273_645_501

#: JSON string encoder of the canonical form (``ensure_ascii=False``).
_encode_json_string = json.encoder.encode_basestring  # type: ignore[attr-defined]


def _head_hashes(seed: int, system: str | None, examples: Any, draw: int, identity_json: str,
                 pre: str) -> tuple[Any, Any, int, int]:
    """The two SHA-256 states of a request key up to its question (one place for the format):
    the derived seed's (``[seed, <messages before the question>``) and the key's
    (``{"draw":..,"identity":..,"payload":<pre><messages before the question>``), with the
    characters and the message count before the question (for the token estimate)."""
    before = chat_messages(system, examples, "")[:-1]
    h_json = canonical_json(before)[:-1]  # without the closing bracket
    h_json += "," if before else ""
    seed_state = hashlib.sha256(f"[{seed},{h_json}".encode())
    key_state = hashlib.sha256(('{"draw":%d,"identity":%s,"payload":%s%s' % (
        draw, identity_json, pre, h_json)).encode())
    n_chars = sum(len(m["content"]) + 1 for m in before)
    return seed_state, key_state, n_chars, len(before) + 1

_QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached", "quota_exceeded"}


#: Endpoint of each payload kind, relative to ``base_url``.
_PATHS = {"chat": "/chat/completions", "completions": "/completions", "responses": "/responses"}


def _http_response_type() -> Any:
    """The HTTP response class of the installed ``openai`` client's transport (``httpx2`` from
    openai 3, ``httpx`` before): passed as ``cast_to`` it makes ``client.post`` return the raw
    response."""
    global _HTTP_RESPONSE
    if _HTTP_RESPONSE is None:
        import openai._base_client as base

        transport = getattr(base, "httpx2", None) or getattr(base, "httpx")
        _HTTP_RESPONSE = transport.Response
    return _HTTP_RESPONSE


_HTTP_RESPONSE: Any = None


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000.0)
        value = headers.get("retry-after")
    except Exception:  # pragma: no cover - exotic header objects
        return None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _count(value: Any) -> int | None:
    """A token count from a usage field (None when absent or not a number)."""
    if isinstance(value, bool):
        return None
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _error_text(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(getattr(exc, "message", None) or exc)


def _dropped_connection(exc: BaseException) -> str | None:
    """The aiohttp connection error behind a client "timeout", as text, or None.

    The official client's aiohttp transport maps every ``aiohttp.ClientConnectionError`` (a
    server that closed the connection, a refused connection) to ``httpx`` ``ConnectTimeout``,
    which the client raises as ``APITimeoutError``; the cause chain keeps the original."""
    cause = exc.__cause__
    for _ in range(4):
        if cause is None:
            return None
        kind = type(cause)
        if kind.__module__.startswith("aiohttp"):
            if "Timeout" in kind.__name__:
                return None
            return f"{kind.__name__}: {cause}" if str(cause) else kind.__name__
        cause = cause.__cause__
    return None


def _mentions_logprobs(text: str) -> bool:
    t = text.lower()
    return "logprob" in t or "log_prob" in t or "log prob" in t


class OpenAIBackend(Backend):
    """OpenAI's API or an OpenAI-compatible server.

    Parameters
    ----------
    model : str, optional
        Default model when the study names none.
    base_url : str, optional
        The server, e.g. ``"http://127.0.0.1:8000/v1"``; default OpenAI's API.
    api : {"chat", "responses"}
        Chat Completions (default) or the Responses API.
    api_key : str, optional
        Default ``$OPENAI_API_KEY``; a placeholder is used for a ``base_url`` server without one.
    timeout : float
        Seconds per request before it counts as timed out (and is retried).
    top_logprobs : int
        Alternatives listed per token (OpenAI allows at most 20; another server, e.g. llama.cpp,
        may list more: up to 10,000 here).
    prices : mapping, optional
        ``{model or prefix: (usd_per_million_input, usd_per_million_output)}`` overriding or
        extending the built-in OpenAI prices; with a ``base_url`` only these are used.
    probe : bool
        Probe log-probability support before the first request of a run.
    max_tokens_param : str, optional
        Request field for the token limit in Chat Completions: default
        ``"max_completion_tokens"`` for OpenAI and ``"max_tokens"`` for other servers.
    extra_body : mapping, optional
        Extra request fields a compatible server understands, e.g. ``{"top_k": -1}`` for
        vLLM (no top-k truncation even when the model's generation config sets one). They
        are part of the request, so they enter its store key.
    transport : {"auto", "aiohttp", "httpx"}
        The HTTP transport under the official client. ``"aiohttp"`` is the client's own
        aiohttp transport (``openai.DefaultAioHttpClient``, installed with
        ``beliefreg[openai]``), which costs about half the CPU per request of the default
        ``httpx`` one (``benchmarks/RESULTS.md``, "Simulation throughput"); headers, timeout,
        exceptions and error classification are the client's either way. ``"auto"``
        (default) uses aiohttp when it is installed.

    Examples
    --------
    >>> backend = OpenAIBackend(base_url="http://127.0.0.1:8080/v1", model="local")
    >>> backend.paid
    False
    """

    name = "openai"
    default_concurrency = 8

    def __init__(self, *, model: str | None = None, base_url: str | None = None,
                 api: str = "chat", api_key: str | None = None, timeout: float = 60.0,
                 top_logprobs: int = 20, prices: dict[str, Any] | None = None,
                 probe: bool = True, max_tokens_param: str | None = None,
                 extra_body: dict[str, Any] | None = None, transport: str = "auto") -> None:
        if api not in ("chat", "responses"):
            raise ValueError(f"api must be 'chat' or 'responses', got {api!r}")
        if transport not in ("auto", "aiohttp", "httpx"):
            raise ValueError(f"transport must be 'auto', 'aiohttp' or 'httpx', got {transport!r}")
        self.transport = transport
        self.default_model = model
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.is_openai = base_url is None or self.base_url == DEFAULT_BASE_URL
        limit = 20 if self.is_openai else 10_000
        if not 1 <= int(top_logprobs) <= limit:
            raise ValueError(f"top_logprobs must lie in 1..{limit}")
        self.api = api
        self._api_key = api_key
        self.timeout = float(timeout)
        self.top_logprobs = int(top_logprobs)
        table: dict[str, Any] = dict(OPENAI_PRICES) if self.is_openai else {}
        table.update(prices or {})
        self._prices = table
        self.paid = self.is_openai or bool(prices)
        self.probe_enabled = probe
        self.max_tokens_param = max_tokens_param or (
            "max_completion_tokens" if self.is_openai else "max_tokens")
        self.extra_body = dict(extra_body) if extra_body else None
        self._client: Any = None
        self._task_head: Any = None  # the hash states before the question (group_tasks)
        self._redactor = Redactor([api_key or os.environ.get("OPENAI_API_KEY")])

    # -- identity and payloads -----------------------------------------------------------------
    def resolve_model(self, model: str | None) -> str:
        model = model or self.default_model
        if not model:
            raise StudyError("the openai backend needs a model: Study(model=...) or "
                             "simulate(..., model=...)")
        return model

    def identity(self, model: str) -> dict[str, Any]:
        return {"backend": self.name, "endpoint": self.base_url, "api": self.api, "model": model}

    def build_payload(self, item: Item, study: Study, model: str) -> dict[str, Any]:
        if study.layout == "completion":
            if self.api != "chat":
                raise StudyError("layout='completion' uses the completions endpoint; it does not "
                                 "go with api='responses'")
            prompt = completion_prompt(item.system, item.examples, item.question)
            payload = {
                "api": "completions",
                "prompt": prompt,
                "temperature": float(study.temperature),
                "top_p": float(study.top_p),
                "max_tokens": int(study.max_tokens),
                "logprobs": self.top_logprobs,
                "stop": list(COMPLETION_STOP),
                "seed": derive_seed(study.seed, prompt, item.run, item.draw),
            }
            if self.extra_body:
                payload["extra_body"] = dict(self.extra_body)
            return payload
        messages = chat_messages(item.system, item.examples, item.question)
        if self.api == "chat":
            return self._chat_payload(messages, study,
                                      derive_seed(study.seed, messages, item.run, item.draw))
        return {
            "api": "responses",
            "input": messages,
            "temperature": float(study.temperature),
            "top_p": float(study.top_p),
            "max_output_tokens": max(_RESPONSES_MIN_OUTPUT_TOKENS, int(study.max_tokens)),
            "include": ["message.output_text.logprobs"],
            "top_logprobs": self.top_logprobs,
            "store": False,
            **({"extra_body": dict(self.extra_body)} if self.extra_body else {}),
        }

    def _chat_payload(self, messages: Any, study: Study, seed: int) -> dict[str, Any]:
        payload = {
            "api": "chat",
            "messages": messages,
            "temperature": float(study.temperature),
            "top_p": float(study.top_p),
            self.max_tokens_param: int(study.max_tokens),
            "logprobs": True,
            "top_logprobs": self.top_logprobs,
            "seed": seed,
        }
        if self.extra_body:
            payload["extra_body"] = dict(self.extra_body)
        return payload

    def request_keys(self, groups: Sequence[Rendered], study: Study, model: str,
                     identity_json: str) -> tuple[list[str], list[int]]:
        """Keys equal to the default's (a test checks it), computed without building payloads:
        the canonical payload text is assembled from a template, the system and example
        messages are encoded and hashed once per distinct system text, the question once per
        condition, and each run adds only its run index and seed to copies of those hashes."""
        if self.api != "chat" or study.layout == "completion":
            return super().request_keys(groups, study, model, identity_json)
        parts = self._key_parts(study)  # the canonical payload text around messages and seed
        if parts is None:
            return super().request_keys(groups, study, model, identity_json)
        pre, mid, post = parts
        run_tail = post.encode() + b',"run":'
        enc = _encode_json_string
        keys: list[str] = []
        tokens: list[int] = []
        heads: dict[tuple[Any, ...], tuple[Any, Any, str, int, int]] = {}
        for g in groups:
            head_key = (g.system, g.examples, g.draw)
            head = heads.get(head_key)
            if head is None:
                head = _head_hashes(int(study.seed), g.system, g.examples, g.draw,
                                    identity_json, pre)
                if len(heads) > 64:
                    heads.clear()
                heads[head_key] = head
            seed_state, key_state, n_chars, n_msgs = head
            q_json = ('{"content":%s,"role":"user"}]' % enc(g.question)).encode()
            s_state = seed_state.copy()
            s_state.update(q_json + b",")
            k_state = key_state.copy()
            k_state.update(q_json + mid.encode())
            n_tok = max(1, -(-(n_chars + len(g.question)) // 4)) + 4 * n_msgs
            draw_tail = b",%d]" % g.draw
            for run in g.runs:
                h = s_state.copy()
                h.update(b"%d" % run + draw_tail)
                seed = int.from_bytes(h.digest()[:4], "big") & 0x7FFFFFFF
                k = k_state.copy()
                k.update(b"%d" % seed + run_tail + b"%d}" % run)
                keys.append(k.hexdigest())
                tokens.append(n_tok)
        return keys, tokens

    def group_tasks(self, group: Rendered, runs: Sequence[int], study: Study, model: str,
                    identity_json: str) -> list[tuple[Item, dict[str, Any], str]]:
        """As the default (a test checks it), with the messages built and hashed once per
        group: each run adds its index to a copy of the seed's hash state and its seed and
        index to a copy of the key's, as :meth:`request_keys` does. The runs' payloads share
        one messages list (payloads are read only)."""
        parts = self._key_parts(study) if self.keys_from_questions(study) else None
        if parts is None:
            return super().group_tasks(group, runs, study, model, identity_json)
        from ..design import _item

        pre, mid, post = parts
        head_key = (int(study.seed), group.system, group.examples, group.draw, identity_json,
                    pre)
        if self._task_head is None or self._task_head[0] != head_key:
            self._task_head = (head_key, _head_hashes(*head_key))
        seed_state, key_state = (h.copy() for h in self._task_head[1][:2])
        q_json = ('{"content":%s,"role":"user"}]' % _encode_json_string(group.question)).encode()
        seed_state.update(q_json + b",")
        key_state.update(q_json + mid.encode())
        run_tail = post.encode() + b',"run":'
        draw_tail = b",%d]" % group.draw
        messages = chat_messages(group.system, group.examples, group.question)
        out = []
        for run in runs:
            h = seed_state.copy()
            h.update(b"%d" % run + draw_tail)
            seed = int.from_bytes(h.digest()[:4], "big") & 0x7FFFFFFF
            k = key_state.copy()
            k.update(b"%d" % seed + run_tail + b"%d}" % run)
            item = _item(group.condition_id, run, group.draw, group.variables,
                         group.choice_order, group.system, group.question, group.examples)
            out.append((item, self._chat_payload(messages, study, seed), k.hexdigest()))
        return out

    def keys_from_questions(self, study: Study) -> bool:
        return self.api == "chat" and study.layout != "completion"

    def question_digests(self, block: QuestionBlock, study: Study, model: str,
                         identity_json: str) -> tuple[bytes, Any]:
        """Keys equal to :meth:`request_keys` (a test checks it) for a block of conditions
        whose runs share their question: the text before the question is hashed once per
        block, each question is JSON-encoded once, and each run adds its index and seed to
        copies of the two hash states (the seed's and the key's)."""
        parts = self._key_parts(study) if self.keys_from_questions(study) else None
        if parts is None:
            return super().question_digests(block, study, model, identity_json)
        pre, mid, post = parts
        seed_state, key_state, n_chars, n_msgs = _head_hashes(
            int(study.seed), block.system, block.examples, block.draw, identity_json, pre)
        mid_b = mid.encode()
        run_tail = post.encode() + b',"run":'
        q_fmt = '{"content":%s,"role":"user"}]'.__mod__
        q_jsons = [q.encode() for q in map(q_fmt, map(_encode_json_string, block.questions))]
        keys: list[bytes] = []
        append = keys.append
        s_copy, k_copy = seed_state.copy, key_state.copy
        from_bytes = int.from_bytes
        if len(block.runs) == 1:  # one run per condition (a grid): one loop over questions
            run = block.runs[0]
            seed_tail = b",%d,%d]" % (run, block.draw)
            key_tail = run_tail + b"%d}" % run
            for q in q_jsons:
                h = s_copy()
                h.update(q + seed_tail)
                k = k_copy()
                k.update(b"%s%s%d%s" % (q, mid_b, from_bytes(h.digest()[:4], "big")
                                        & 0x7FFFFFFF, key_tail))
                append(k.digest())
        else:  # keys in design order: condition, then run
            tails = [(b",%d,%d]" % (run, block.draw), run_tail + b"%d}" % run)
                     for run in block.runs]
            for q in q_jsons:
                s_state = s_copy()
                s_state.update(q)
                k_state = k_copy()
                k_state.update(q + mid_b)
                for seed_tail, key_tail in tails:
                    h = s_state.copy()
                    h.update(seed_tail)
                    k = k_state.copy()
                    k.update(b"%d%s" % (from_bytes(h.digest()[:4], "big") & 0x7FFFFFFF,
                                        key_tail))
                    append(k.digest())
        import numpy as np

        lengths = np.fromiter(map(len, block.questions), dtype=np.int64,
                              count=len(block.questions))
        tokens = np.maximum(1, -(-(n_chars + lengths) // 4)) + 4 * n_msgs
        return b"".join(keys), np.repeat(tokens, len(block.runs))

    def _key_parts(self, study: Study) -> tuple[str, str, str] | None:
        """The canonical payload text before the messages, between them and the seed, and
        after the seed (None when the payload does not have that shape)."""
        text = canonical_json(self._chat_payload(_MSG_SENTINEL, study, _SEED_SENTINEL))
        m_tok, s_tok = canonical_json(_MSG_SENTINEL), str(_SEED_SENTINEL)
        i_m, i_s = text.index(m_tok), text.index(s_tok)
        if not (i_m < i_s and text.count(s_tok) == 1 and text.count(m_tok) == 1):
            return None
        return text[:i_m], text[i_m + len(m_tok):i_s], text[i_s + len(s_tok):]

    def prompt_text(self, payload: dict[str, Any]) -> str:
        if "prompt" in payload:
            return str(payload["prompt"])
        messages = payload.get("messages") or payload.get("input") or []
        return "\n".join(str(m.get("content", "")) for m in messages)

    def price(self, model: str) -> Price | None:
        return price_for(model, self._prices)

    # -- lifecycle -----------------------------------------------------------------------------
    def check_ready(self) -> None:
        self._client_key()

    def _client_key(self) -> tuple[Any, str]:
        """The ``openai`` module and the API key to give its client.

        Raises :class:`BackendError` when the client is not installed, or when OpenAI's own
        API is the server and no key is set (``api_key=`` or ``$OPENAI_API_KEY``); another
        ``base_url`` server without a key gets a placeholder (the client requires one).
        """
        try:
            import openai
        except ModuleNotFoundError:
            raise BackendError(f"the {self.name} backend needs the openai client: "
                               "pip install 'beliefreg[openai]'") from None
        key = self._api_key or os.environ.get("OPENAI_API_KEY")
        self._redactor = Redactor([key])
        if not key:
            if self.is_openai:
                raise BackendError("no API key: set OPENAI_API_KEY or pass api_key=")
            key = "unused"  # local servers ignore it; the client requires one
        return openai, key

    def _make_client(self) -> Any:
        openai, key = self._client_key()
        return openai.AsyncOpenAI(api_key=key, base_url=self.base_url, timeout=self.timeout,
                                  max_retries=0, http_client=self._http_client(openai))

    def _http_client(self, openai: Any) -> Any:
        """The official client's aiohttp transport (``openai.DefaultAioHttpClient``, the
        ``openai[aiohttp]`` extra) when asked for or, with ``transport="auto"``, when it is
        installed; ``None`` (the client's default ``httpx`` transport) otherwise."""
        if self.transport == "httpx":
            return None
        make = getattr(openai, "DefaultAioHttpClient", None)
        try:
            if make is None:
                raise RuntimeError("this openai client has no DefaultAioHttpClient")
            return make(timeout=self.timeout)
        except (RuntimeError, ImportError) as exc:  # aiohttp not installed
            if self.transport == "aiohttp":
                raise BackendError(
                    f"transport='aiohttp' needs the openai client's aiohttp extra: pip install "
                    f"'openai[aiohttp]' ({exc})") from None
            return None

    async def open(self, model: str, study: Study, store: Store) -> None:
        self._client = self._make_client()
        if self.probe_enabled and study.layout != "completion":
            await self._probe(model, store)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _probe(self, model: str, store: Store) -> None:
        cached = store.get_probe(self.base_url, model, self.api)
        if cached is not None and cached[0]:
            return
        payload: dict[str, Any]
        messages = [{"role": "user", "content": "Is the sky blue? Answer Yes or No."}]
        if self.api == "chat":
            payload = {"api": "chat", "messages": messages, self.max_tokens_param: 1,
                       "logprobs": True, "top_logprobs": self.top_logprobs}
        else:
            payload = {"api": "responses", "input": messages,
                       "max_output_tokens": _RESPONSES_MIN_OUTPUT_TOKENS,
                       "include": ["message.output_text.logprobs"],
                       "top_logprobs": self.top_logprobs, "store": False}
        last: RequestFailed | None = None
        where = f"{model} at {self.base_url}"
        for attempt in range(4):
            try:
                reply = await self.send(payload, model)
            except RequestFailed as exc:
                last = exc
                if exc.quota:
                    raise QuotaExceededError(
                        f"{where}: the start-up probe was refused: {exc.message}") from None
                if exc.fatal:
                    raise BackendError(f"{where}: the start-up probe was refused: "
                                       f"{exc.message}") from None
                if not exc.retryable:
                    if _mentions_logprobs(exc.message):
                        store.put_probe(self.base_url, model, self.api, False, exc.message)
                        hint = ("Reasoning models (o-series, GPT-5 with reasoning) do not return "
                                "them; gpt-4o and gpt-4.1 do." if self.is_openai else
                                "This server does not return them for this API"
                                + (" (try api='chat')." if self.api == "responses" else "."))
                        raise LogprobsUnsupportedError(
                            f"{where} refused a request for log-probabilities; the server "
                            f"answered {exc.message}. {hint}") from None
                    api = ("the Responses API (api='responses'; try api='chat')"
                           if self.api == "responses" else "Chat Completions")
                    raise BackendError(f"{where}: the start-up probe of {api} failed; the "
                                       f"server answered {exc.message}") from None
                import asyncio

                await asyncio.sleep(min(8.0, max(exc.retry_after or 0.0, 0.5 * 2 ** attempt)))
                continue
            if self._logprob_tokens(reply.response) == 0:
                store.put_probe(self.base_url, model, self.api, False, "no logprobs")
                asked = ("include=['message.output_text.logprobs'] and top_logprobs"
                         if self.api == "responses" else "logprobs=True and top_logprobs")
                raise LogprobsUnsupportedError(
                    f"{model} at {self.base_url} answered without token log-probabilities "
                    f"although {asked} were sent: the server or model does not support them")
            store.put_probe(self.base_url, model, self.api, True, None)
            return
        raise BackendError(f"{where}: the start-up probe failed after retries; the server "
                           f"answered {last.message if last else 'nothing'}")

    # -- sending -------------------------------------------------------------------------------
    @staticmethod
    def _content(response: dict[str, Any]) -> list[Any] | None:
        """The per-token log-probabilities of a stored response, or None."""
        if "choices" in response:
            choices = response.get("choices") or []
            if not choices:
                return None
            lp = (choices[0] or {}).get("logprobs") or {}
            content = lp.get("content") if isinstance(lp, dict) else None
            if content is None and isinstance(lp, dict) and isinstance(lp.get("top_logprobs"),
                                                                        list):
                return [{"top_logprobs": t} for t in lp["top_logprobs"]]  # legacy completions
            return content if isinstance(content, list) else None
        parts: list[Any] = []
        found = False
        for out in response.get("output") or []:
            if not isinstance(out, dict) or out.get("type") != "message":
                continue
            for part in out.get("content") or []:
                if isinstance(part, dict) and part.get("type") == "output_text":
                    lp = part.get("logprobs")
                    if isinstance(lp, list):
                        found = True
                        parts.extend(lp)
        return parts if found else None

    def _logprob_tokens(self, response: dict[str, Any]) -> int:
        content = self._content(response)
        if not content:
            return 0
        return sum(1 for t in content if isinstance(t, dict) and t.get("top_logprobs"))

    @staticmethod
    def _text(response: dict[str, Any]) -> str | None:
        if "choices" in response:
            choices = response.get("choices") or []
            if not choices:
                return None
            first = choices[0] or {}
            if "text" in first and "message" not in first:  # completions endpoint
                return first.get("text")
            msg = first.get("message") or {}
            return msg.get("content")
        texts = []
        for out in response.get("output") or []:
            if isinstance(out, dict) and out.get("type") == "message":
                for part in out.get("content") or []:
                    if isinstance(part, dict) and part.get("type") == "output_text":
                        texts.append(part.get("text") or "")
        return "".join(texts) if texts else None

    def _classify(self, exc: Exception) -> RequestFailed:
        import openai

        text = _error_text(exc)
        if isinstance(exc, openai.APITimeoutError):
            dropped = _dropped_connection(exc)
            if dropped is not None:  # the aiohttp transport reports these as timeouts
                return RequestFailed(f"connection error: {dropped}", retryable=True)
            return RequestFailed(f"timed out after {self.timeout:g} s", retryable=True)
        if isinstance(exc, openai.APIConnectionError):
            return RequestFailed(f"connection error: {text}", retryable=True)
        if isinstance(exc, openai.APIResponseValidationError):
            return RequestFailed(f"malformed response: {text}", retryable=True)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            headers = getattr(exc.response, "headers", None)
            code = str(getattr(exc, "code", None) or "")
            etype = str(getattr(exc, "type", None) or "")
            if status == 429:
                if code in _QUOTA_CODES or etype in _QUOTA_CODES:
                    return RequestFailed(f"quota exhausted (HTTP 429 {code or etype}): {text}",
                                         quota=True)
                return RequestFailed(f"rate limited (HTTP 429): {text}", retryable=True,
                                     rate_limited=True, retry_after=_retry_after(headers))
            if status in (401, 403):
                return RequestFailed(f"HTTP {status}: {text}", fatal=True)
            if status == 404:
                return RequestFailed(f"HTTP 404 (unknown model or endpoint?): {text}", fatal=True)
            if status in (408, 409) or status >= 500:
                return RequestFailed(f"HTTP {status}: {text}", retryable=True,
                                     retry_after=_retry_after(headers))
            return RequestFailed(f"HTTP {status}: {text}")
        if isinstance(exc, (json.JSONDecodeError, ValueError)):
            return RequestFailed(f"malformed response: {exc}", retryable=True)
        if isinstance(exc, openai.OpenAIError):
            return RequestFailed(f"{type(exc).__name__}: {text}", retryable=True)
        return RequestFailed(f"{type(exc).__name__}: {exc}")

    async def send(self, payload: dict[str, Any], model: str) -> Reply:
        if self._client is None:
            self._client = self._make_client()
        body = {k: v for k, v in payload.items() if k != "api" and k != "extra_body"}
        body["model"] = model
        extra = payload.get("extra_body")
        if extra:
            body.update(extra)  # as the client merges ``extra_body``: its fields win
        path = _PATHS[payload["api"]]
        # ``client.post`` is the client's documented way to call an endpoint with a plain body:
        # the same base URL, headers (auth, organization, project), timeout and exceptions as
        # ``chat.completions.create``, without its per-request walk over the typed parameters
        # and its response models (2.3x the requests per second of ``create`` here)
        try:
            raw = await self._client.post(path, cast_to=_http_response_type(), body=body)
        except Exception as exc:  # classified; the runner decides what to do
            import asyncio

            if isinstance(exc, asyncio.CancelledError):  # pragma: no cover - py<3.8 only
                raise
            failure = self._classify(exc)
            failure.message = self._redactor.text(failure.message)
            failure.args = (failure.message,)
            raise failure from None
        body = raw.content
        try:  # parsed, and redacted in case the server echoes a key
            response = self._redactor.json(body)
        except ValueError:  # some servers answer 200 with a non-JSON body
            raise RequestFailed(self._redactor.text(
                f"malformed response (not JSON): {body[:200]!r}"), retryable=True) from None
        if not isinstance(response, dict):
            raise RequestFailed(self._redactor.text(
                f"malformed response (not a JSON object): {body[:200]!r}"), retryable=True)
        # an answer without log-probabilities (content filter, refusal, empty content) is
        # kept as it is: asking again would pay again for the same answer
        usage = response.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        n_in = usage.get("prompt_tokens", usage.get("input_tokens"))
        n_out = usage.get("completion_tokens", usage.get("output_tokens"))
        return Reply(response=response, input_tokens=_count(n_in), output_tokens=_count(n_out))

    # -- reading -------------------------------------------------------------------------------
    @staticmethod
    def _finish_reason(response: dict[str, Any]) -> str | None:
        """``finish_reason`` (chat) or the Responses API's status / incomplete reason."""
        if "choices" in response:
            choices = response.get("choices") or []
            return (choices[0] or {}).get("finish_reason") if choices else None
        details = response.get("incomplete_details") or {}
        if isinstance(details, dict) and details.get("reason"):
            return str(details["reason"])
        for out in response.get("output") or []:
            if isinstance(out, dict) and out.get("type") == "message":
                for part in out.get("content") or []:
                    if isinstance(part, dict) and part.get("type") == "refusal":
                        return "refusal"
        return response.get("status")

    @staticmethod
    def _refusal(response: dict[str, Any]) -> str | None:
        if "choices" in response:
            choices = response.get("choices") or []
            msg = (choices[0] or {}).get("message") or {} if choices else {}
            return msg.get("refusal")
        for out in response.get("output") or []:
            if isinstance(out, dict) and out.get("type") == "message":
                for part in out.get("content") or []:
                    if isinstance(part, dict) and part.get("type") == "refusal":
                        return part.get("refusal")
        return None

    def read(self, response: dict[str, Any], study: Study) -> Outcome:
        text = self._text(response)
        refusal = self._refusal(response)
        finish = self._finish_reason(response)
        pivot = study.pivot
        anchor = study.anchor if pivot == "anchor" else None
        result = extract(response, study.choices, pivot=pivot, anchor=anchor)
        out = outcome_from_result(result, raw_text=text if text is not None else refusal)
        extra = dict(out.extra, finish_reason=finish)
        if not result.scored:  # say what the answer was and why it has no belief
            said = text if text else (f"a refusal: {refusal!r}" if refusal else "no text")
            if text:
                said = repr(text[:200])
            reason = (f"{out.belief_reason}; the answer (finish_reason={finish!r}) was {said}, "
                      "kept and not sent again")
            return replace(out, belief_reason=reason, extra=extra)
        return replace(out, extra=extra)

