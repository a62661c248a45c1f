"""Thread-based stand-ins for the few ``asyncio`` names that ported seed code uses.

The porter (``porter.py``) rewrites ``import asyncio`` in seed code to
``import _seed_rt as asyncio`` and copies this file next to the ported files
as ``_seed_rt.py``, so that ``asyncio.X`` names it does not rewrite by itself
land here. Every coroutine has become a plain call by then, so a "task" is a
call running on a daemon thread and "awaiting" it waits for its result.

This module must import nothing from the repository: ported files run from a
cache directory in a subprocess.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import queue
import threading
import time
from typing import Any, Callable, Iterator, List, Optional


class CancelledError(Exception):
    """Raised when the result of a cancelled task is asked for."""


TimeoutError = TimeoutError  # asyncio.TimeoutError is the builtin one since Python 3.11


class Task:
    """A call running on a daemon thread: ``asyncio.create_task`` after the port."""

    def __init__(self, call: Callable[[], Any], name: Optional[str] = None) -> None:
        self._future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._cancelled = False
        self._thread = threading.Thread(target=self._run, args=(call,), name=name or "seed-task", daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            value = call()
        except BaseException as exc:  # handed to whoever asks for the result
            if not self._future.done():
                self._future.set_exception(exc)
        else:
            if not self._future.done():
                self._future.set_result(value)

    def cancel(self) -> bool:
        """Mark the task cancelled (its thread cannot be stopped; it is a daemon)."""
        self._cancelled = True
        return True

    def cancelled(self) -> bool:
        return self._cancelled

    def done(self) -> bool:
        return self._cancelled or self._future.done()

    def result(self, timeout: Optional[float] = None) -> Any:
        if self._cancelled:
            raise CancelledError()
        return self._future.result(timeout)

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        if self._cancelled:
            raise CancelledError()
        return self._future.exception(timeout)

    def add_done_callback(self, callback: Callable[[Task], Any]) -> None:
        self._future.add_done_callback(lambda _future: callback(self))


def settle(value: Any, timeout: Optional[float] = None) -> Any:
    """What ``await value`` gives once every coroutine is a plain call: a task's result, else the value."""
    if isinstance(value, Task):
        return value.result(timeout)
    if isinstance(value, concurrent.futures.Future):
        return value.result(timeout)
    return value


def create_task(call: Callable[[], Any], *, name: Optional[str] = None, **_ignored: Any) -> Task:
    """``asyncio.create_task(coro())`` after the port: ``create_task(lambda: coro())``."""
    return Task(call, name)


ensure_future = create_task


def gather(*calls: Any, return_exceptions: bool = False) -> List[Any]:
    """``asyncio.gather(a(), b())`` after the port: ``gather(lambda: a(), lambda: b())``.

    Each argument is a callable (run on its own thread) or a task (waited for).
    Results come back in argument order; the first exception is raised unless
    ``return_exceptions``.
    """
    tasks = [call if isinstance(call, Task) else Task(call) if callable(call) else call for call in calls]
    results: List[Any] = []
    for task in tasks:
        try:
            value = settle(task)
            results.append(settle(value))
        except BaseException as exc:
            if not return_exceptions:
                raise
            results.append(exc)
    return results


def wait_for(call: Any, timeout: Optional[float]) -> Any:
    """``asyncio.wait_for(x, t)`` after the port: ``wait_for(lambda: x, t)``.

    Runs the call on a thread and raises :class:`TimeoutError` if it has not
    returned after ``timeout`` seconds (the thread is left running).
    """
    task = call if isinstance(call, Task) else Task(call) if callable(call) else call
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        value = settle(task, timeout)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        return settle(value, remaining)
    except concurrent.futures.TimeoutError as exc:
        raise TimeoutError(f"no result within {timeout}s") from exc


def run(value: Any, **_ignored: Any) -> Any:
    """``asyncio.run(main())`` after the port is ``main()``: the value is already there."""
    return settle(value)


def sleep(seconds: float, result: Any = None) -> Any:
    time.sleep(seconds)
    return result


@contextlib.contextmanager
def timeout(_seconds: Optional[float]) -> Iterator[None]:
    """``asyncio.timeout(t)``: a blocking call cannot be cut short, so this only marks the block."""
    yield


class Queue(queue.Queue):  # type: ignore[type-arg]
    """``asyncio.Queue`` with a blocking ``get``."""


Lock = threading.Lock
Event = threading.Event


class _Loop:
    def time(self) -> float:
        return time.monotonic()


def get_running_loop() -> _Loop:
    return _Loop()


get_event_loop = get_running_loop
