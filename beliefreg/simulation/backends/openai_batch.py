"""OpenAI's Batch API as a backend: the study's requests as JSONL batch files, half price.

The requests are the Chat Completions requests of :class:`~.openai.OpenAIBackend` (same
payloads, same belief extraction when the panel is read), sent as batch files instead of one
call each. The run itself (files, batches, polling, resumption) is
:func:`beliefreg.simulation.batch_runner.run_batches`; this class holds the settings and the
API calls.

Limits (OpenAI's documentation, checked 2025): at most 50,000 requests and 200 MB per input
file, a 24-hour completion window, 50% of the standard price.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..pricing import Price
from .openai import OpenAIBackend

if TYPE_CHECKING:
    from ..store import Store
    from ..study import Study

__all__ = ["OpenAIBatchBackend", "MAX_BATCH_REQUESTS", "MAX_BATCH_BYTES", "BATCH_DISCOUNT"]

#: Requests per batch input file allowed by OpenAI.
MAX_BATCH_REQUESTS = 50_000
#: Bytes per batch input file allowed by OpenAI (200 MB).
MAX_BATCH_BYTES = 200 * 1000 * 1000
#: Batch price as a fraction of the standard price.
BATCH_DISCOUNT = 0.5


class OpenAIBatchBackend(OpenAIBackend):
    """OpenAI's Batch API (``backend="openai-batch"``).

    Parameters
    ----------
    poll_interval : float
        Seconds between status checks of the submitted batches.
    max_batch_requests, max_batch_bytes : int
        Where input files are split (OpenAI's limits by default; smaller values give more,
        smaller batches).
    completion_window : str
        The batches' completion window (OpenAI accepts ``"24h"``).
    batch_discount : float
        Batch price as a fraction of the standard price (``prices=`` and the built-in table
        are standard prices).
    **options
        Those of :class:`~.openai.OpenAIBackend` (``model``, ``base_url``, ``api_key``,
        ``timeout``, ``top_logprobs``, ``prices``). Only Chat Completions is used; the
        log-probability probe is off by default (a batch line without log-probabilities
        fails and is resubmitted once, then reported).

    Examples
    --------
    >>> backend = OpenAIBatchBackend(model="gpt-4o-mini")
    >>> backend.price("gpt-4o-mini")
    Price(input_per_million=0.075, output_per_million=0.3)
    """

    name = "openai-batch"
    batch = True
    default_concurrency = 1

    def __init__(self, *, poll_interval: float = 30.0,
                 max_batch_requests: int = MAX_BATCH_REQUESTS,
                 max_batch_bytes: int = MAX_BATCH_BYTES, completion_window: str = "24h",
                 batch_discount: float = BATCH_DISCOUNT, probe: bool = False,
                 **options: Any) -> None:
        if options.get("api", "chat") != "chat":
            raise ValueError("the batch backend sends Chat Completions requests (api='chat')")
        options.pop("api", None)
        super().__init__(api="chat", probe=probe, **options)
        if not 1 <= int(max_batch_requests) <= MAX_BATCH_REQUESTS:
            raise ValueError(f"max_batch_requests must lie in 1..{MAX_BATCH_REQUESTS}")
        if not 1 <= int(max_batch_bytes) <= MAX_BATCH_BYTES:
            raise ValueError(f"max_batch_bytes must lie in 1..{MAX_BATCH_BYTES}")
        if not 0 < float(batch_discount) <= 1:
            raise ValueError("batch_discount must lie in (0, 1]")
        self.poll_interval = float(poll_interval)
        self.max_batch_requests = int(max_batch_requests)
        self.max_batch_bytes = int(max_batch_bytes)
        self.completion_window = completion_window
        self.batch_discount = float(batch_discount)
        self.url = "/v1/chat/completions"

    def price(self, model: str) -> Price | None:
        standard = super().price(model)
        if standard is None:
            return None
        return Price(standard.input_per_million * self.batch_discount,
                     standard.output_per_million * self.batch_discount)

    def batch_line(self, key: str, payload: dict[str, Any], model: str) -> dict[str, Any]:
        """One JSONL line: ``custom_id`` is the request's store key."""
        body = {"model": model, **{k: v for k, v in payload.items()
                                   if k not in ("api", "extra_body")}}
        body.update(payload.get("extra_body") or {})
        return {"custom_id": key, "method": "POST", "url": self.url, "body": body}

    def sync_client(self) -> Any:
        """The synchronous ``openai`` client, its own retries off (a retried batch creation
        could submit twice; the runner retries through the ledger instead)."""
        openai, key = self._client_key()
        return openai.OpenAI(api_key=key, base_url=self.base_url, timeout=self.timeout,
                             max_retries=0)

    async def open(self, model: str, study: Study, store: Store) -> None:
        if self.probe_enabled:
            await super().open(model, study, store)
