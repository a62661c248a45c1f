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


def per_process_client(factory: Callable[[], CodexClient]) -> Callable[[], CodexClient]:
    """A getter returning this process's client, created (and started) on first call.

    ``factory`` builds an unstarted client, e.g.
    ``lambda: CodexClient.connect_stdio(request_timeout=30)``. The getter is
    thread-safe; in a forked child it builds a new client instead of using
    the parent's, and it replaces a client that was closed or whose server
    died. Call it from request handlers (not at import time in a preloading
    master); it blocks while the client starts.
    """
    if not callable(factory):
        raise TypeError("factory must be a callable returning a CodexClient")
    lock = threading.Lock()
    current: list[Optional[CodexClient]] = [None]
    owner = [os.getpid()]

    def _after_fork_in_child() -> None:
        nonlocal lock
        lock = threading.Lock()  # the parent's lock may have been held at fork time
        current[0] = None
        owner[0] = os.getpid()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)

    def get() -> CodexClient:
        client = current[0]
        if client is not None and owner[0] == os.getpid() and not client.closed:
            return client
        with lock:
            client = current[0]
            if client is None or owner[0] != os.getpid() or client.closed:
                client = factory()
                if not isinstance(client, CodexClient):
                    raise TypeError(f"factory returned {type(client).__name__}, not a CodexClient")
                client.start()
                current[0] = client
                owner[0] = os.getpid()
            return client

    return get
