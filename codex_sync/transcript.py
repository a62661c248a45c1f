"""What one turn said, folded from its events: steps, raw events, final text, usage, ending.

Pure: no threads, no locks, no I/O. A :class:`Transcript` is fed a turn's
notifications in order (:meth:`Transcript.fold`) and keeps what a caller reads
off them; :func:`ending_error` says which error, if any, the turn's end
means. ``ChatStream`` folds as it iterates; ``cancel`` folds what a caller
has not read yet. Tests feed it events with no server and no thread.
"""

from __future__ import annotations

from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
    overload,
)

from . import protocol
from .errors import (
    CodexProtocolError,
    CodexTransportError,
    CodexTurnFailedError,
    CodexTurnInterruptedError,
)
from .protocol import DeltaRun, Notification
from .steps import step_from_item
from .values import ConversationStep, TextDelta, TokenUsage

JsonDict = Dict[str, Any]
DeltaCallback = Callable[[TextDelta], None]
_new_text_delta = tuple.__new__  # TextDelta(...) without the namedtuple's Python __new__ (the live-text path)


class Transcript:
    """The completed steps and facts of one turn, from the events folded so far.

    ``steps`` and ``raw_events`` grow with every :meth:`fold`; ``final_text``
    and ``assistant_item_id`` follow the last agent message; ``last_error``
    is the server's last error that it did not retry; :attr:`usage` sums
    the token reports.
    """

    __slots__ = (
        "thread_id", "turn_id", "steps", "raw_events", "final_text", "assistant_item_id",
        "last_error", "turn", "_usage_sum", "_usage_last", "_item_ids", "completed_ids",
    )

    def __init__(self, thread_id: str, turn_id: Optional[str], seen_items: Iterable[str] = ()) -> None:
        self.thread_id = thread_id
        self.turn_id = turn_id
        self.steps: List[ConversationStep] = []
        self.raw_events: List[Any] = []  # dicts, and DeltaRuns (RawEvents parses their lines when read)
        self.final_text: Optional[str] = None
        self.assistant_item_id: Optional[str] = None
        self.last_error: Optional[Dict[str, Any]] = None
        self.turn: Optional[Dict[str, Any]] = None  # the turn object of turn/completed
        self._item_ids: Set[str] = set(seen_items)  # completed items seen (a backfilled one may come live too)
        self.completed_ids: List[str] = []  # ids of the items this transcript made steps of, in order
        self._usage_sum: Dict[str, int] = {}
        self._usage_last: Optional[Dict[str, Any]] = None

    def fold(self, message: Notification, on_delta: Optional[DeltaCallback] = None) -> Optional[ConversationStep]:
        """Take the turn's next event; return the step it completes, if any.

        Events of another turn (by ``turnId``) are ignored, and so is a
        second ``item/completed`` of an item. A delta goes to ``on_delta``
        when one is given. A server request placed among the
        events for a manual answer becomes an ``approval`` step.
        """
        if isinstance(message, DeltaRun):
            if on_delta is None:  # kept unparsed: raw_events parses a line if it is read
                self.raw_events.append(message)
                return None
            self.fold_delta_lines(message.lines, 0, len(message.lines), on_delta)
            return None
        turn_id = message.turn_id
        if turn_id is not None and self.turn_id is not None and turn_id != self.turn_id:
            return None
        method = message.method
        params = message.params
        if method == protocol.ITEM_COMPLETED:
            item = params.get("item")
            item_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(item_id, str):
                if item_id in self._item_ids:
                    return None
                self._item_ids.add(item_id)
                self.completed_ids.append(item_id)
            self.raw_events.append(message.raw)
            if not isinstance(item, dict):
                return None
            step = step_from_item(item, params, self.thread_id, self.turn_id)
            if step.item_type == "agentMessage" and step.text:
                self.final_text = step.text
                self.assistant_item_id = step.item_id
            self.steps.append(step)
            return step
        self.raw_events.append(message.raw)
        if method in protocol.DELTA_KINDS:
            if on_delta is not None:
                delta = params.get("delta")
                if isinstance(delta, str):
                    on_delta(TextDelta(protocol.DELTA_KINDS[method], params.get("itemId"), delta, method))
            return None
        if method == protocol.TOKEN_USAGE_UPDATED:
            usage = params.get("tokenUsage")
            if isinstance(usage, dict):
                self._usage_last = usage
                last = usage.get("last")
                if isinstance(last, dict):
                    for key, value in last.items():
                        if isinstance(value, int):
                            self._usage_sum[key] = self._usage_sum.get(key, 0) + value
            return None
        if method == protocol.TURN_COMPLETED:
            turn = params.get("turn")
            if isinstance(turn, dict):
                self.turn = turn
            return None
        if method == protocol.ERROR_NOTIFICATION and not params.get("willRetry"):
            error = params.get("error")
            if isinstance(error, dict):
                self.last_error = error
            return None
        request = getattr(message, "request", None)
        if request is not None:  # a server request waiting for a manual answer
            return ConversationStep(
                step_type="approval",
                item_type=method,
                text=request.describe(),
                item_id=params.get("itemId"),
                thread_id=self.thread_id,
                turn_id=self.turn_id,
                data={"params": params, "item": None},
                request=request,
            )
        return None

    def fold_delta_lines(
        self, lines: Sequence[Union[bytes, str]], start: int, end: int, on_delta: DeltaCallback
    ) -> None:
        """Parse ``lines[start:end]`` of a run of deltas; keep each and pass its text to ``on_delta``.

        The live-text path: no notification objects, and the lines are parsed
        together as one JSON array. Lines of another turn and lines that are
        not JSON are skipped.
        """
        kinds = protocol.DELTA_KINDS
        keep = self.raw_events.append
        turn_id = self.turn_id
        new_delta = _new_text_delta
        for raw in protocol.parse_lines(lines[start:end]):
            params = raw.get("params") if isinstance(raw, dict) else None
            if not isinstance(params, dict):
                continue
            other = params.get("turnId")
            if other is not None and turn_id is not None and other != turn_id:
                continue
            keep(raw)
            method = raw.get("method")
            kind = kinds.get(method)
            if kind is not None:
                delta = params.get("delta")
                if delta.__class__ is str:
                    on_delta(new_delta(TextDelta, (kind, params.get("itemId"), delta, method)))

    def raw_events_unparsed(self) -> List[Dict[str, Any]]:
        """The raw events so far, for a result: a list when first read (delta lines parsed then).

        Typed as the list the result's field is; it is a :class:`RawEvents`
        that the result's field turns into a list on first read.
        """
        return RawEvents(self.raw_events)  # type: ignore[return-value]

    @property
    def usage(self) -> Optional[TokenUsage]:
        """Token usage reported so far (``None`` before the first report)."""
        last = self._usage_last
        if last is None:
            return None
        total = last.get("total") if isinstance(last.get("total"), dict) else {}
        s = self._usage_sum
        return TokenUsage(
            input_tokens=s.get("inputTokens", 0),
            cached_input_tokens=s.get("cachedInputTokens", 0),
            output_tokens=s.get("outputTokens", 0),
            reasoning_output_tokens=s.get("reasoningOutputTokens", 0),
            total_tokens=s.get("totalTokens", 0),
            thread_total_tokens=int(total.get("totalTokens", 0)) if total else 0,
            model_context_window=last.get("modelContextWindow"),
            raw=last,
        )


