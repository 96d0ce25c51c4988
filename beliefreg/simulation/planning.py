"""Streaming request plans: the keys, counts and cost of a study without holding its requests.

A study is planned in one pass over its design, a chunk of conditions at a time
(:func:`~beliefreg.simulation.design.iter_items`): each chunk's store keys are computed by the
backend (:meth:`~beliefreg.simulation.backends.base.Backend.request_keys`, which hashes the part
shared by the runs of a condition once), looked up in the store, and reduced to a few numbers per
request (a 64-bit key prefix, whether it is answered, its estimated input tokens). Nothing of the
request itself is kept: the payloads are built again, chunk by chunk, while sending
(:func:`iter_tasks`) and while reading the panel (:func:`iter_chunks`). Memory is about 20 bytes
per request.

Identical requests (two conditions rendering to the same prompt) share one key and are sent
once. They are found by the 64-bit key prefixes and confirmed on the full keys, so a prefix
collision cannot drop a request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .design import Item, Rendered, iter_items, iter_question_blocks, iter_rendered
from .keys import canonical_json
from .pricing import estimate_tokens

if TYPE_CHECKING:
    from .backends.base import Backend
    from .store import Store
    from .study import Study

__all__ = ["CHUNK", "PlanChunk", "PlanScan", "request_key", "payload_input_tokens",
           "digest_keys", "key_prefixes", "iter_chunks", "scan", "iter_tasks", "choose_draw"]

#: Requests per chunk when planning (a chunk's keys are looked up in the store at once).
CHUNK = 8192

#: Largest number of fresh draws looked for in a store.
MAX_DRAWS = 10_000


def request_key(identity_json: str, payload: dict[str, Any], run: int, draw: int) -> str:
    """The store key of a request: SHA-256 of the canonical JSON of
    ``{"draw", "identity", "payload", "run"}``.

    Equal to ``stable_hash({"identity": identity, "payload": payload, "run": run,
    "draw": draw})`` with ``identity_json = canonical_json(identity)``, written out so that the
    identity is encoded once per plan.
    """
    text = '{"draw":%d,"identity":%s,"payload":%s,"run":%d}' % (
        draw, identity_json, canonical_json(payload), run)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def payload_input_tokens(backend: Backend, payload: dict[str, Any]) -> int:
    """Estimated input tokens of a payload: 4 characters per token plus 4 per message."""
    n_msgs = len(payload.get("messages") or payload.get("input") or [None])
    return estimate_tokens(backend.prompt_text(payload)) + 4 * n_msgs


def key_prefixes(keys: Sequence[str]) -> np.ndarray:
    """The first 64 bits of each hex key as ``uint64``."""
    if not keys:
        return np.zeros(0, dtype=np.uint64)
    raw = bytes.fromhex("".join(k[:16] for k in keys))
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64)


@dataclass(frozen=True)
class PlanChunk:
    """Consecutive requests of a plan: design items, store keys and (optionally) payloads."""

    start: int
    items: list[Item]
    keys: list[str]
    payloads: list[dict[str, Any]] | None = None


def _group_chunks(study: Study, draw: int, chunk: int) -> Iterator[list[Rendered]]:
    """Rendered groups of the design in lists covering about ``chunk`` requests each."""
    groups: list[Rendered] = []
    n = 0
    for g in iter_rendered(study, draw=draw, chunk=max(1, min(4096, chunk // study.runs or 1))):
        groups.append(g)
        n += len(g.runs)
        if n >= chunk:
            yield groups
            groups, n = [], 0
    if groups:
        yield groups


def _key_chunks(study: Study, backend: Backend, model: str, draw: int, chunk: int,
                identity_json: str) -> Iterator[tuple[bytes, Sequence[int]]]:
    """Store keys (raw SHA-256 digests, 32 bytes each, concatenated) and estimated input
    tokens of the design, about ``chunk`` requests at a time: from question blocks where the
    backend computes keys from them (no item or rendered group per condition), else from
    rendered groups."""
    blocks = None
    if backend.keys_from_questions(study):
        blocks = iter_question_blocks(study, draw=draw,
                                      chunk=max(1, chunk // max(1, study.runs)))
    if blocks is not None:
        for block in blocks:
            yield backend.question_digests(block, study, model, identity_json)
        return
    for groups in _group_chunks(study, draw, chunk):
        keys, tokens = backend.request_keys(groups, study, model, identity_json)
        yield bytes.fromhex("".join(keys)), tokens


def digest_keys(digests: bytes) -> list[str]:
    """The hex store keys of concatenated 32-byte digests."""
    text = digests.hex()
    return [text[i:i + 64] for i in range(0, len(text), 64)]


def iter_chunks(study: Study, backend: Backend, model: str, *, draw: int = 0,
                chunk: int = CHUNK, payloads: bool = False) -> Iterator[PlanChunk]:
    """The requests of ``study`` for one draw, about ``chunk`` requests at a time, in design
    order."""
    identity_json = canonical_json(backend.identity(model))
    start = 0
    for groups in _group_chunks(study, draw, chunk):
        items = [item for g in groups for item in g.items()]
        if payloads:
            pl = [backend.build_payload(i, study, model) for i in items]
            keys = [request_key(identity_json, p, i.run, i.draw)
                    for i, p in zip(items, pl, strict=True)]
            yield PlanChunk(start, items, keys, pl)
        else:
            keys, _ = backend.request_keys(groups, study, model, identity_json)
            yield PlanChunk(start, items, keys)
        start += len(items)


@dataclass
class PlanScan:
    """One pass over a study's requests for one draw: what is stored, what to send.

    Attributes
    ----------
    draw : int
    n_requests : int
        Conditions x runs.
    n_unique : int
        Distinct requests (identical requests share one key).
    n_cached : int
        Distinct requests already answered in the store.
    pending : ndarray of int64
        Design positions of the requests to send (the first occurrence of each key without an
        ``ok`` row), ascending.
    pending_input_tokens : int
        Estimated input tokens of the pending requests.
    prefixes : ndarray of uint64
        The 64-bit key prefix of every request (for ``cache_hit`` in the panel).
    """

    draw: int
    n_requests: int
    n_unique: int
    n_cached: int
    pending: np.ndarray
    pending_input_tokens: int
    prefixes: np.ndarray

    @property
    def has_duplicates(self) -> bool:
        return self.n_unique < self.n_requests

    def sent_prefixes(self) -> np.ndarray:
        """Sorted key prefixes of the pending requests."""
        return np.unique(self.prefixes[self.pending])


def scan(study: Study, backend: Backend, model: str, store: Store | None, *, draw: int,
         look_up: bool = True, chunk: int = CHUNK) -> PlanScan:
    """Plan ``study`` for one draw in one streaming pass (see the module docstring).

    ``look_up=False`` skips the store (the caller knows that no row of this draw exists).
    """
    n = study.n_requests
    prefixes = np.empty(n, dtype=np.uint64)
    answered = np.zeros(n, dtype=bool)
    tokens = np.empty(n, dtype=np.int64)
    identity_json = canonical_json(backend.identity(model))
    pos = 0
    for digests, toks in _key_chunks(study, backend, model, draw, chunk, identity_json):
        m = len(digests) // 32
        prefixes[pos:pos + m] = np.frombuffer(digests, dtype=">u8")[::4]  # first 64 bits
        tokens[pos:pos + m] = toks
        if look_up and store is not None:
            keys = digest_keys(digests)
            ok = store.ok_keys(keys)
            if ok:
                answered[pos:pos + m] = [k in ok for k in keys]
        pos += m
    if pos != n:  # pragma: no cover - the design and n_requests disagree
        raise RuntimeError(f"planned {pos} requests, expected {n}")
    _, first = np.unique(prefixes, return_index=True)
    if len(first) < n:  # duplicates (or a prefix collision): confirm on the full keys
        first = _exact_first(study, backend, model, draw, prefixes, chunk)
    first.sort()
    pending = first[~answered[first]]
    return PlanScan(draw=draw, n_requests=n, n_unique=len(first),
                    n_cached=int(answered[first].sum()), pending=pending.astype(np.int64),
                    pending_input_tokens=int(tokens[pending].sum()), prefixes=prefixes)


def _exact_first(study: Study, backend: Backend, model: str, draw: int, prefixes: np.ndarray,
                 chunk: int) -> np.ndarray:
    """First design position of each distinct full key (a second pass, only over the requests
    whose prefix repeats)."""
    values, counts = np.unique(prefixes, return_counts=True)
    repeated = values[counts > 1]
    suspect = np.isin(prefixes, repeated)
    firsts = list(np.flatnonzero(~suspect))
    seen: dict[str, int] = {}
    for ch in iter_chunks(study, backend, model, draw=draw, chunk=chunk):
        stop = ch.start + len(ch.keys)
        for offset in np.flatnonzero(suspect[ch.start:stop]):
            key = ch.keys[offset]
            if key not in seen:
                seen[key] = ch.start + int(offset)
    firsts.extend(seen.values())
    return np.asarray(firsts, dtype=np.int64)


def iter_tasks(study: Study, backend: Backend, model: str, the_scan: PlanScan, *,
               chunk: int = 1024) -> Iterator[tuple[Item, dict[str, Any], str]]:
    """``(item, payload, key)`` of each pending request, built lazily in design order."""
    pending = the_scan.pending
    if len(pending) == 0:
        return
    identity_json = canonical_json(backend.identity(model))
    positions = pending.tolist()
    n_pending = len(positions)
    j = 0
    pos = 0
    for group in iter_rendered(study, draw=the_scan.draw):
        end = pos + len(group.runs)
        if positions[j] < end:
            runs = []
            while j < n_pending and positions[j] < end:
                runs.append(group.runs[positions[j] - pos])
                j += 1
            yield from backend.group_tasks(group, runs, study, model, identity_json)
            if j >= n_pending:
                return
        pos = end


def choose_draw(study: Study, backend: Backend, model: str, store: Store,
                fresh: bool) -> tuple[int, bool]:
    """The draw to use and whether the store may hold rows of it.

    The latest draw with stored rows (or 0); with ``fresh``, the next unused draw. Draws
    without any row for this backend and model in the store are known empty without
    computing a key; a draw that has rows is checked chunk by chunk, stopping at the first
    chunk with a stored key.
    """
    present = store.draws(backend.name, model)

    def has_rows(d: int) -> bool:
        if d not in present:
            return False
        return any(store.count_present(ch.keys)
                   for ch in iter_chunks(study, backend, model, draw=d))

    if not has_rows(0):
        return 0, False
    current = 0
    for d in range(1, MAX_DRAWS):
        if not has_rows(d):
            return (d, False) if fresh else (current, True)
        current = d
    from .errors import StudyError

    raise StudyError(f"more than {MAX_DRAWS} draws of this study in the store")
