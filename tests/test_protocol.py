"""The pure protocol layer: decoding every message kind, rejecting junk, encoding."""

from __future__ import annotations

import json

import pytest

from codex_sync import CodexOverloadedError, CodexProtocolError
from codex_sync import protocol as p


def test_decode_kinds() -> None:
    assert isinstance(p.decode(b'{"id":1,"result":{"a":1}}\n'), p.Response)
    err = p.decode('{"id":"x","error":{"code":-32600,"message":"bad","data":{"k":1}}}')
    assert isinstance(err, p.ErrorReply) and (err.id, err.code, err.message, err.data) == ("x", -32600, "bad", {"k": 1})
    note = p.decode(b'{"method":"turn/started","params":{"threadId":"T","turn":{"id":"U"}},"emittedAtMs":1}')
    assert isinstance(note, p.Notification)
    assert (note.thread_id, note.turn_id, note.raw["emittedAtMs"]) == ("T", "U", 1)
    req = p.decode(b'{"id":0,"method":"item/tool/requestUserInput","params":{"threadId":"T"}}')
    assert isinstance(req, p.ServerRequest) and req.id == 0 and req.method == "item/tool/requestUserInput"


def test_notification_ids_from_nested_objects() -> None:
    note = p.decode('{"method":"thread/started","params":{"thread":{"id":"T9"}}}')
    assert isinstance(note, p.Notification) and note.thread_id == "T9" and note.turn_id is None


@pytest.mark.parametrize(
    "line",
    [b"", b"\n", b"not json", b"[1,2]", b"\xff\xfe{}", b'"text"', b'{"id":true,"result":1}',
     b'{"foo":1}', b'{"id":1}', b'{"method":"x","params":[1]}', b'{"id":1,"error":"boom"}'],
)
def test_decode_rejects_junk(line: bytes) -> None:
    with pytest.raises(p.DecodeError):
        p.decode(line)


def test_encode_request_always_has_params() -> None:
    assert json.loads(p.encode_request(3, "thread/list", None)) == {
        "jsonrpc": "2.0", "id": 3, "method": "thread/list", "params": {}}
    assert json.loads(p.encode_request(4, "x", {"a": "é"})) == {
        "jsonrpc": "2.0", "id": 4, "method": "x", "params": {"a": "é"}}
    assert "\n" not in p.encode_request(5, "x", {"text": "line1\nline2"})


@pytest.mark.parametrize(
    "line",
    [
        '{"id":1,"result":{"a":[1,2.5,null]}}\n',
        ' {"id":1,"result":{}}\r\n',
        '{"id":1,"result":{}}\t',
        '{"id":1,"result":{}} x',
        '{"id":1,"result":{}}{}',
        '{"id":1,"result":{}}\x0c',  # not JSON whitespace
        "",
        "\ufeff{}",
        '{"a"',
        '{"id":1,"result":NaN}',
    ],
)
def test_fast_parse_agrees_with_json_loads(line: str) -> None:
    try:
        expected: object = json.loads(line)
    except ValueError as exc:
        with pytest.raises(ValueError) as caught:
            p._loads(line)
        assert str(caught.value) == str(exc)
    else:
        assert repr(p._loads(line)) == repr(expected)


def test_reused_encoder_writes_what_the_stdlib_writes() -> None:
    stdlib = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    params = {"input": [{"type": "text", "text": "é \"quoted\"\n\u2028"}], "n": [1, 2.5, None, True], "o": {}}
    for request_id in (7, "abc"):
        text = p.encode_request(request_id, "turn/start", params)
        assert text == stdlib({"jsonrpc": "2.0", "id": request_id, "method": "turn/start", "params": params})
    with pytest.raises(TypeError, match="not JSON serializable"):
        p.encode_request(1, "x", {"bad": object()})


def test_encode_replies() -> None:
    assert json.loads(p.encode_result(0, {"decision": "decline"})) == {
        "jsonrpc": "2.0", "id": 0, "result": {"decision": "decline"}}
    assert json.loads(p.encode_error(1, -32601, "nope")) == {
        "jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "nope"}}
    assert json.loads(p.encode_notification("initialized")) == {"jsonrpc": "2.0", "method": "initialized"}


def test_error_mapping() -> None:
    over = p.error_from_reply(p.ErrorReply(1, -32001, "Server overloaded; retry later.", None), "thread/list")
    assert isinstance(over, CodexOverloadedError) and over.code == -32001 and "thread/list" in str(over)
    other = p.error_from_reply(p.ErrorReply(1, -32600, "Not initialized", None))
    assert type(other) is CodexProtocolError and other.message == "Not initialized"


def test_peek_delta_thread_reads_only_the_servers_layout() -> None:
    line = b'{"method":"item/agentMessage/delta","params":{"threadId":"T-1","turnId":"U","itemId":"m","delta":"x"}}\n'
    assert p.peek_delta_thread(line) == "T-1"
    assert p.peek_delta_thread(line.decode()) == "T-1"
    reasoning = '{"method":"item/reasoning/summaryTextDelta","params":{"threadId":"T2","delta":"\\"threadId\\":\\"no\\""}}'
    assert p.peek_delta_thread(reasoning) == "T2"
    for other in (b'{"method":"item/completed","params":{"threadId":"T"}}', b'{"params":{"threadId":"T"},"method":'
                  b'"item/agentMessage/delta"}', b"garbage", b""):
        assert p.peek_delta_thread(other) is None


def test_ids_in_results_of_every_shape() -> None:
    assert p.id_in_result({"thread": {"id": "T"}, "threadId": "other"}, "thread") == "T"
    assert p.id_in_result({"turnId": "U"}, "turn") == "U"
    assert p.id_in_result({"turn_id": "U"}, "turn") == "U"
    assert p.id_in_result({"turn": {"id": ""}}, "turn") is None
    assert p.id_in_result(["T"], "thread") is None
    with pytest.raises(p.CodexProtocolError, match="thread/start answered without a thread id"):
        p.required_id({"ok": True}, "thread", "thread/start")


@pytest.mark.parametrize("kind", [bytes, str])
def test_parse_lines_parses_many_at_once_and_leaves_out_the_broken(kind: type) -> None:
    good = ['{"method":"a","params":{"n":1}}\n', '{"method":"b","params":{}}']
    lines = [line.encode() if kind is bytes else line for line in good]
    assert p.parse_lines(lines) == [{"method": "a", "params": {"n": 1}}, {"method": "b", "params": {}}]
    broken = lines[:1] + [b"{not json" if kind is bytes else "{not json", lines[0][:5]] + lines[1:]
    assert [v["method"] for v in p.parse_lines(broken)] == ["a", "b"]
    two_in_one = [lines[0], (b'{"x":1},{"y":2}' if kind is bytes else '{"x":1},{"y":2}')]
    assert p.parse_lines(two_in_one) == [{"method": "a", "params": {"n": 1}}]  # not two values for one line
    assert p.parse_lines([]) == []