class RawEvents(Sequence[JsonDict]):
    """A turn's raw notifications, read-only; delta lines kept unparsed are parsed when read.

    What ``ChatResult.raw_events`` holds until it is first read (then it is
    made a list), so a result nobody inspects never parses its deltas.

    Behaves as the async SDK's ``list[dict]`` for reading: ``len``, indexing
    (a slice gives a list), iteration, ``==`` with a list, ``in``. Each entry
    is parsed at most once (a line that is not valid JSON reads as
    ``{"method": None, "params": {}, "line": <the text>}``). ``json.dumps``
    needs a list: ``list(events)``, or dump the result with
    ``model_dump()``/``model_dump_json()``. Pure; any thread.

    ``entries`` are dicts, lines (bytes or text), or runs of lines (objects
    with a ``lines`` list, as ``protocol.DeltaRun``), taken as they are now.
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[Any] = ()) -> None:
        flat: List[Any] = []
        for entry in entries:
            lines = None if entry.__class__ is dict else getattr(entry, "lines", None)
            if lines is not None:
                flat.extend(list(lines))
            else:
                flat.append(entry)
        self._entries = flat

    def __len__(self) -> int:
        return len(self._entries)

    def _at(self, index: int) -> JsonDict:
        entry = self._entries[index]
        if entry.__class__ is not dict:
            entry = self._entries[index] = _parse_kept_line(entry)
        return entry  # type: ignore[no-any-return]

    @overload
    def __getitem__(self, index: int) -> JsonDict: ...

    @overload
    def __getitem__(self, index: slice) -> List[JsonDict]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[JsonDict, List[JsonDict]]:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(len(self._entries)))]
        return self._at(index)

    def __iter__(self) -> Iterator[JsonDict]:
        for i in range(len(self._entries)):
            yield self._at(i)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (RawEvents, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RawEvents({list(self)!r})"


def _parse_kept_line(line: Union[bytes, str]) -> JsonDict:
    """One kept line as a dict (see :class:`RawEvents`)."""
    try:
        obj = protocol.parse_line(line)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        return obj
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    return {"method": None, "params": {}, "line": text}


def ending_error(
    transcript: Transcript,
    status: Optional[str],
    error: Optional[Dict[str, Any]],
    failure: Optional[CodexTransportError],
    start_error: Optional[BaseException] = None,
) -> Optional[BaseException]:
    """The error a finished turn's reader raises, or ``None`` for a completed turn.

    ``status`` is the one ``turn/completed`` gave (``None`` if it never came),
    ``error`` its error object, ``failure`` the connection's error when it
    died first, ``start_error`` why the request that starts it failed (it is
    raised as it is). A failed or interrupted turn's error carries the turn
    object as ``data`` (as the async SDK's ``CodexProtocolError`` does). A
    turn that ended with none of these raises rather than pass for completed.
    """
    if status is None and failure is None and start_error is not None:
        return start_error
    if status is None and failure is None:
        return CodexProtocolError(f"turn {transcript.turn_id} ended without turn/completed")
    if status is None and failure is not None:
        lost = CodexTransportError(
            f"the connection died during turn {transcript.turn_id}: {failure.message}",
            exit_code=failure.exit_code,
            stderr_tail=failure.stderr_tail,
        )
        lost.__cause__ = failure
        return lost
    if status == "failed":
        error = error or transcript.last_error or {}
        message = str(error.get("message") or "the turn failed")
        return CodexTurnFailedError(
            f"turn {transcript.turn_id} failed: {message}",
            thread_id=transcript.thread_id,
            turn_id=transcript.turn_id,
            error=error,
            data=terminal_turn(transcript, status, error),
        )
    if status == "interrupted":
        return CodexTurnInterruptedError(
            f"turn {transcript.turn_id} was interrupted",
            thread_id=transcript.thread_id,
            turn_id=transcript.turn_id,
            error=error,
            data=terminal_turn(transcript, status, error),
        )
    return None


def terminal_turn(transcript: Transcript, status: Optional[str], error: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The ``turn`` of the turn's ``turn/completed`` (or one made of ``status`` and ``error`` if none was read)."""
    if transcript.turn is not None:
        return transcript.turn
    return {"id": transcript.turn_id, "status": status, "error": error}


def final_message_of_turn(thread_read_result: Any, turn_id: str) -> Optional[Tuple[Optional[str], str]]:
    """The last agent message of ``turn_id`` in a ``thread/read`` result (with turns): (item id, text), if any."""
    thread = thread_read_result.get("thread") if isinstance(thread_read_result, dict) else None
    turns = (thread or {}).get("turns") or []
    for turn in turns:
        if isinstance(turn, dict) and turn.get("id") == turn_id:
            found: Optional[Tuple[Optional[str], str]] = None
            for item in turn.get("items") or []:
                if isinstance(item, dict) and item.get("type") == "agentMessage":
                    text, item_id = item.get("text"), item.get("id")
                    if isinstance(text, str) and text:
                        found = (item_id if isinstance(item_id, str) else None, text)
            return found
    return None


def final_text_of_turn(thread_read_result: Any, turn_id: str) -> Optional[str]:
    """The text of :func:`final_message_of_turn`, if any."""
    found = final_message_of_turn(thread_read_result, turn_id)
    return found[1] if found is not None else None
