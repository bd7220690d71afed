"""The MCP server over streamable HTTP, as a real subprocess: both protocol modes, concurrency, Origin and token checks."""

from __future__ import annotations

import subprocess

import anyio
import httpx2
import pytest

from devroute.core.catalog import load_catalog
from devroute.core.schema import Decision
from mcp_fixtures import (  # noqa: F401  (fixtures)
    EXPECTED_PROTOCOLS,
    MODES,
    SERVER,
    HttpServer,
    ServerEnv,
    http_server,
    server_env,
    start_http_server,
    stop,
)

PROMPT = "Refactor the payment module to use async I/O without changing its public API"
INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}},
}
POST_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.mark.parametrize("mode", MODES)
async def test_tools_resources_and_prompt_over_http(http_server: HttpServer, mode: str) -> None:
    async with http_server.client(mode) as client:
        assert client.protocol_version in EXPECTED_PROTOCOLS[mode]
        tools = {tool.name for tool in (await client.list_tools()).tools}
        routed = await client.call_tool("route_prompt", {"prompt": PROMPT})
        explained = await client.call_tool("explain_decision", {"decision_id": routed.structured_content["decision_id"]})
        policy = await client.read_resource("devroute://policy")
        prompt = await client.get_prompt("triage_first", {"task": PROMPT})
    assert tools == {"triage_prompt", "route_prompt", "rewrite_prompt", "list_models", "explain_decision", "record_outcome"}
    assert not routed.is_error and not explained.is_error
    decision = Decision.model_validate(routed.structured_content["decision"])
    assert decision.selected_model in {c.id for c in load_catalog()}
    assert explained.structured_content["selected_model"] == decision.selected_model
    assert '"threshold"' in policy.contents[0].text
    assert PROMPT in prompt.messages[0].content.text


@pytest.mark.parametrize("mode", MODES)
async def test_concurrent_calls_lose_no_decision(server_env: ServerEnv, http_server: HttpServer, mode: str) -> None:
    sessions, calls_per_session = 4, 15  # 60 calls in flight at once over 4 sessions
    ids: list[str] = []

    async def one_session(session: int) -> None:
        async with http_server.client(mode) as client:
            async def call(n: int) -> None:
                result = await client.call_tool("route_prompt", {"prompt": f"{PROMPT} (session {session}, call {n})"})
                assert not result.is_error, result.content
                ids.append(result.structured_content["decision_id"])

            async with anyio.create_task_group() as tg:
                for n in range(calls_per_session):
                    tg.start_soon(call, n)

    async with anyio.create_task_group() as tg:
        for session in range(sessions):
            tg.start_soon(one_session, session)

    assert len(ids) == len(set(ids)) == sessions * calls_per_session
    log = server_env.open_log()
    try:
        assert log.count() == len(ids)
        logged = {log.get(i).id for i in ids}
    finally:
        log.close()
    assert logged == set(ids)


async def test_foreign_origin_is_refused(http_server: HttpServer) -> None:
    async with httpx2.AsyncClient() as http:
        evil = await http.post(http_server.url, json=INITIALIZE, headers={**POST_HEADERS, "Origin": "http://evil.example"})
        null = await http.post(http_server.url, json=INITIALIZE, headers={**POST_HEADERS, "Origin": "null"})
        local = await http.post(http_server.url, json=INITIALIZE, headers={**POST_HEADERS, "Origin": "http://localhost:5173"})
    assert evil.status_code == 403 and "origin not allowed" in evil.json()["error"]
    assert null.status_code == 403
    assert local.status_code == 200
    # An MCP client behind a foreign origin cannot get a session either.
    with pytest.raises(Exception):
        async with http_server.client(origin="http://evil.example") as client:
            await client.list_tools()


async def test_extra_origin_from_environment(server_env: ServerEnv) -> None:
    server = start_http_server(server_env, env=server_env.with_vars(DEVROUTE_MCP_ALLOWED_ORIGINS="https://tools.example.com"))
    try:
        async with server.client(origin="https://tools.example.com") as client:
            assert (await client.call_tool("list_models", {})).structured_content["models"]
    finally:
        stop(server.process)


@pytest.mark.parametrize("mode", MODES)
async def test_bearer_token_from_environment(server_env: ServerEnv, mode: str) -> None:
    token = "s3cret-token-for-tests"
    server = start_http_server(server_env, env=server_env.with_vars(DEVROUTE_MCP_TOKEN=token))
    try:
        async with httpx2.AsyncClient() as http:
            missing = await http.post(server.url, json=INITIALIZE, headers=POST_HEADERS)
            wrong = await http.post(server.url, json=INITIALIZE, headers={**POST_HEADERS, "Authorization": "Bearer nope"})
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        assert wrong.status_code == 401
        async with server.client(mode, token=token) as client:
            result = await client.call_tool("triage_prompt", {"prompt": PROMPT})
        assert not result.is_error and result.structured_content["intent"]
    finally:
        stop(server.process)


def test_refuses_non_loopback_bind_without_token(server_env: ServerEnv) -> None:
    done = subprocess.run(
        [*SERVER, "mcp", "--http", "--host", "0.0.0.0", "--port", "0"],
        env=server_env.env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "DEVROUTE_MCP_TOKEN" in done.stderr and "127.0.0.1" in done.stderr


async def test_malformed_json_body_keeps_the_session(http_server: HttpServer) -> None:
    async with http_server.client("legacy") as client:
        async with httpx2.AsyncClient() as http:
            garbage = await http.post(http_server.url, content=b'{"jsonrpc": "2.0", "id": 7, "method": ', headers=POST_HEADERS)
            binary = await http.post(http_server.url, content=b"\xff\xfe\x00\x81not json", headers=POST_HEADERS)
        assert garbage.status_code == 400 and binary.status_code == 400
        result = await client.call_tool("route_prompt", {"prompt": PROMPT})
    assert not result.is_error
