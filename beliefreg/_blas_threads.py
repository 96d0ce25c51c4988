"""One BLAS thread inside the blocked passes over the data, whatever the process was given.

The estimators read the design in row blocks of a few thousand rows and multiply each block by
a vector or by a k x k-sized panel. Products that small do not gain from several BLAS threads;
they lose: OpenBLAS wakes its threads and makes them wait for each other at every call, so on a
2-core machine a Newton pass at 10^6 x 20 took 188 ms with 2 threads against 57 ms with one
(quiet machine), and 15 to 20 times longer with 2 threads when other processes used the cores.
Users rarely pin ``OPENBLAS_NUM_THREADS``, so the passes pin it themselves, only while they
run: :func:`single_blas_thread` limits every BLAS library loaded in the process (numpy's and
scipy's OpenBLAS, MKL, ...) to one thread through ``threadpoolctl`` and restores the previous
limits on exit. The numbers do not depend on it: the blocked products are computed on one
thread whether the process was pinned or not.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any, Callable, Iterator, TypeVar

__all__ = ["single_blas_thread", "with_single_blas_thread"]

_F = TypeVar("_F", bound=Callable[..., Any])

_LOCK = threading.Lock()
_CONTROLLER: Any = None
_LOADED: int = -1
_DEPTH = threading.local()


def _controller() -> Any:
    """A cached ``threadpoolctl.ThreadpoolController``; rebuilt when new libraries appear.

    Building a controller walks the loaded shared libraries (about a millisecond); limiting
    through a cached one costs microseconds. ``sys.modules`` growing is the cheap signal that a
    new BLAS may have been loaded since (scipy.linalg loads its own OpenBLAS).
    """
    global _CONTROLLER, _LOADED
    import sys

    n_modules = len(sys.modules)
    with _LOCK:
        if _CONTROLLER is None or n_modules != _LOADED:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER = ThreadpoolController()
            _LOADED = n_modules
        return _CONTROLLER


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread for the duration of the block; nested uses cost nothing.

    Examples
    --------
    >>> import numpy as np
    >>> from beliefreg._blas_threads import single_blas_thread
    >>> with single_blas_thread():
    ...     float(np.ones((3, 2)).T @ np.ones(3) @ np.ones(2))
    6.0
    """
    depth = getattr(_DEPTH, "value", 0)
    if depth:
        _DEPTH.value = depth + 1
        try:
            yield
        finally:
            _DEPTH.value = depth
        return
    limiter = _controller().limit(limits=1, user_api="blas")
    _DEPTH.value = 1
    try:
        yield
    finally:
        _DEPTH.value = 0
        limiter.restore_original_limits()


def with_single_blas_thread(fn: _F) -> _F:
    """Decorator form of :func:`single_blas_thread`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with single_blas_thread():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
