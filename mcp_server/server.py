"""Entry point of the MCP server: build the Router once, expose it, serve stdio or streamable HTTP.

`devroute mcp` serves stdio (what Claude Code, Cursor and VS Code launch); `devroute mcp --http`
serves streamable HTTP on http://127.0.0.1:8765/mcp. stdout belongs to the protocol in stdio
mode, so everything else goes to stderr.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from devroute.core import __version__
from devroute.core.config import load_settings
from devroute.core.errors import ConfigError
from devroute.core.router import Router
from mcp.server.mcpserver import MCPServer

from .http_security import RequestGuard, check_exposure, extra_origins_from_env, sdk_transport_security, token_from_env
from .resources import register_prompts, register_resources
from .tools import register_tools

INSTRUCTIONS = (
    "devroute triages developer prompts and recommends the cheapest model likely to do the job. "
    "Call triage_prompt before starting a task (ask the user for any missing context it lists), "
    "route_prompt to pick a model, and record_outcome with the decision_id once the task is done."
)
MCP_PATH = "/mcp"


def build_server(router: Router) -> MCPServer:
    """The MCP server over an already loaded Router; every handler shares it."""
    server = MCPServer("devroute", title="devroute", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
    register_tools(server, router)
    register_resources(server, router)
    register_prompts(server)
    return server


def load_router(config: Path | None = None, backend: str | None = None) -> Router:
    settings = load_settings(config)
    if backend:
        settings.triage.backend = backend  # type: ignore[assignment]  # the CLI restricts the choices
    return Router(settings)


def serve(config: Path | None = None, backend: str | None = None, http: bool = False, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Load the core once (config, catalog, triage backend, decision log), then serve until the client leaves."""
    token = token_from_env()
    if http:
        check_exposure(host, token)  # before loading anything: fail fast with a clear message
    router = load_router(config, backend)
    try:
        server = build_server(router)
        if http:
            serve_http(server, host, port, token)
        else:
            server.run("stdio")
    finally:
        router.close()


def serve_http(server: MCPServer, host: str, port: int, token: str | None) -> None:
    import uvicorn

    # Two layers: the SDK checks Host and Origin on a loopback bind; RequestGuard checks Origin
    # on every bind and the bearer token, before the SDK sees the request.
    extra_origins = extra_origins_from_env()
    sdk_app = server.streamable_http_app(
        streamable_http_path=MCP_PATH, host=host, transport_security=sdk_transport_security(host, extra_origins)
    )
    app = RequestGuard(sdk_app, token, extra_origins)
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    # Tests and scripts pass --port 0 and read the real address from this line.
    print(f"devroute MCP server listening on http://{shown}:{bound_port}{MCP_PATH}", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    """Bind before uvicorn starts, so --port 0 works and the real port can be announced."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock
