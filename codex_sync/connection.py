"""One JSON-RPC connection: the reader thread, the write lock, pending requests, routing.

The reader thread is a pump and nothing else: it decodes each message and
hands it on (a reply to its waiting caller, a notification to the turn
subscribed to its thread, everything else to a callback that must return at
once). It never runs user code. When the stream ends for any reason, every
waiter and every subscription fails with the same :class:`CodexTransportError`,
and later calls fail at once.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from typing_extensions import Protocol

from . import protocol
from .errors import CodexTimeoutError, CodexTransportError
from .protocol import ErrorReply, Notification, Response, ServerRequest
from .transports.base import MessageCutError, Transport

log = logging.getLogger("codex_sync.connection")

# Waits are cut into slices so that KeyboardInterrupt is seen on every platform. Only the
# main thread gets it: other threads wait in long slices (1,000 blocked callers would
# otherwise wake 4,000 times a second and make every hand-off queue for the GIL).
WAIT_SLICE = 0.25
OTHER_THREAD_SLICE = 5.0


def wait_slice() -> float:
    """How long the calling thread waits at a time: short on the main thread (Ctrl-C), long elsewhere."""
    return WAIT_SLICE if threading.current_thread() is threading.main_thread() else OTHER_THREAD_SLICE

# Messages up to this many characters (at most 4,001 bytes of UTF-8 with the
# newline; a pipe writes up to 4 KiB all or nothing) are written by the caller.
# Longer ones go out on a writer thread that Ctrl-C cannot stop half-way
# (see _Writer).
WHOLE_SEND_CHARS = 1000
# A message that is not a request (a notification, an answer) must be written within this long.
WRITE_TIMEOUT_SECONDS = 60.0


class Subscriber(Protocol):
    """Where the reader delivers the notifications of one codex thread."""

    def deliver(self, message: Notification) -> bool:
        """Take ``message`` (return ``True``) or refuse it (``False``). Must not block."""

    def take_raw_delta(self, data: Union[bytes, str]) -> bool:
        """A delta arrived: keep its line unparsed (``True``), or ``False``: parse it and :meth:`deliver` it.

        Must not block; a delta kept this way counts as activity.
        """

    def fail(self, error: CodexTransportError) -> None:
        """The connection is gone. Must not block."""


ReplyHook = Callable[[Any, Optional[BaseException]], None]


class _Pending:
    """One request waiting for its reply.

    ``done`` is a bare lock taken at creation and released once by whoever
    settles the slot (the reader, or the connection's death): cheaper than an
    Event, which builds a fresh waiter lock on every wait.
    """

    __slots__ = ("done", "settled", "result", "error", "method", "on_reply")

    def __init__(self, method: str, on_reply: Optional[ReplyHook]) -> None:
        self.done = threading.Lock()
        self.done.acquire()
        self.settled = False
        self.result: Any = None
        self.error: Optional[BaseException] = None
        self.method = method
        self.on_reply = on_reply

    def settle(self) -> None:
        """Wake the waiter (call once, with the connection lock held or from the reader)."""
        if not self.settled:
            self.settled = True
            self.done.release()

    def wait(self, timeout: Optional[float]) -> bool:
        """Block until settled or ``timeout``; in slices (:func:`wait_slice`) so that Ctrl-C is seen."""
        first = wait_slice()
        if self.done.acquire(timeout=first if timeout is None else min(first, timeout)):
            return True
        deadline = None if timeout is None else time.monotonic() + timeout - first
        while True:
            slice_ = first
            if deadline is not None:
                slice_ = min(slice_, deadline - time.monotonic())
                if slice_ <= 0:
                    return self.settled
            if self.done.acquire(timeout=slice_):
                return True


class _Writer:
    """The one thread (per connection) that writes big messages; started on first use.

    A big message can take many system calls to go out. Ctrl-C in the
    calling thread between two of them would leave half a line on the stream
    and corrupt every later message. Written here, ``KeyboardInterrupt`` only
    ends the caller's wait: the writer finishes the message, and later
    messages queue behind it.
    """

    def __init__(self, write: Callable[[str, Optional[float]], None]) -> None:
        self._write = write
        self._jobs: queue.SimpleQueue[Optional[Tuple[str, Optional[float], threading.Event, List[BaseException]]]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None

    def send(self, text: str, deadline: Optional[float]) -> None:
        """Queue ``text`` and wait until it went out; raises what the write raised.

        The writer stops at ``deadline`` too; the caller waits a moment
        longer for it to say how the write ended.
        """
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="codex-sync-writer", daemon=True)
                self._thread.start()
        done = threading.Event()
        errors: List[BaseException] = []
        self._jobs.put((text, deadline, done, errors))
        while not done.wait(WAIT_SLICE):
            if deadline is not None and time.monotonic() > deadline + 1.0:
                raise CodexTimeoutError("a message could not be written in time: the app-server is not reading")
        if errors:
            raise errors[0]

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            text, deadline, done, errors = job
            try:
                self._write(text, deadline)
            except BaseException as exc:  # handed to the caller
                errors.append(exc)
            finally:
                done.set()

    def stop(self) -> None:
        """End the thread after the messages already queued. Idempotent."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)


class Connection:
    """A started transport plus the reader thread that serves it.

    ``on_server_talk(message, routed)`` (library code, must not block) sees
    every ``error``/``warning``/``configWarning``/``deprecationNotice``
    notification after it was routed (``routed``: a turn took it).

    Thread-safety: :meth:`request`, :meth:`notify`, :meth:`respond`,
    :meth:`respond_error`, :meth:`subscribe`, :meth:`unsubscribe` and
    :meth:`close` may be called from any thread at any time.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        on_server_request: Callable[[ServerRequest], None],
        on_unrouted: Callable[[Notification], None],
        wants_unrouted_deltas: Callable[[], bool] = lambda: True,
        on_server_talk: Optional[Callable[[Notification, bool], None]] = None,
        on_dropped: Optional[Callable[[CodexTransportError, Dict[str, Subscriber]], bool]] = None,
    ) -> None:
        self._transport = transport
        self._on_server_request = on_server_request
        self._on_unrouted = on_unrouted
        self._wants_unrouted_deltas = wants_unrouted_deltas
        self._on_server_talk = on_server_talk
        self._on_dropped = on_dropped
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pending: Dict[protocol.RequestId, _Pending] = {}
        self._subscribers: Dict[str, Subscriber] = {}
        self._failure: Optional[CodexTransportError] = None
        self._closing_reason: Optional[str] = None
        self._reader: Optional[threading.Thread] = None
        self._writer = _Writer(self._write_whole)
        self.closed_event = threading.Event()

    # -- life cycle -------------------------------------------------------
    def start(self) -> None:
        """Open the transport and start the reader. Raises :class:`CodexTransportError`."""
        self._transport.on_death(self._fail_all)
        self._transport.open()
        self._reader = threading.Thread(target=self._read_loop, name="codex-sync-reader", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        """``True`` until the stream ends or :meth:`close` is called."""
        return self._failure is None and self._closing_reason is None

    @property
    def failure(self) -> Optional[CodexTransportError]:
        """The error every call raises once the connection is gone."""
        return self._failure

    def check_alive(self) -> None:
        """Raise the connection's failure if it has one."""
        if self._failure is not None:
            raise self._failure
        if self._closing_reason is not None:
            raise CodexTransportError(self._closing_reason)

    def close(self, reason: str = "the client was closed") -> None:
        """Close the transport and fail every waiter; idempotent, any thread."""
        with self._lock:
            if self._closing_reason is None:
                self._closing_reason = reason
        self._transport.close()
        self._writer.stop()
        reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=5.0)
        self._fail_all(CodexTransportError(self._closing_reason or reason))

    # -- the reader ---------------------------------------------------------
    def _read_loop(self) -> None:
        transport = self._transport
        decode = protocol.decode
        peek_delta = protocol.peek_delta_thread
        subscribers = self._subscribers
        try:
            while True:
                data = transport.receive()
                if data is None:
                    break
                thread_id = peek_delta(data)  # deltas nobody reads are not even parsed
                if thread_id is not None:
                    subscriber = subscribers.get(thread_id)
                    if subscriber is None:
                        if not self._wants_unrouted_deltas():
                            continue
                    elif subscriber.take_raw_delta(data):
                        continue
                try:
                    if isinstance(data, bytes):  # free the bytes before parsing: 2x, not 3x, a huge line
                        data = data.decode("utf-8")
                    message = decode(data)
                except UnicodeDecodeError as exc:
                    log.warning("skipping a message that is not UTF-8: %s", exc)
                    continue
                except protocol.DecodeError as exc:
                    if data.strip():
                        log.warning("skipping a message that is not JSON-RPC: %s", exc)
                    continue
                try:
                    self._dispatch(message)
                except Exception:  # a bug here must not kill the pump
                    log.exception("error while dispatching %r", message)
        except BaseException as exc:  # pragma: no cover - interpreter shutdown, etc.
            log.debug("reader stopped: %r", exc)
        finally:
            reason = self._closing_reason or "the app-server closed the connection"
            dropped = self._on_dropped if self._closing_reason is None else None
            self._fail_all(transport.failure(reason), dropped)

    def _dispatch(self, message: protocol.Message) -> None:
        kind = type(message)
        if kind is Notification:
            assert isinstance(message, Notification)
            thread_id = message.thread_id
            subscriber = self._subscribers.get(thread_id) if thread_id else None
            routed = subscriber is not None and subscriber.deliver(message)
            if not routed:
                self._on_unrouted(message)
            if message.method in protocol.SERVER_TALK and self._on_server_talk is not None:
                self._on_server_talk(message, routed)
        elif kind is Response or kind is ErrorReply:
            assert isinstance(message, (Response, ErrorReply))
            with self._lock:
                slot = self._pending.pop(message.id, None)
            if slot is None:
                log.warning("reply to unknown request id %r ignored", message.id)
                return
            if isinstance(message, ErrorReply):
                slot.error = protocol.error_from_reply(message, slot.method)
            else:
                slot.result = message.result
            if slot.on_reply is not None:
                try:
                    slot.on_reply(slot.result, slot.error)
                except Exception:  # pragma: no cover - library hooks only
                    log.exception("reply hook of %s failed", slot.method)
            slot.settle()
        else:
            assert isinstance(message, ServerRequest)
            self._on_server_request(message)

    def _fail_all(
        self,
        error: CodexTransportError,
        dropped: Optional[Callable[[CodexTransportError, Dict[str, Subscriber]], bool]] = None,
    ) -> None:
        """Fail every pending request, and every subscriber unless ``dropped`` takes them over.

        ``dropped(error, subscribers)`` (a reconnecting session) returns
        ``True`` when it will re-home the subscribers on a new connection.
        """
        with self._lock:
            if self._failure is None:
                self._failure = error
            error = self._failure
            pending = list(self._pending.values())
            self._pending.clear()
            by_thread = dict(self._subscribers)
            self._subscribers.clear()
        subscribers = list(by_thread.values())
        for slot in pending:
            slot.error = error
            if slot.on_reply is not None:
                try:
                    slot.on_reply(None, error)
                except Exception:  # pragma: no cover - library hooks only
                    log.exception("reply hook of %s failed", slot.method)
            slot.settle()
        if dropped is not None:
            try:
                if dropped(error, by_thread):
                    subscribers = []
            except Exception:  # pragma: no cover - library hooks only
                log.exception("reconnect hook failed")
        for subscriber in subscribers:
            try:
                subscriber.fail(error)
            except Exception:  # pragma: no cover
                log.exception("subscriber failed to take the connection error")
        self.closed_event.set()

    # -- writing ------------------------------------------------------------
    def _send(self, text: str, deadline: Optional[float]) -> None:
        """Write one message by ``deadline`` (a :func:`time.monotonic` value; ``None``: the default)."""
        self.check_alive()
        if deadline is None:
            deadline = time.monotonic() + WRITE_TIMEOUT_SECONDS
        try:
            if len(text) <= WHOLE_SEND_CHARS:
                self._write_whole(text, deadline)
            else:
                self._writer.send(text, deadline)
        except UnicodeEncodeError as exc:  # raised before a byte is written
            bad = exc.object[exc.start:exc.end]
            raise ValueError(
                f"cannot send a string holding {bad!r}: a lone surrogate is not UTF-8 (os.fsdecode "
                "makes them of file names that are not UTF-8); clean it first, e.g. "
                "text.encode('utf-8', 'replace').decode('utf-8')"
            ) from exc

    def _write_whole(self, text: str, deadline: Optional[float]) -> None:
        wait = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._write_lock.acquire(timeout=wait):
            raise CodexTimeoutError("another message is still being written: the app-server is not reading")
        cut: Optional[MessageCutError] = None
        try:
            self._transport.send_within(text, deadline)
        except MessageCutError as exc:
            cut = exc
            raise
        finally:
            self._write_lock.release()
            if cut is not None:  # every later message would be garbled: end the connection
                self.close(str(cut))

    def request(
        self,
        method: str,
        params: Optional[protocol.JsonDict],
        timeout: Optional[float],
        on_reply: Optional[ReplyHook] = None,
    ) -> Any:
        """Send a request and block until its reply, for at most ``timeout`` seconds.

        ``on_reply(result, error)`` (library code only, never user code) runs
        on the reader with the reply before any later message is handled, or
        with the connection's error when it dies first. When it is given, a
        caller that stops waiting (a timeout, Ctrl-C) leaves the request
        pending, so that the hook still learns how it ended.

        Raises :class:`CodexProtocolError` for an error reply,
        :class:`CodexTimeoutError` at the deadline, :class:`CodexTransportError`
        as soon as the connection dies, :class:`TypeError`/:class:`ValueError`
        (nothing sent) if ``params`` cannot be encoded. Ctrl-C is delivered
        within a slice.
        """
        slot = _Pending(method, on_reply)
        request_id = next(self._ids)
        text = protocol.encode_request(request_id, method, params)
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._pending[request_id] = slot
        try:
            self._send(text, deadline if deadline is not None else time.monotonic() + WRITE_TIMEOUT_SECONDS)
        except BaseException:
            self._forget(request_id)
            raise
        try:
            if not slot.wait(None if deadline is None else max(0.0, deadline - time.monotonic())):
                raise CodexTimeoutError(f"{method}: no reply within {timeout:g}s")
        except BaseException:
            if on_reply is None:
                self._forget(request_id)
            raise
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _forget(self, request_id: protocol.RequestId) -> None:
        with self._lock:
            self._pending.pop(request_id, None)

    def notify(self, method: str, params: Optional[protocol.JsonDict] = None) -> None:
        """Send a notification. Raises :class:`CodexTransportError` if the connection is gone."""
        self._send(protocol.encode_notification(method, params), None)

    def respond(self, request_id: protocol.RequestId, result: Any) -> None:
        """Answer a server request with ``result``."""
        self._send(protocol.encode_result(request_id, result), None)

    def respond_error(self, request_id: protocol.RequestId, code: int, message: str) -> None:
        """Answer a server request with a JSON-RPC error."""
        self._send(protocol.encode_error(request_id, code, message), None)

    # -- routing ------------------------------------------------------------
    def subscribe(self, thread_id: str, subscriber: Subscriber) -> None:
        """Route the notifications of ``thread_id`` to ``subscriber`` (one per thread)."""
        with self._lock:
            if self._failure is not None:
                error = self._failure
            else:
                self._subscribers[thread_id] = subscriber
                return
        subscriber.fail(error)

    def unsubscribe(self, thread_id: str, subscriber: Subscriber) -> None:
        """Stop routing ``thread_id`` to ``subscriber`` (no-op if it is not the one)."""
        with self._lock:
            if self._subscribers.get(thread_id) is subscriber:
                del self._subscribers[thread_id]
