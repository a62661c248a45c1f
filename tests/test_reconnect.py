"""reconnect=True: a dropped websocket is made again and every running turn goes on, no step lost or twice."""

from __future__ import annotations

import threading
import time
from typing import Dict, Iterator, List, Tuple
from urllib.parse import urlparse

import pytest

from codex_sync import ChatStream, CodexClient, CodexTransportError
from codex_sync.reconnect import ReconnectPolicy
from codex_sync.testing import AppServer, ScriptedModel, exec_command, text

from .tcp_proxy import CuttableProxy

pytestmark = pytest.mark.real_server
FAST = ReconnectPolicy(attempts=30, first_delay=0.05, max_delay=0.5)


@pytest.fixture
def ws_server(scripted_model: ScriptedModel) -> Iterator[AppServer]:
    with AppServer(scripted_model, transport="websocket") as server:
        yield server


def _proxy_for(server: AppServer) -> CuttableProxy:
    parsed = urlparse(server.url)
    return CuttableProxy((parsed.hostname or "127.0.0.1", int(parsed.port or 0)))


def _items(client: CodexClient, thread_id: str, turn_id: str) -> List[str]:
    page = client.request("thread/turns/list", {"threadId": thread_id, "itemsView": "full", "limit": 5})
    turn = next(t for t in page["data"] if t["id"] == turn_id)
    return [item["id"] for item in turn["items"]]


@pytest.mark.parametrize("turns,cuts", [(4, 4), (20, 20)])
def test_concurrent_turns_survive_repeated_cuts(
    ws_server: AppServer, scripted_model: ScriptedModel, turns: int, cuts: int
) -> None:
    for n in range(turns):
        scripted_model.on(f"job {n} ", exec_command(f"sleep 0.4; echo {n}-a"),
                          exec_command(f"sleep 0.4; echo {n}-b"), exec_command(f"sleep 0.4; echo {n}-c"),
                          text(f"job {n} done"))
    proxy = _proxy_for(ws_server)
    client = CodexClient.connect_websocket(f"ws://127.0.0.1:{proxy.port}", token=ws_server.token, reconnect=FAST,
                                           request_timeout=30)
    results: Dict[int, Tuple[str, str, List[str], str]] = {}
    errors: List[BaseException] = []

    def finish(n: int, stream: ChatStream, first: str) -> None:
        try:
            ids = [first] + [step.item_id or "" for step in stream]
            results[n] = (stream.thread_id, stream.turn_id, ids, stream.final_text or "")
        except BaseException as exc:
            errors.append(exc)

    with client:
        # every turn started and running (a cut while turn/start is in flight would leave its effect
        # unknown: CodexTransportError, by design), then the cuts, while all of them run
        streams = [client.chat(f"job {n} please", inactivity_timeout=60) for n in range(turns)]
        firsts = [next(stream).item_id or "" for stream in streams]
        workers = [threading.Thread(target=finish, args=(n, s, f), daemon=True)
                   for n, (s, f) in enumerate(zip(streams, firsts))]
        for w in workers:
            w.start()
        for _ in range(cuts):
            time.sleep(0.1)
            proxy.cut()
        for w in workers:
            w.join(120)
        assert not errors, errors[:3]
        assert sorted(results) == list(range(turns))
        with ws_server.client() as direct:  # the truth, from a connection that was never cut
            for n, (thread_id, turn_id, ids, final) in results.items():
                assert final == f"job {n} done"
                assert len(ids) == len(set(ids)), f"job {n}: a step came twice"
                assert ids == _items(direct, thread_id, turn_id), f"job {n}: a step was lost"
    proxy.close()
    assert proxy.cuts == cuts + 1


def test_a_restarted_server_says_the_running_turn_is_gone(scripted_model: ScriptedModel) -> None:
    scripted_model.on("long job", exec_command("sleep 30"), text("never"))
    first = AppServer(scripted_model, transport="websocket").start()
    proxy = _proxy_for(first)
    client = CodexClient.connect_websocket(f"ws://127.0.0.1:{proxy.port}", token=first.token, reconnect=FAST)
    try:
        with client:
            stream = client.chat("long job please", inactivity_timeout=60)
            next(stream)  # the user message: the turn runs
            second = AppServer(scripted_model, transport="websocket").start()  # a new server, new home
            try:
                # the new server takes the first one's place behind the proxy (same token for the test)
                parsed = urlparse(second.url)
                proxy.upstream = (parsed.hostname or "127.0.0.1", int(parsed.port or 0))
                client._session.transport._token = second.token  # type: ignore[attr-defined]
                first.close()
                proxy.cut()
                started = time.monotonic()
                with pytest.raises(CodexTransportError, match="restarted|does not know|could not be followed"):
                    list(stream)
                assert time.monotonic() - started < 20
                assert client.chat_once("after the restart").final_text == "echo: after the restart"
            finally:
                second.close()
    finally:
        first.close()
        proxy.close()
