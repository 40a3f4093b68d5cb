"""Calls that may block, made from a thread: a test whose call blocks fails instead of hanging the suite."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def in_thread(function: Callable[..., Any], *args: Any, timeout: float = 30, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``'s result or the exception it raised; fails the test if it runs past ``timeout``.

    The thread is a daemon, so a call stuck for good (a FIFO no one writes) cannot keep pytest from exiting.
    """
    outcome: list[Any] = []

    def attempt() -> None:
        try:
            outcome.append(function(*args, **kwargs))
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout=timeout)
    assert outcome, f"{getattr(function, '__name__', function)!s} blocked for over {timeout} s"
    return outcome[0]
