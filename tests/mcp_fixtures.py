"""Fixtures for the MCP server tests: isolated config and log, the server as a real subprocess.

Imported by the tests/test_mcp_*.py modules (there is no shared conftest for them). Every
server runs as `python -m devroute.cli.main mcp ...` in its own process, talking the real
protocol over a real pipe or socket.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from devroute.core.decision_log import DecisionLog
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage
from processes import stop

SERVER = [sys.executable, "-m", "devroute.cli.main"]
MODES = ["auto", "legacy"]
# What each Client mode must end up speaking: "auto" must not quietly fall back to the handshake.
EXPECTED_PROTOCOLS = {"auto": MODERN_PROTOCOL_VERSIONS, "legacy": HANDSHAKE_PROTOCOL_VERSIONS}
LISTENING = re.compile(r"listening on (http://\S+)")
# Variables a developer's shell may carry that would change what the server under test does.
SCRUBBED = ("DEVROUTE_MCP_TOKEN", "DEVROUTE_MCP_ALLOWED_ORIGINS", "DEVROUTE_CONFIG", "DEVROUTE_DATA_DIR")


@dataclass
class ServerEnv:
    """An empty config and a private decision log for one test."""

    root: Path
    config: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def with_vars(self, **extra: str) -> dict[str, str]:
        return {**self.env, **extra}

    def open_log(self) -> DecisionLog:
        return DecisionLog(self.log_path)


@pytest.fixture
def server_env(tmp_path: Path) -> ServerEnv:
    log_path = tmp_path / "data" / "decisions.sqlite3"
    config = tmp_path / "mcp-config.toml"  # its own file: the shared conftest writes config.toml
    config.write_text(f"[log]\npath = {json.dumps(str(log_path))}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(DEVROUTE_CONFIG=str(config), DEVROUTE_DATA_DIR=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
    return ServerEnv(root=tmp_path, config=config, log_path=log_path, env=env)


def stdio_params(server_env: ServerEnv) -> StdioServerParameters:
    return StdioServerParameters(command=SERVER[0], args=[*SERVER[1:], "mcp"], env=server_env.env, cwd=str(server_env.root))


# -- streamable HTTP --------------------------------------------------------------------------


@dataclass
class HttpServer:
    url: str
    process: subprocess.Popen
    stderr_path: Path

    def client(self, mode: str = "auto", token: str | None = None, origin: str | None = None) -> Client:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if origin is not None:
            headers["Origin"] = origin
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0))
        return Client(streamable_http_client(self.url, http_client=http), mode=mode)


def start_http_server(server_env: ServerEnv, *extra_args: str, env: dict[str, str] | None = None) -> HttpServer:
    stderr_path = server_env.root / f"http-{time.monotonic_ns()}.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [*SERVER, "mcp", "--http", "--port", "0", *extra_args],
            env=env or server_env.env, cwd=server_env.root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = LISTENING.search(stderr_path.read_text(errors="replace"))
        if match:
            return HttpServer(url=match.group(1), process=process, stderr_path=stderr_path)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    stop(process)
    raise RuntimeError(f"the HTTP server did not start:\n{stderr_path.read_text(errors='replace')}")


@pytest.fixture
def http_server(server_env: ServerEnv) -> Iterator[HttpServer]:
    server = start_http_server(server_env)
    yield server
    stop(server.process)


# -- stdio with raw writes ------------------------------------------------------------------------


class RawStdioServer:
    """The server as a subprocess on pipes, for an mcp Client plus raw bytes written to the same stdin.

    `transport()` is a client Transport (what `stdio_client` would be); `inject()` writes bytes
    between the client's messages; replies to injected requests (ids starting with "raw-") are
    kept in `raw_replies` instead of reaching the client session, which did not send them.
    """

    def __init__(self, params: StdioServerParameters) -> None:
        self.params = params
        self.raw_replies: dict[str, dict] = {}
        self.sent: list[dict] = []  # what the client wrote, to copy its envelope into raw requests
        self._stdin_lock = anyio.Lock()
        self._process: anyio.abc.Process | None = None

    async def inject(self, data: bytes) -> None:
        assert self._process is not None and self._process.stdin is not None
        async with self._stdin_lock:  # never inside one of the client's lines
            await self._process.stdin.send(data)

    async def raw_reply(self, request_id: str, timeout: float = 30) -> dict:
        with anyio.fail_after(timeout):
            while request_id not in self.raw_replies:
                await anyio.sleep(0.01)
        return self.raw_replies[request_id]

    @asynccontextmanager
    async def transport(self) -> AsyncIterator[tuple]:
        process = await anyio.open_process(
            [self.params.command, *self.params.args], env=self.params.env, cwd=self.params.cwd, stderr=subprocess.DEVNULL
        )
        self._process = process
        read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)

        async def read_stdout() -> None:
            buffer = b""
            async with read_writer:
                async for chunk in process.stdout:
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        payload = json.loads(line)
                        if str(payload.get("id", "")).startswith("raw-"):
                            self.raw_replies[payload["id"]] = payload
                            continue
                        await read_writer.send(SessionMessage(types.jsonrpc_message_adapter.validate_python(payload)))

        async def write_stdin() -> None:
            async with write_reader:
                async for message in write_reader:
                    line = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                    self.sent.append(json.loads(line))
                    async with self._stdin_lock:
                        await process.stdin.send(line.encode())

        async with anyio.create_task_group() as tg:
            tg.start_soon(read_stdout)
            tg.start_soon(write_stdin)
            try:
                yield read_stream, write_stream
            finally:
                await process.stdin.aclose()
                with anyio.move_on_after(10):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
                tg.cancel_scope.cancel()
