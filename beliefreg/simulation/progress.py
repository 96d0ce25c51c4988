"""The progress bar: done, cached and failed counts and the running cost.

Uses ``tqdm`` (the ``report`` extra) when installed; otherwise prints one line when the run ends.
"""

from __future__ import annotations

import math
import sys
from typing import Any

__all__ = ["Progress"]


class Progress:
    """Progress of one run.

    Parameters
    ----------
    total : int
        Requests of the study.
    cached : int
        Requests already answered in the store (shown as done from the start).
    enabled : bool
        Show a bar (``False``: stay silent).
    desc : str
        Label of the bar.
    """

    def __init__(self, total: int, cached: int, *, enabled: bool, desc: str = "simulate") -> None:
        self.total = total
        self.cached = cached
        self.ok = 0
        self.failed = 0
        self.elsewhere = 0
        self.cost = 0.0
        self.cost_known = True
        self.enabled = enabled
        self._bar: Any = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ModuleNotFoundError:  # pragma: no cover - tqdm is in the report extra
                self._bar = None
            else:
                self._bar = tqdm(total=total, initial=cached, desc=desc, unit="req",
                                 dynamic_ncols=True, file=sys.stderr)
                self._refresh()

    def _postfix(self) -> dict[str, str]:
        cost = f"${self.cost:,.4f}" if self.cost_known else "n/a"
        out = {"done": str(self.ok), "cached": str(self.cached), "failed": str(self.failed),
               "cost": cost}
        if self.elsewhere:
            out["other process"] = str(self.elsewhere)
        return out

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix(self._postfix(), refresh=False)

    def update(self, *, ok: bool, cost: float | None, elsewhere: bool = False) -> None:
        """Count one finished request (``ok=False``: stored as an error; ``elsewhere``:
        answered by another process on the same store)."""
        if elsewhere:
            self.elsewhere += 1
            if self._bar is not None:
                self._refresh()
                self._bar.update(1)
            return
        if ok:
            self.ok += 1
        else:
            self.failed += 1
        if cost is None or (isinstance(cost, float) and math.isnan(cost)):
            if ok:
                self.cost_known = False
        else:
            self.cost += cost
        if self._bar is not None:
            self._refresh()
            self._bar.update(1)

    def note(self, message: str) -> None:
        """Print a message without breaking the bar."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._refresh()
            self._bar.close()
        elif self.enabled:
            p = self._postfix()
            print(f"simulate: {p['done']} done, {p['cached']} cached, {p['failed']} failed, "
                  f"cost {p['cost']}", file=sys.stderr)
