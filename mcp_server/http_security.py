"""Request checks for the streamable HTTP transport: Origin header and optional bearer token.

The MCP spec asks HTTP servers to validate Origin (a web page the user visits could otherwise
reach a local server through DNS rebinding) and to bind to localhost when running locally.
This middleware wraps the SDK's ASGI app, so it applies to every request in every protocol
mode, before the SDK sees it.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from devroute.core.errors import ConfigError
from mcp.server.transport_security import TransportSecuritySettings

TOKEN_ENV = "DEVROUTE_MCP_TOKEN"
ORIGINS_ENV = "DEVROUTE_MCP_ALLOWED_ORIGINS"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_from_env() -> str | None:
    return os.environ.get(TOKEN_ENV, "").strip() or None


def extra_origins_from_env() -> frozenset[str]:
    return frozenset(o.strip().rstrip("/").lower() for o in os.environ.get(ORIGINS_ENV, "").split(",") if o.strip())


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token: the log holds users' prompts."""
    if not is_loopback(host) and token is None:
        raise ConfigError(
            f"refusing to serve MCP on {host} without a token: set {TOKEN_ENV}, or bind to 127.0.0.1 (the default)"
        )


def sdk_transport_security(host: str, extra_origins: frozenset[str]) -> TransportSecuritySettings | None:
    """The SDK's own Host/Origin check for a loopback bind, widened by the extra origins we allow.

    Left to itself the SDK would refuse those extra origins; beyond loopback it checks nothing
    (the hosts are unknown) and the bearer token, which check_exposure requires, protects instead.
    """
    if not is_loopback(host):
        return None
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
        allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*", *sorted(extra_origins)],
    )


def origin_allowed(origin: str, extra: frozenset[str]) -> bool:
    """Loopback pages (any port) and explicitly listed origins; 'null' and everything else are refused."""
    origin = origin.strip().rstrip("/").lower()
    if origin in extra:
        return True
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.hostname is not None and is_loopback(parts.hostname)


class RequestGuard:
    """ASGI middleware: 403 for a foreign Origin, 401 without the bearer token when one is set."""

    def __init__(self, app: ASGIApp, token: str | None = None, extra_origins: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.token = token
        self.extra_origins = extra_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan events pass straight through
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        # Non-browser clients send no Origin; a browser always does, so only a present one is checked.
        if origin is not None and not origin_allowed(origin, self.extra_origins):
            await _refuse(send, 403, f"origin not allowed: {origin}")
            return
        if self.token is not None and not self._authorized(headers.get("authorization", "")):
            await _refuse(send, 401, "missing or wrong bearer token", [(b"www-authenticate", b'Bearer realm="devroute"')])
            return
        await self.app(scope, receive, send)

    def _authorized(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        # compare_digest: the time taken must not reveal how much of the token matched.
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token.encode())  # type: ignore[union-attr]


async def _refuse(send: Send, status: int, message: str, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(extra_headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
