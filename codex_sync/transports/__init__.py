"""Transports: how messages travel to and from one app-server."""

from .base import Transport
from .stdio import StdioTransport, resolve_command
from .websocket import WebSocketTransport

__all__ = ["Transport", "StdioTransport", "WebSocketTransport", "resolve_command"]
