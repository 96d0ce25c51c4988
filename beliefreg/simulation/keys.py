"""Stable hashing: store keys and derived seeds.

One source of truth for how a request is identified. A key is the SHA-256 of the canonical JSON
(sorted keys, no whitespace, no NaN) of everything that determines the request: the backend and
its endpoint, the model, the request payload (messages or prompt, sampling parameters, the
derived seed), the run index and the draw. Credentials never enter a payload.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["canonical_json", "plain", "stable_hash", "derive_seed"]


def plain(value: Any) -> Any:
    """Convert ``value`` to plain JSON types (numpy and pandas scalars included).

    Raises
    ------
    TypeError
        For values without a stable JSON form (objects, NaN floats).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"non-finite float {value!r} has no stable key")
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy / pandas scalars
    if callable(item) and getattr(value, "ndim", 0) == 0:
        return plain(item())
    isoformat = getattr(value, "isoformat", None)  # pandas.Timestamp
    if callable(isoformat):
        return isoformat()
    if isinstance(value, Sequence):
        return [plain(v) for v in value]
    raise TypeError(f"value of type {type(value).__name__} has no stable key: {value!r}")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            allow_nan=False)


def canonical_json(obj: Any) -> str:
    """The canonical JSON text of ``obj`` (sorted keys, compact, UTF-8, no NaN).

    Plain JSON data (dicts with string keys, lists, str, int, float, bool, None) is encoded
    directly by the C encoder; anything else (numpy or pandas scalars, dates, tuples of those)
    is first converted by :func:`plain`. Both give the same text for plain data.
    """
    if _is_shallow_plain(obj):
        try:
            return _ENCODER.encode(obj)
        except (TypeError, ValueError):
            pass
    return _ENCODER.encode(plain(obj))


def _is_shallow_plain(obj: Any) -> bool:
    """Whether the C encoder can take ``obj`` as is: dict keys must be strings at every level
    (the encoder would turn ``True`` or ``None`` keys into ``"true"``/``"null"`` where
    :func:`plain` gives ``"True"``/``"None"``). Other types fail loudly in the encoder."""
    stack = [obj]
    while stack:
        o = stack.pop()
        t = type(o)
        if t is dict:
            for k, v in o.items():
                if type(k) is not str:
                    return False
                if type(v) in (dict, list, tuple):
                    stack.append(v)
        elif t is list or t is tuple:
            for v in o:
                if type(v) in (dict, list, tuple):
                    stack.append(v)
        elif isinstance(o, (dict, list, tuple)):  # subclasses: let plain() decide
            return False
    return True


def stable_hash(obj: Any) -> str:
    """SHA-256 hex digest of :func:`canonical_json` of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()


def derive_seed(*parts: Any) -> int:
    """A 31-bit seed derived from ``parts`` (stable across processes and platforms)."""
    digest = hashlib.sha256(canonical_json(list(parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
