"""Builders of one run's log-probabilities in every provider's shape, for tests.

A *scenario* is a list of positions ``(sampled_token, probability, [(token, probability),
...])``. Each builder renders it in a provider's shape, with the field names and nesting of
that provider's types:

* OpenAI Chat Completions / Responses: the official ``openai`` pydantic models
  (``ChatCompletion``, ``Response``) validate the dicts, so the shapes cannot drift from the
  installed client;
* vLLM: the OpenAI chat shape (``bytes`` may be null) and the legacy completions shape
  ``{tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset}``;
* llama.cpp server: ``/completion`` ``completion_probabilities`` (with ``id``), its
  ``post_sampling_probs`` variant (``prob``/``top_probs``), the pre-2025 ``{content, probs:
  [{tok_str, prob}]}``, and the OpenAI-compatible shape with token ids (compare the real
  payloads in ``fixtures/``);
* Ollama ``/api/generate`` and ``/api/chat``: a top-level ``logprobs`` list of ``{token,
  logprob, bytes?, top_logprobs: [{token, logprob, bytes?}]}`` (``api/types.go`` of
  ollama/ollama since v0.12.11; not verified against a running Ollama here).
"""

from __future__ import annotations

import json
import math
from typing import Any

try:  # the official client's types validate the OpenAI shapes (optional extra "openai")
    from openai.types.chat import ChatCompletion
    from openai.types.responses import Response
except ImportError:  # pragma: no cover - exercised only without the extra
    ChatCompletion = Response = None

Scenario = list[tuple[str, float, list[tuple[str, float]]]]


def _lp(p: float) -> float:
    return math.log(p) if p > 0 else -math.inf


def _tok(
    token: str, p: float, *, ids: dict[str, int] | None = None, with_bytes: bool = True
) -> dict[str, Any]:
    d: dict[str, Any] = {"token": token, "logprob": _lp(p)}
    if with_bytes:
        d["bytes"] = list(token.encode("utf-8"))
    if ids is not None:
        d = {"id": ids[token], **d}
    return d


def chat_content(
    sc: Scenario, *, with_bytes: bool = True, ids: dict[str, int] | None = None
) -> list[dict]:
    return [
        {
            **_tok(t, p, ids=ids, with_bytes=with_bytes),
            "top_logprobs": [_tok(u, q, ids=ids, with_bytes=with_bytes) for u, q in top],
        }
        for t, p, top in sc
    ]


def _text(sc: Scenario) -> str:
    return "".join(t for t, _, _ in sc)


def openai_chat_dict(sc: Scenario) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": _text(sc), "refusal": None},
                "logprobs": {"content": chat_content(sc), "refusal": None},
            }
        ],
    }


def openai_chat_pydantic(sc: Scenario) -> ChatCompletion:
    return ChatCompletion.model_validate(openai_chat_dict(sc))


def responses_dict(sc: Scenario) -> dict:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1.0,
        "model": "gpt-4.1-2025-04-14",
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [
                    {
                        "type": "output_text",
                        "text": _text(sc),
                        "annotations": [],
                        "logprobs": chat_content(sc),
                    }
                ],
            },
        ],
    }


def responses_pydantic(sc: Scenario) -> Response:
    return Response.model_validate(responses_dict(sc))


def vllm_chat_dict(sc: Scenario) -> dict:
    d = openai_chat_dict(sc)
    d["model"] = "Qwen/Qwen2.5-7B-Instruct"
    d["choices"][0]["logprobs"]["content"] = chat_content(sc, with_bytes=False)
    for e in d["choices"][0]["logprobs"]["content"]:
        e["bytes"] = None
    return d


def vllm_completions_dict(sc: Scenario) -> dict:
    offsets, pos = [], 0
    for t, _, _ in sc:
        offsets.append(pos)
        pos += len(t)
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1,
        "model": "Qwen/Qwen2.5-7B",
        "choices": [
            {
                "index": 0,
                "text": _text(sc),
                "finish_reason": "length",
                "logprobs": {
                    "text_offset": offsets,
                    "token_logprobs": [_lp(p) for _, p, _ in sc],
                    "tokens": [t for t, _, _ in sc],
                    "top_logprobs": [{u: _lp(q) for u, q in top} for _, _, top in sc],
                },
            }
        ],
    }


def _ids(sc: Scenario) -> dict[str, int]:
    ids: dict[str, int] = {}
    for t, _, top in sc:
        for u in [t] + [u for u, _ in top]:
            ids.setdefault(u, 1000 + len(ids))
    return ids


def llamacpp_native(sc: Scenario) -> dict:
    return {
        "index": 0,
        "content": _text(sc),
        "tokens": [],
        "id_slot": 0,
        "stop": True,
        "model": "gemma.gguf",
        "stop_type": "limit",
        "completion_probabilities": chat_content(sc, ids=_ids(sc)),
    }


