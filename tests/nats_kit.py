"""Helpers for tests against the real NATS server (127.0.0.1:4222 or MAAT_TEST_NATS_URL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import nats

NATS_URL = os.environ.get("MAAT_TEST_NATS_URL", "nats://127.0.0.1:4222")


def _server_problem(url: str) -> str | None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 4222
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        return f"NATS server at {url} not reachable: {exc}"
    return None


async def _admin(url: str, action: Callable[[Any], Any]) -> Any:
    """Run ``action(jetstream)`` on a connection of the test's own (not the bus's)."""
    nc = await nats.connect(url, connect_timeout=3, allow_reconnect=False)
    try:
        return await action(nc.jetstream(timeout=5))
    finally:
        await nc.close()


def stream_info(url: str, stream: str, subjects_filter: str | None = None) -> Any:
    return asyncio.run(_admin(url, lambda js: js.stream_info(stream, subjects_filter)))


def delete_stream(url: str, stream: str) -> None:
    async def delete(js: Any) -> None:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(stream)

    asyncio.run(_admin(url, delete))
