"""pytest fixtures running the real ``codex app-server`` against a scripted model.

Enable in a ``conftest.py``::

    pytest_plugins = ["codex_sync.testing.pytest_plugin"]

Fixtures (all function-scoped):

- ``scripted_model``: a started :class:`~codex_sync.testing.ScriptedModel`,
  closed after the test.
- ``codex_home_factory``: ``factory(model_url=None, **write_codex_home_kwargs)
  -> Path`` writing a fresh ``config.toml`` under ``tmp_path`` (default URL:
  ``scripted_model.url``).
- ``app_server``: a started :class:`~codex_sync.testing.AppServer` on
  ``scripted_model``, parametrized over ``"stdio"`` and ``"websocket"`` (test
  ids ``[stdio]`` / ``[websocket]``).
- ``stdio_app_server`` / ``websocket_app_server``: the same for one transport.
- ``codex_client``: ``app_server.client()``, entered with ``with`` (started)
  and closed after the test.

Settings come from markers on the test (or its class or module)::

    @pytest.mark.codex_app_server(approval_policy="on-request",
                                  sandbox_mode="workspace-write")
    @pytest.mark.codex_client(request_timeout=5.0)

``codex_app_server`` takes the keyword arguments of ``AppServer`` (except
``transport``); ``codex_client`` those of ``AppServer.client``. A missing codex
binary makes the server fixtures error with a ``RuntimeError`` saying how to
install it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Optional

import pytest

from .launcher import AppServer, write_codex_home
from .model import ScriptedModel

if TYPE_CHECKING:
    from codex_sync import CodexClient

__all__ = [
    "scripted_model",
    "codex_home_factory",
    "app_server",
    "stdio_app_server",
    "websocket_app_server",
    "codex_client",
]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``codex_app_server`` and ``codex_client`` markers."""
    config.addinivalue_line(
        "markers",
        "codex_app_server(**kwargs): keyword arguments for the AppServer of the "
        "app_server fixtures (approval_policy, sandbox_mode, extra_config, ...)",
    )
    config.addinivalue_line(
        "markers",
        "codex_client(**options): keyword arguments for AppServer.client() in the codex_client fixture",
    )


def _marker_kwargs(request: pytest.FixtureRequest, name: str) -> Dict[str, Any]:
    kwargs: Dict[str, Any] = {}
    # Closest last, so a test's marker overrides its class's and module's.
    for marker in reversed(list(request.node.iter_markers(name))):
        kwargs.update(marker.kwargs)
    return kwargs


@pytest.fixture
def scripted_model() -> Iterator[ScriptedModel]:
    """A started :class:`ScriptedModel` (echo fallback), closed after the test."""
    with ScriptedModel() as model:
        yield model


@pytest.fixture
def codex_home_factory(tmp_path: Path, scripted_model: ScriptedModel) -> Callable[..., Path]:
    """A function writing a fresh codex home under ``tmp_path``; returns its path.

    ``factory(model_url=None, **kwargs)``: ``kwargs`` go to
    :func:`~codex_sync.testing.write_codex_home`; ``model_url`` defaults to
    ``scripted_model.url``.
    """
    count = [0]

    def factory(model_url: Optional[str] = None, **kwargs: Any) -> Path:
        count[0] += 1
        directory = tmp_path / f"codex_home_{count[0]}"
        return write_codex_home(directory, model_url or scripted_model.url, **kwargs)

    return factory


def _server(request: pytest.FixtureRequest, model: ScriptedModel, transport: str) -> Iterator[AppServer]:
    kwargs = _marker_kwargs(request, "codex_app_server")
    kwargs.pop("transport", None)
    with AppServer(model, transport=transport, **kwargs) as server:
        yield server


@pytest.fixture(params=["stdio", "websocket"], ids=["stdio", "websocket"])
def app_server(request: pytest.FixtureRequest, scripted_model: ScriptedModel) -> Iterator[AppServer]:
    """A started :class:`AppServer` on ``scripted_model``, once per transport.

    Settings from the ``codex_app_server`` marker. Closed after the test.
    """
    yield from _server(request, scripted_model, str(request.param))


@pytest.fixture
def stdio_app_server(request: pytest.FixtureRequest, scripted_model: ScriptedModel) -> Iterator[AppServer]:
    """A started stdio :class:`AppServer` on ``scripted_model`` (marker settings apply)."""
    yield from _server(request, scripted_model, "stdio")


@pytest.fixture
def websocket_app_server(
    request: pytest.FixtureRequest, scripted_model: ScriptedModel
) -> Iterator[AppServer]:
    """A started websocket :class:`AppServer` on ``scripted_model`` (marker settings apply)."""
    yield from _server(request, scripted_model, "websocket")


@pytest.fixture
def codex_client(request: pytest.FixtureRequest, app_server: AppServer) -> Iterator[CodexClient]:
    """A started ``codex_sync.CodexClient`` for ``app_server`` (both transports).

    Options from the ``codex_client`` marker. Closed after the test.
    """
    client = app_server.client(**_marker_kwargs(request, "codex_client"))
    with client:
        yield client