def llamacpp_native_post_sampling(sc: Scenario) -> dict:
    ids = _ids(sc)
    probs = [
        {
            "id": ids[t],
            "token": t,
            "bytes": list(t.encode()),
            "prob": p,
            "top_probs": [
                {"id": ids[u], "token": u, "bytes": list(u.encode()), "prob": q} for u, q in top
            ],
        }
        for t, p, top in sc
    ]
    return {"index": 0, "content": _text(sc), "stop": True, "completion_probabilities": probs}


def llamacpp_native_legacy(sc: Scenario) -> dict:
    return {
        "content": _text(sc),
        "stop": True,
        "completion_probabilities": [
            {"content": t, "probs": [{"tok_str": u, "prob": q} for u, q in top]} for t, _, top in sc
        ],
    }


def llamacpp_oai_completions(sc: Scenario) -> dict:
    return {
        "choices": [
            {
                "text": _text(sc),
                "index": 0,
                "logprobs": {"content": chat_content(sc, ids=_ids(sc))},
                "finish_reason": "length",
            }
        ],
        "created": 1,
        "model": "gemma.gguf",
        "object": "text_completion",
        "id": "chatcmpl-x",
    }


def ollama_generate(sc: Scenario) -> dict:
    return {
        "model": "gemma3",
        "created_at": "2025-11-20T10:00:00Z",
        "response": _text(sc),
        "done": True,
        "done_reason": "stop",
        "logprobs": chat_content(sc),
    }


def ollama_chat(sc: Scenario) -> dict:
    return {
        "model": "gemma3",
        "created_at": "2025-11-20T10:00:00Z",
        "message": {"role": "assistant", "content": _text(sc)},
        "done": True,
        "logprobs": [{k: v for k, v in e.items() if k != "bytes"} for e in chat_content(sc)],
    }


BUILDERS = {
    "openai_chat_content_dicts": lambda sc: chat_content(sc),
    "openai_chat_response_dict": openai_chat_dict,
    "openai_chat_response_pydantic": openai_chat_pydantic,
    "openai_chat_content_pydantic": lambda sc: openai_chat_pydantic(sc).choices[0].logprobs.content,
    "openai_chat_choice_pydantic": lambda sc: openai_chat_pydantic(sc).choices[0],
    "openai_chat_choice_logprobs_pydantic": lambda sc: openai_chat_pydantic(sc).choices[0].logprobs,
    "openai_chat_json_string": lambda sc: json.dumps(openai_chat_dict(sc)),
    "responses_dict": responses_dict,
    "responses_pydantic": responses_pydantic,
    "responses_message_pydantic": lambda sc: responses_pydantic(sc).output[1],
    "responses_output_text_pydantic": lambda sc: responses_pydantic(sc).output[1].content[0],
    "responses_logprobs_pydantic": lambda sc: responses_pydantic(sc).output[1].content[0].logprobs,
    "vllm_chat": vllm_chat_dict,
    "vllm_completions": vllm_completions_dict,
    "llamacpp_native": llamacpp_native,
    "llamacpp_native_post_sampling": llamacpp_native_post_sampling,
    "llamacpp_native_legacy": llamacpp_native_legacy,
    "llamacpp_oai_completions": llamacpp_oai_completions,
    "ollama_generate": ollama_generate,
    "ollama_chat": ollama_chat,
}

if ChatCompletion is None:  # pragma: no cover
    BUILDERS = {k: v for k, v in BUILDERS.items() if "pydantic" not in k}

EXPECTED_FORMAT = {
    "openai_chat_content_dicts": "token_list",
    "openai_chat_response_dict": "chat_completions",
    "openai_chat_response_pydantic": "chat_completions",
    "openai_chat_content_pydantic": "token_list",
    "openai_chat_choice_pydantic": "chat_completions",
    "openai_chat_choice_logprobs_pydantic": "chat_completions",
    "openai_chat_json_string": "chat_completions",
    "responses_dict": "responses",
    "responses_pydantic": "responses",
    "responses_message_pydantic": "responses",
    "responses_output_text_pydantic": "responses",
    "responses_logprobs_pydantic": "token_list",
    "vllm_chat": "chat_completions",
    "vllm_completions": "completions",
    "llamacpp_native": "llamacpp_native",
    "llamacpp_native_post_sampling": "llamacpp_native_post_sampling",
    # pre-2025 `probs` were taken after the sampler chain (issue 12)
    "llamacpp_native_legacy": "llamacpp_native_post_sampling",
    "llamacpp_oai_completions": "chat_completions",
    "ollama_generate": "ollama",
    "ollama_chat": "ollama",
}
