"""One client per process, for web servers and task queues that fork.

A client's pipes, socket and threads belong to the process that started it;
after ``os.fork()`` (gunicorn ``--preload``, Celery prefork, multiprocessing
with the fork start method) the child must not use it, and it raises
:class:`~codex_sync.CodexForkError` if it tries. :func:`per_process_client`
gives each process its own client, created on first use.
"""

from __future__ import annotations

import os
import threading
from typing import Callable, Optional

from .client import CodexClient


class PerProcessClient:
    """A callable returning this process's client; see :func:`per_process_client`."""

    def __init__(self, factory: Callable[[], CodexClient]) -> None:
        if not callable(factory):
            raise TypeError("factory must be a callable returning a CodexClient")
        self._factory = factory
        self._lock = threading.Lock()
        self._client: Optional[CodexClient] = None
        self._owner = os.getpid()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # the parent's lock may have been held at fork time
        self._client = None  # the parent's: never used, never closed here
        self._owner = os.getpid()

    def __call__(self) -> CodexClient:
        """This process's client, started; created on first use or after it closed or died."""
        client = self._client
        if client is not None and self._owner == os.getpid() and not client.closed:
            return client
        with self._lock:
            client = self._client
            if client is None or self._owner != os.getpid() or client.closed:
                client = self._factory()
                if not isinstance(client, CodexClient):
                    raise TypeError(f"factory returned {type(client).__name__}, not a CodexClient")
                client.start()
                self._client = client
                self._owner = os.getpid()
            return client

    def close(self) -> None:
        """Close this process's client, if any (the next call creates a new one)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._owner == os.getpid():
            client.close()


def per_process_client(factory: Callable[[], CodexClient]) -> PerProcessClient:
    """A getter returning this process's client, created (and started) on first call.

    ``factory`` builds an unstarted client, e.g.
    ``lambda: CodexClient.connect_stdio(request_timeout=30)``. The getter is
    thread-safe; in a forked child it builds a new client instead of using
    the parent's, and it replaces a client that was closed or whose server
    died. Call it from request handlers (not at import time in a preloading
    master); it blocks while the client starts. ``getter.close()`` closes the
    current process's client (for tests and shutdown hooks).
    """
    return PerProcessClient(factory)
