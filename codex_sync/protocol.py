"""The JSON-RPC wire format of codex app-server, with no I/O and no threads.

The server speaks JSON-RPC 2.0 and does not need the ``"jsonrpc"`` key; we
send it (``"2.0"``) on every message, as the async SDK does, and accept
messages with or without it. One JSON object per line on stdio, one per text
frame on a websocket. This module turns one such message into a typed value
(:func:`decode`) and our messages into text (``encode_*``). Everything here is pure and safe from any thread.
"""

from __future__ import annotations

import json
import json.decoder
import json.encoder
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .errors import CodexOverloadedError, CodexProtocolError

JsonDict = Dict[str, Any]
RequestId = Union[int, str]

# JSON-RPC error codes the server uses (PROTOCOL.md §4).
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_OVERLOADED = -32001

# Method names the library itself sends or interprets.
INITIALIZE = "initialize"
INITIALIZED = "initialized"
THREAD_START = "thread/start"
THREAD_RESUME = "thread/resume"
THREAD_FORK = "thread/fork"
THREAD_READ = "thread/read"
THREAD_LIST = "thread/list"
THREAD_NAME_SET = "thread/name/set"
THREAD_ARCHIVE = "thread/archive"
THREAD_UNARCHIVE = "thread/unarchive"
THREAD_REVERT = "thread/revert"
THREAD_COMPACT_START = "thread/compact/start"
THREAD_UNSUBSCRIBE = "thread/unsubscribe"
THREAD_TURNS_LIST = "thread/turns/list"
THREAD_LOADED_LIST = "thread/loaded/list"
THREAD_CLOSED = "thread/closed"
TURN_START = "turn/start"
TURN_STEER = "turn/steer"
TURN_INTERRUPT = "turn/interrupt"
REVIEW_START = "review/start"
MODEL_LIST = "model/list"
COMMAND_EXEC = "command/exec"
CONFIG_READ = "config/read"
CONFIG_REQUIREMENTS_READ = "configRequirements/read"
CONFIG_VALUE_WRITE = "config/value/write"
CONFIG_BATCH_WRITE = "config/batchWrite"
TURN_STARTED = "turn/started"
TURN_COMPLETED = "turn/completed"
ITEM_STARTED = "item/started"
ITEM_COMPLETED = "item/completed"
ERROR_NOTIFICATION = "error"
TOKEN_USAGE_UPDATED = "thread/tokenUsage/updated"
SERVER_REQUEST_RESOLVED = "serverRequest/resolved"
# What the server says about trouble: logged, kept in the turn's events, and given to listeners.
SERVER_TALK = frozenset({ERROR_NOTIFICATION, "warning", "configWarning", "deprecationNotice"})

# Notifications that carry live text, and the step type that text belongs to.
DELTA_KINDS = {
    "item/agentMessage/delta": "codex",
    "item/reasoning/summaryTextDelta": "thinking",
    "item/reasoning/textDelta": "thinking",
    "item/commandExecution/outputDelta": "exec",
    "item/fileChange/outputDelta": "file",
    "item/plan/delta": "plan",
}
# All live-progress notifications (a new summary part carries no text of its own).
DELTA_METHODS = frozenset(DELTA_KINDS) | {"item/reasoning/summaryPartAdded"}
# The method of a DeltaRun among a turn's events (not a server method).
DELTA_RUN = "codex_sync/deltaRun"
_EMPTY: JsonDict = {}  # (a DeltaRun's params and raw: shared, never written)


_DELTA_PREFIXES_TEXT = tuple('{"method":"' + m + '","params":{"threadId":"' for m in sorted(DELTA_METHODS))
_DELTA_PREFIXES_BYTES = tuple(p.encode() for p in _DELTA_PREFIXES_TEXT)


def peek_delta_thread(data: Union[bytes, str]) -> Optional[str]:
    """The ``threadId`` of a delta notification, read without parsing the message.

    Only the server's own layout is recognised (``{"method":"<delta>","params":
    {"threadId":"…"``); anything else returns ``None`` and must go through
    :func:`decode`. A quote cannot occur unescaped inside a JSON string, so
    the id ends at the next ``"``.
    """
    if isinstance(data, bytes):
        if not data.startswith(_DELTA_PREFIXES_BYTES):
            return None
        start = data.index(b'"threadId":"') + 12
        end = data.find(b'"', start)
        if end <= start:
            return None
        try:
            return data[start:end].decode()  # (no error handler named: twice as fast)
        except UnicodeDecodeError:
            return data[start:end].decode("utf-8", "replace")
    if not data.startswith(_DELTA_PREFIXES_TEXT):
        return None
    start = data.index('"threadId":"') + 12
    end = data.find('"', start)
    return data[start:end] if end > start else None


