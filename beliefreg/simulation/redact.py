"""Keep credentials out of everything stored or printed.

A server may echo the API key back (in an error message, in the generated text of a
misconfigured proxy, in a debug field). :class:`Redactor` replaces the configured key, any
``Authorization`` header value and any OpenAI-style secret key (``sk-...``) by ``[REDACTED]``
in strings and, recursively, in JSON-like objects (dicts, lists).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["Redactor", "REDACTED"]

REDACTED = "[REDACTED]"

_AUTH = re.compile(r"""(?i)(authorization["']?\s*[:=]\s*["']?)((?:bearer|basic)\s+)?[^\s"',;}]+""")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{6,}")
_SK = re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")


class Redactor:
    """Replace secrets by ``[REDACTED]``.

    Parameters
    ----------
    secrets : iterable of str
        Exact strings to remove (the configured API key). Strings shorter than 6 characters
        are ignored (placeholders such as ``"unused"`` are not secrets worth hiding in text).

    Examples
    --------
    >>> r = Redactor(["my-secret-key"])
    >>> r.text("bad key my-secret-key; Authorization: Bearer abcdefgh")
    'bad key [REDACTED]; Authorization: Bearer [REDACTED]'
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def text(self, value: str) -> str:
        """``value`` with every secret replaced."""
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        value = _AUTH.sub(lambda m: f"{m.group(1)}{m.group(2) or ''}{REDACTED}"
                          if m.group(0)[len(m.group(1)) + len(m.group(2) or ''):] != REDACTED
                          else m.group(0), value)
        value = _BEARER.sub(lambda m: f"{m.group(1)}{REDACTED}", value)
        return _SK.sub(REDACTED, value)

    def obj(self, value: Any) -> Any:
        """A copy of a JSON-like ``value`` with every string redacted (keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.obj(v)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.obj(v) for v in value]
        return value
