"""The backend interface shared by the local and OpenAI(-compatible) backends.

A backend turns a design :class:`~beliefreg.simulation.design.Item` into a JSON payload (which,
with the backend's identity, determines the store key), sends a payload and returns a
:class:`Reply`, and later reads a stored response into an :class:`Outcome` (choice and belief).
Reading happens when the panel is built, so a stored response can be re-read with another
pivot strategy or choice set without sending anything again, where the backend allows it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..design import Item, QuestionBlock, Rendered
    from ..pricing import Price
    from ..store import Store
    from ..study import Study

__all__ = ["Backend", "Reply", "Outcome", "outcome_from_result"]


@dataclass(frozen=True)
class Reply:
    """A successful response: the JSON to store and its token usage."""

    response: dict[str, Any]
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True)
class Outcome:
    """Choice and belief of one stored response (the panel's per-row fields)."""

    choice: str | None
    belief: dict[str, float]
    covered_mass: float
    missing_mass: float
    pivot_index: int | None
    pivot_token: str | None
    pivot_method: str | None
    belief_method: str | None
    belief_reason: str | None
    raw_text: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def failed(cls, alternatives: list[str], raw_text: str | None = None,
               reason: str | None = None) -> Outcome:
        """NaN beliefs, no choice (an error row or an unreadable response)."""
        return cls(choice=None, belief={a: math.nan for a in alternatives},
                   covered_mass=math.nan, missing_mass=math.nan, pivot_index=None,
                   pivot_token=None, pivot_method=None, belief_method=None,
                   belief_reason=reason, raw_text=raw_text)


class Backend(ABC):
    """Base class of simulator backends.

    Subclasses set ``name`` (the ``backend`` column), ``paid`` (whether a run costs money, so
    that an estimate is shown first) and ``max_concurrency`` (None: no limit of its own).
    """

    name: str = "backend"
    paid: bool = False
    max_concurrency: int | None = None
    default_concurrency: int = 1

    # -- identity and payloads -----------------------------------------------------------------
    @abstractmethod
    def resolve_model(self, model: str | None) -> str:
        """The model name to record (the backend's default when ``model`` is None)."""

    @abstractmethod
    def identity(self, model: str) -> dict[str, Any]:
        """What identifies the endpoint and model in the store key (never a credential)."""

    @abstractmethod
    def build_payload(self, item: Item, study: Study, model: str) -> dict[str, Any]:
        """The JSON-serialisable request for ``item``; it must fix every sampling parameter."""

    def prompt_text(self, payload: dict[str, Any]) -> str:
        """The text the model reads (for token estimates)."""
        return str(payload)

    def seconds_per_request(self, study: Study) -> float | None:
        """Expected seconds per request (for ``--dry-run``), or None when unknown."""
        return None

    def layout_of(self, study: Study) -> str:
        """The prompt layout the backend uses for ``study`` (``'completion'`` or ``'chat'``;
        recorded in the panel's ``layout`` column)."""
        return study.layout or "chat"

    def request_keys(self, groups: Sequence[Rendered], study: Study, model: str,
                     identity_json: str) -> tuple[list[str], list[int]]:
        """Store keys and estimated input tokens of every run of ``groups``, in order
        (planning's inner loop).

        The default builds every payload; a backend may override it with a faster computation
        that gives the same keys (the OpenAI backend hashes the text shared by the runs of a
        condition once).
        """
        from ..planning import payload_input_tokens, request_key

        keys, tokens = [], []
        for group in groups:
            for item in group.items():
                payload = self.build_payload(item, study, model)
                keys.append(request_key(identity_json, payload, item.run, item.draw))
                tokens.append(payload_input_tokens(self, payload))
        return keys, tokens

    def group_tasks(self, group: Rendered, runs: Sequence[int], study: Study, model: str,
                    identity_json: str) -> list[tuple[Item, dict[str, Any], str]]:
        """``(item, payload, key)`` of the runs ``runs`` of ``group`` (the sending loop's
        inner step, :func:`~beliefreg.simulation.planning.iter_tasks`).

        The default builds each payload and hashes it; a backend may override it with a
        faster computation that gives the same payloads and keys (a test checks the OpenAI
        backend's)."""
        from ..design import _item
        from ..planning import request_key

        out = []
        for run in runs:
            item = _item(group.condition_id, run, group.draw, group.variables,
                         group.choice_order, group.system, group.question, group.examples)
            payload = self.build_payload(item, study, model)
            out.append((item, payload, request_key(identity_json, payload, run, group.draw)))
        return out

    def keys_from_questions(self, study: Study) -> bool:
        """Whether :meth:`question_digests` is faster than :meth:`request_keys` for ``study``
        (planning then expands the design as question blocks)."""
        return False

    def question_digests(self, block: QuestionBlock, study: Study, model: str,
                         identity_json: str) -> tuple[bytes, Sequence[int]]:
        """The store keys of every request of ``block`` (see
        :func:`~beliefreg.simulation.design.iter_question_blocks`) as raw SHA-256 digests
        (32 bytes each, concatenated, in design order; the key is their hex form), and the
        estimated input tokens; the same keys as :meth:`request_keys` of the equivalent
        groups. The default builds the groups."""
        from ..design import Rendered, choice_labels

        order = tuple(choice_labels(study.choices))
        groups = [Rendered(block.start + i, block.runs, block.draw, {}, order, block.system,
                           q, block.examples) for i, q in enumerate(block.questions)]
        keys, tokens = self.request_keys(groups, study, model, identity_json)
        return bytes.fromhex("".join(keys)), tokens

    def question_keys(self, block: QuestionBlock, study: Study, model: str,
                      identity_json: str) -> tuple[list[str], Sequence[int]]:
        """:meth:`question_digests` with the keys as hex strings."""
        from ..planning import digest_keys

        digests, tokens = self.question_digests(block, study, model, identity_json)
        return digest_keys(digests), tokens

    # -- lifecycle -----------------------------------------------------------------------------
    def check_ready(self) -> None:
        """Raise :class:`~beliefreg.simulation.errors.BackendError` if this backend cannot
        send at all (a client library not installed, no API key).

        Called before a run prints its plan or cost, opens a progress bar or sends anything,
        and only when there is something to send (a run answered from the store needs none).
        """

    async def open(self, model: str, study: Study, store: Store) -> None:
        """Prepare to send (load a model, probe a server). Called once, only if sending."""

    @abstractmethod
    async def send(self, payload: dict[str, Any], model: str) -> Reply:
        """Send one request. Raise :class:`~beliefreg.simulation.errors.RequestFailed`."""

    async def close(self) -> None:
        """Release connections."""

    # -- reading -------------------------------------------------------------------------------
    @abstractmethod
    def read(self, response: dict[str, Any], study: Study) -> Outcome:
        """Choice and belief from a stored response. Must not raise on bad data."""

    def price(self, model: str) -> Price | None:
        """USD per million tokens, or None when unknown."""
        return None


def outcome_from_result(result: Any, *, raw_text: str | None,
                        belief_method: str | None = None) -> Outcome:
    """An :class:`Outcome` from a :class:`beliefreg.belief.BeliefResult`."""
    return Outcome(
        choice=result.choice,
        belief=dict(result.belief),
        covered_mass=float(result.covered_mass),
        missing_mass=float(result.missing_mass),
        pivot_index=result.pivot_index,
        pivot_token=result.pivot_token,
        pivot_method=result.pivot_method,
        belief_method=belief_method or result.source,
        belief_reason=result.reason,
        raw_text=raw_text,
        extra={"flags": ",".join(str(f) for f in result.flags)},
    )