class DecodeError(ValueError):
    """A line or frame is not a JSON-RPC message the client can use."""


class Response:
    """A successful reply to one of our requests."""

    __slots__ = ("id", "result")

    def __init__(self, id: RequestId, result: Any) -> None:
        self.id = id
        self.result = result

    def __repr__(self) -> str:
        return f"Response(id={self.id!r})"


class ErrorReply:
    """An error reply to one of our requests."""

    __slots__ = ("id", "code", "message", "data")

    def __init__(self, id: RequestId, code: int, message: str, data: Any) -> None:
        self.id = id
        self.code = code
        self.message = message
        self.data = data

    def __repr__(self) -> str:
        return f"ErrorReply(id={self.id!r}, code={self.code}, message={self.message!r})"


class Notification:
    """A message from the server that expects no answer.

    ``raw`` is the whole decoded object (it also carries ``emittedAtMs``).
    """

    __slots__ = ("method", "params", "raw")

    def __init__(self, method: str, params: JsonDict, raw: JsonDict) -> None:
        self.method = method
        self.params = params
        self.raw = raw

    @property
    def thread_id(self) -> Optional[str]:
        """The ``threadId`` this notification is about, if it names one."""
        value = self.params.get("threadId")
        if value is None:
            thread = self.params.get("thread")
            if isinstance(thread, dict):
                value = thread.get("id")
        return value if isinstance(value, str) else None

    @property
    def turn_id(self) -> Optional[str]:
        """The ``turnId`` this notification is about, if it names one."""
        value = self.params.get("turnId")
        if value is None:
            turn = self.params.get("turn")
            if isinstance(turn, dict):
                value = turn.get("id")
        return value if isinstance(value, str) else None

    def __repr__(self) -> str:
        return f"Notification({self.method!r})"


class DeltaRun(Notification):
    """A run of delta notifications nobody reads live, kept as the lines they came in.

    The reader puts one among a turn's events when a delta arrives and no
    reader wants deltas, and appends the following deltas' lines to it
    (``lines``, bytes from stdio or text from a websocket) for as long as it
    is the turn's last event; anything else arriving ends the run. So a
    20,000-delta answer costs a list of lines, not 20,000 parsed messages;
    ``raw_events`` parses a line only when it is read, and a late reader
    with ``on_delta`` decodes them then. As a notification it has the
    method :data:`DELTA_RUN` and empty params.
    """

    __slots__ = ("lines",)

    def __init__(self, first: Union[bytes, str]) -> None:
        Notification.__init__(self, DELTA_RUN, _EMPTY, _EMPTY)
        self.lines = [first]

    def __repr__(self) -> str:
        return f"DeltaRun({len(self.lines)} lines)"


class ServerRequest:
    """A request from the server: it waits (for ever) until we answer ``id``."""

    __slots__ = ("id", "method", "params", "raw")

    def __init__(self, id: RequestId, method: str, params: JsonDict, raw: JsonDict) -> None:
        self.id = id
        self.method = method
        self.params = params
        self.raw = raw

    def __repr__(self) -> str:
        return f"ServerRequest(id={self.id!r}, method={self.method!r})"


Message = Union[Response, ErrorReply, Notification, ServerRequest]


def id_in_result(result: Any, kind: str) -> Optional[str]:
    """The id of the ``kind`` (``"thread"`` or ``"turn"``) a result names, or ``None``.

    Today's server sends ``{"<kind>": {"id": …}}``; ``{"<kind>Id": …}`` and
    ``{"<kind>_id": …}`` (the async SDK's test fakes) are read too. Pure.
    """
    if not isinstance(result, dict):
        return None
    nested = result.get(kind)
    value = nested.get("id") if isinstance(nested, dict) else None
    if value is None:
        value = result.get(kind + "Id", result.get(kind + "_id"))
    return value if isinstance(value, str) and value else None


def required_id(result: Any, kind: str, method: str) -> str:
    """:func:`id_in_result`, or :class:`CodexProtocolError` naming ``method`` when the result has none."""
    found = id_in_result(result, kind)
    if found is None:
        raise CodexProtocolError(f"{method} answered without a {kind} id: {str(result)[:200]}", method=method)
    return found


def _valid_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


# The C scanner that json.loads ends in (an attribute typeshed does not list).
_scan: Callable[[str, int], Tuple[Any, int]] = json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _loads(data: Union[bytes, str]) -> Any:
    """``json.loads``, minus its three Python layers for the usual line.

    A line that starts with its value and has nothing but whitespace after
    it is scanned directly (about half the time of ``json.loads`` for a
    small message). Anything else, bytes included, goes through
    ``json.loads``, which raises its usual error.
    """
    if isinstance(data, str):
        try:
            obj, end = _scan(data, 0)
        except StopIteration:  # no value at index 0 (blank, leading space, BOM, junk)
            return json.loads(data)
        if end == len(data) or not data[end:].strip(" \t\n\r"):  # JSON whitespace only
            return obj
    return json.loads(data)


