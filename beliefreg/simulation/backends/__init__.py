"""Simulator backends: ``"local"`` (embedded llama.cpp model), ``"openai"`` (OpenAI and
OpenAI-compatible servers) and ``"openai-batch"`` (OpenAI's Batch API)."""

from __future__ import annotations

from typing import Any

from .base import Backend, Outcome, Reply

__all__ = ["Backend", "Outcome", "Reply", "get_backend", "BACKENDS"]

#: Backend names accepted by :func:`beliefreg.simulate`.
BACKENDS = ("local", "openai", "openai-batch")


def get_backend(backend: str | Backend, **options: Any) -> Backend:
    """A backend instance from a name (options go to its constructor) or the instance itself.

    Raises
    ------
    ValueError
        An unknown name, or options given together with an instance.
    """
    if isinstance(backend, Backend):
        if options:
            raise ValueError(f"backend options {sorted(options)} given with a backend instance; "
                             "pass them to its constructor")
        return backend
    if backend == "local":
        from .local import LocalBackend

        return LocalBackend(**options)
    if backend == "openai":
        from .openai import OpenAIBackend

        return OpenAIBackend(**options)
    if backend == "openai-batch":
        from .openai_batch import OpenAIBatchBackend

        return OpenAIBatchBackend(**options)
    raise ValueError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)} "
                     "or a Backend instance")
