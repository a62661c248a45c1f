"""Server requests waiting for a person: the feeds behind ``approval_requests()``
and ``user_input_requests()``, and the clock that gives up on unanswered questions.

A :class:`RequestFeed` is a queue of server requests that any number of
iterators, in any threads, take from (each request goes to one of them, as
from the async SDK's queue). It never blocks the reader, which puts into it;
it keeps at most :data:`FEED_LIMIT` requests nobody has taken (dropping the
oldest with a warning); its iterators end once it is closed and empty.

:class:`Expiry` answers a held question with an error once its time is up,
on one thread per client (``codex-sync-expiry``), started by the first
question held with a finite timeout.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from typing import Callable, Deque, Generic, Iterator, List, Optional, Tuple, TypeVar

log = logging.getLogger("codex_sync.pending")

FEED_LIMIT = 1000
_SLICE = 0.25  # waits are sliced so that Ctrl-C is seen on every platform

T = TypeVar("T")


class RequestFeed(Generic[T]):
    """A queue of requests for ``approval_requests()``/``user_input_requests()`` iterators."""

    def __init__(self, what: str, limit: int = FEED_LIMIT) -> None:
        self._what = what
        self._items: Deque[T] = deque()
        self._limit = limit
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        self._warned = False

    def put(self, item: T) -> None:
        """Queue ``item`` (on the reader: never blocks). Ignored once closed."""
        with self._cond:
            if self._closed:
                return
            if len(self._items) >= self._limit:
                self._items.popleft()
                if not self._warned:
                    self._warned = True
                    log.warning("over %d %s nobody has taken from %s(): dropping the oldest",
                                self._limit, self._what, self._what)
            self._items.append(item)
            self._cond.notify()

    def close(self) -> None:
        """End every iterator once it has taken what is queued. Idempotent, any thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def take(self) -> Optional[T]:
        """Block until a request is queued and return it; ``None`` once closed and empty.

        Waits in slices, so Ctrl-C interrupts it. Any thread.
        """
        with self._cond:
            while not self._items:
                if self._closed:
                    return None
                self._cond.wait(_SLICE)
            return self._items.popleft()

    def iterate(self) -> Iterator[T]:
        """An iterator that takes requests until the feed is closed (see :class:`FeedIterator`)."""
        return FeedIterator(self)


class FeedIterator(Iterator[T]):
    """Takes requests from a :class:`RequestFeed`; ``next()`` blocks, and may be called from any thread.

    It stops when the client is closed and nothing is left to take.
    """

    def __init__(self, feed: RequestFeed[T]) -> None:
        self._feed = feed

    def __iter__(self) -> FeedIterator[T]:
        return self

    def __next__(self) -> T:
        item = self._feed.take()
        if item is None:
            raise StopIteration
        return item


class Expiry:
    """Runs a callback at a deadline unless it was cancelled; one thread, started on first use."""

    def __init__(self) -> None:
        self._heap: List[Tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._cond = threading.Condition(threading.Lock())
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    def at(self, seconds: float, callback: Callable[[], None]) -> None:
        """Run ``callback()`` (on the expiry thread) ``seconds`` from now. Any thread; never blocks."""
        with self._cond:
            if self._closed:
                return
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._order), callback))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="codex-sync-expiry", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        callback = heapq.heappop(self._heap)[2]
                        break
                    wait = self._heap[0][0] - now if self._heap else None
                    self._cond.wait(wait)
            try:
                callback()
            except Exception:  # a callback must not end the thread
                log.exception("expiry callback failed")

    def close(self) -> None:
        """Stop the thread (joined, 2 s at most); callbacks not run yet are dropped. Idempotent, any thread."""
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)