def parse_line(data: Union[bytes, str]) -> Any:
    """One line or frame as its JSON value (UTF-8 bytes or text). Raises ``ValueError``."""
    return _loads(data.decode() if isinstance(data, bytes) else data)


def parse_lines(lines: Sequence[Union[bytes, str]]) -> List[Any]:
    """Many lines or frames as their JSON values, in one parse when all are valid.

    Joined into one JSON array (one call into the C scanner instead of one
    per line); if that fails, line by line, leaving out the lines that are
    not JSON. Pure.
    """
    if not lines:
        return []
    try:
        try:
            joined = (b"[" + b",".join(lines) + b"]").decode()  # type: ignore[arg-type]  # stdio: bytes
        except TypeError:  # websocket frames are text
            joined = "[" + ",".join(line if isinstance(line, str) else line.decode() for line in lines) + "]"
        values = _loads(joined)
        if isinstance(values, list) and len(values) == len(lines):
            return values
    except ValueError:
        pass
    out = []
    for line in lines:
        try:
            out.append(parse_line(line))
        except ValueError:
            continue
    return out


def decode(data: Union[bytes, str]) -> Message:
    """Decode one line or frame into a message.

    ``data`` may be UTF-8 bytes (a stdio line, with or without its newline)
    or text (a websocket frame). Raises :class:`DecodeError` for anything that
    is not a single JSON-RPC object: blank lines, invalid UTF-8, invalid JSON,
    arrays (batches), objects of no known kind.
    """
    try:
        obj = _loads(data)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise DecodeError(f"not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise DecodeError(f"not a JSON object: {type(obj).__name__}")
    method = obj.get("method")
    msg_id = obj.get("id")
    if isinstance(method, str):
        params = obj.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise DecodeError(f"params of {method!r} is not an object")
        if "id" in obj and msg_id is not None:
            if not _valid_id(msg_id):
                raise DecodeError(f"request id {msg_id!r} is neither int nor string")
            return ServerRequest(msg_id, method, params, obj)
        return Notification(method, params, obj)
    if not isinstance(msg_id, (int, str)) or isinstance(msg_id, bool):
        raise DecodeError("message has neither a method nor a valid id")
    if "error" in obj:
        err = obj["error"]
        if not isinstance(err, dict):
            raise DecodeError("error member is not an object")
        code = err.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            code = INTERNAL_ERROR
        message = err.get("message")
        return ErrorReply(msg_id, code, str(message) if message is not None else "", err.get("data"))
    if "result" in obj:
        return Response(msg_id, obj["result"])
    raise DecodeError("message with an id has neither result nor error")


def _make_dumps() -> Callable[[Any], str]:
    """One compact JSON encoder, built once.

    ``JSONEncoder.encode`` builds a new C encoder on every call (about half of
    its time for a small message); this keeps the one it would build. Without
    the C accelerator (other interpreters) it falls back to ``encode``. The
    circular-reference check is off: a circular ``params`` ends in
    ``RecursionError`` instead of ``ValueError``.
    """
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    basestring = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or basestring is None:  # pragma: no cover - CPython has both
        return encoder.encode
    chunks = make(None, encoder.default, basestring, None, ":", ",", False, False, True)
    join = "".join
    return lambda obj: join(chunks(obj, 0))


_dumps = _make_dumps()


JSONRPC_VERSION = "2.0"


def encode_request(request_id: RequestId, method: str, params: Optional[JsonDict]) -> str:
    """Encode a request. ``params=None`` is sent as ``{}`` (the server demands it)."""
    return _dumps(
        {"jsonrpc": JSONRPC_VERSION, "id": request_id, "method": method, "params": {} if params is None else params}
    )


def encode_notification(method: str, params: Optional[JsonDict] = None) -> str:
    """Encode a notification (no id, no reply expected)."""
    msg: JsonDict = {"jsonrpc": JSONRPC_VERSION, "method": method}
    if params is not None:
        msg["params"] = params
    return _dumps(msg)


def encode_result(request_id: RequestId, result: Any) -> str:
    """Encode our successful answer to a server request."""
    return _dumps({"jsonrpc": JSONRPC_VERSION, "id": request_id, "result": result})


def encode_error(request_id: RequestId, code: int, message: str, data: Any = None) -> str:
    """Encode our error answer to a server request."""
    err: JsonDict = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return _dumps({"jsonrpc": JSONRPC_VERSION, "id": request_id, "error": err})


def error_from_reply(reply: ErrorReply, method: str = "") -> CodexProtocolError:
    """The exception for an error reply: :class:`CodexOverloadedError` for -32001.

    A refusal for want of the experimental API says how to ask for it.
    """
    cls = CodexOverloadedError if reply.code == SERVER_OVERLOADED else CodexProtocolError
    message = reply.message
    if "requires experimentalApi capability" in message:
        message += " (create the client with experimental_api=True: the capability is asked for at initialize)"
    return cls(message, code=reply.code, data=reply.data, method=method)


# -- the async SDK's ``protocol`` helpers (dict envelopes, for code ported from it) --------
# These helpers build the envelopes the async SDK builds, as dicts.

INITIALIZE_METHOD = INITIALIZE
THREAD_START_METHOD = THREAD_START
THREAD_RESUME_METHOD = THREAD_RESUME
THREAD_FORK_METHOD = THREAD_FORK
THREAD_ARCHIVE_METHOD = THREAD_ARCHIVE
THREAD_NAME_SET_METHOD = THREAD_NAME_SET
THREAD_UNARCHIVE_METHOD = THREAD_UNARCHIVE
THREAD_COMPACT_START_METHOD = THREAD_COMPACT_START
THREAD_ROLLBACK_METHOD = "thread/rollback"  # not served by today's server: rollback_thread uses thread/revert
THREAD_LIST_METHOD = THREAD_LIST
THREAD_READ_METHOD = THREAD_READ
TURN_START_METHOD = TURN_START
TURN_STEER_METHOD = TURN_STEER
TURN_INTERRUPT_METHOD = TURN_INTERRUPT
REVIEW_START_METHOD = REVIEW_START
MODEL_LIST_METHOD = MODEL_LIST
COMMAND_EXEC_METHOD = COMMAND_EXEC
CONFIG_READ_METHOD = CONFIG_READ
CONFIG_VALUE_WRITE_METHOD = CONFIG_VALUE_WRITE
CONFIG_BATCH_WRITE_METHOD = CONFIG_BATCH_WRITE
CONFIG_REQUIREMENTS_READ_METHOD = CONFIG_REQUIREMENTS_READ
ITEM_COMPLETED_METHOD = ITEM_COMPLETED
ITEM_COMMAND_EXECUTION_REQUEST_APPROVAL_METHOD = "item/commandExecution/requestApproval"
ITEM_FILE_CHANGE_REQUEST_APPROVAL_METHOD = "item/fileChange/requestApproval"
ITEM_TOOL_REQUEST_USER_INPUT_METHOD = "item/tool/requestUserInput"
DEFAULT_OPT_OUT_NOTIFICATION_METHODS = (
    "codex/event/agent_message_content_delta",
    "codex/event/reasoning_content_delta",
    "codex/event/item_started",
    "codex/event/item_completed",
    "codex/event/task_started",
    "codex/event/task_complete",
)
# Today's server ends every turn with turn/completed (its turn.status says how);
# the other spellings are accepted for code that checks for them.
TURN_COMPLETED_METHODS = frozenset({TURN_COMPLETED, "turn.completed", "turnCompleted"})
TURN_FAILED_METHODS = frozenset({"turn/failed", "turn.failed", "turnFailed", "turn/error", "turn/errored"})


def make_request(request_id: RequestId, method: str, params: Optional[JsonDict] = None) -> JsonDict:
    """A request envelope as a dict (``params`` left out when ``None``)."""
    envelope: JsonDict = {"jsonrpc": JSONRPC_VERSION, "id": request_id, "method": method}
    if params is not None:
        envelope["params"] = params
    return envelope


def make_result_response(request_id: RequestId, result: Any) -> JsonDict:
    """A success response envelope as a dict."""
    return {"jsonrpc": JSONRPC_VERSION, "id": request_id, "result": result}


def make_error_response(request_id: RequestId, code: int, message: str, data: Any = None) -> JsonDict:
    """An error response envelope as a dict (``data`` left out when ``None``)."""
    error: JsonDict = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": JSONRPC_VERSION, "id": request_id, "error": error}


def is_response_message(payload: JsonDict) -> bool:
    """``True`` for a reply (it has an ``id`` and no ``method``)."""
    return "id" in payload and "method" not in payload


def extract_error(payload: JsonDict) -> Optional[JsonDict]:
    """The ``error`` object of a reply, or ``None`` when it has none (or not an object)."""
    error = payload.get("error")
    return error if isinstance(error, dict) else None


def is_turn_completed(method: str) -> bool:
    """``True`` for the notification that ends a turn."""
    return method in TURN_COMPLETED_METHODS


def is_turn_failed(method: str) -> bool:
    """``True`` for a separate turn-failure notification (today's server sends none: see ``turn.status``)."""
    return method in TURN_FAILED_METHODS
