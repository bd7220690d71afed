"""Bad input comes back as a tool error with a clear message, and never ends the session or the server."""

from __future__ import annotations

import json

import pytest

from mcp import Client
from mcp_fixtures import (  # noqa: F401  (fixtures)
    MODES,
    HttpServer,
    RawStdioServer,
    ServerEnv,
    http_server,
    server_env,
    stdio_params,
)

GOOD = {"prompt": "Add a --verbose flag to the CLI in cli/main.py that prints each step"}
ONE_MB = "x" * (1024 * 1024)

# (tool, arguments, words the error message must contain)
BAD_CALLS = [
    ("route_prompt", {"prompt": ""}, ["prompt is empty"]),
    ("triage_prompt", {"prompt": " \n\t "}, ["prompt is empty"]),
    ("route_prompt", {"prompt": ONE_MB}, ["1,048,576 characters", "limit is 200,000"]),
    ("rewrite_prompt", {"prompt": ONE_MB}, ["1,048,576 characters"]),
    ("route_prompt", {"prompt": "fix it\x00\x00" * 50}, ["binary"]),
    ("route_prompt", {**GOOD, "allowed_models": ["gpt-17-ultra"]}, ["unknown model", "gpt-17-ultra"]),
    ("route_prompt", {**GOOD, "fallback": "gpt-17-ultra"}, ["gpt-17-ultra", "not in"]),
    ("route_prompt", {**GOOD, "threshold": 1.5}, ["threshold", "less than or equal to 1"]),
    ("route_prompt", {"prompt": 42}, ["prompt", "string"]),
    ("route_prompt", {}, ["prompt", "required"]),
    ("explain_decision", {"decision_id": "does-not-exist"}, ["no decision with id 'does-not-exist'"]),
    ("record_outcome", {"decision_id": "does-not-exist", "success": True}, ["no decision with id 'does-not-exist'"]),
    ("record_outcome", {"decision_id": "x", "success": "maybe"}, ["success"]),
    ("no_such_tool", {}, ["no_such_tool"]),
]


@pytest.mark.parametrize("mode", MODES)
async def test_bad_calls_are_tool_errors_over_stdio(server_env: ServerEnv, mode: str) -> None:
    async with Client(stdio_params(server_env), mode=mode) as client:
        for tool, arguments, words in BAD_CALLS:
            result = await client.call_tool(tool, arguments)
            message = result.content[0].text
            assert result.is_error, (tool, arguments)
            for word in words:
                assert word.lower() in message.lower(), (tool, message)
            assert "Traceback" not in message
        # Still the same session, still answering.
        result = await client.call_tool("route_prompt", GOOD)
    assert not result.is_error and result.structured_content["recommended_model"]


async def test_unknown_decision_resource_is_a_clear_error(server_env: ServerEnv) -> None:
    async with Client(stdio_params(server_env), mode="legacy") as client:
        with pytest.raises(Exception, match="no decision with id 'nope'"):
            await client.read_resource("devroute://decision/nope")
        assert (await client.call_tool("list_models", {})).structured_content["models"]


@pytest.mark.parametrize("mode", MODES)
async def test_one_megabyte_prompt_over_http(http_server: HttpServer, mode: str) -> None:
    async with http_server.client(mode) as client:
        result = await client.call_tool("route_prompt", {"prompt": ONE_MB})
        assert result.is_error and "limit is 200,000" in result.content[0].text
        assert not (await client.call_tool("route_prompt", GOOD)).is_error


@pytest.mark.parametrize("mode", MODES)
async def test_raw_garbage_on_the_stdio_pipe_does_not_end_the_session(server_env: ServerEnv, mode: str) -> None:
    server = RawStdioServer(stdio_params(server_env))
    async with Client(server.transport(), mode=mode) as client:
        assert not (await client.call_tool("route_prompt", GOOD)).is_error

        await server.inject(b"\xff\xfe\xfd\x80\x81 not utf-8 at all \xc3\x28\n")  # invalid UTF-8 bytes
        await server.inject(b'{"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {\n')  # malformed JSON
        await server.inject(b'{"hello": "not a JSON-RPC message"}\n')  # valid JSON, not JSON-RPC
        await server.inject(b"\n")

        # A well-formed request whose prompt carries raw invalid UTF-8: the transport decodes it
        # with replacement characters and the tool answers with a result, not a dead pipe.
        request = {"jsonrpc": "2.0", "id": "raw-1", "method": "tools/call",
                   "params": {"name": "triage_prompt", "arguments": {"prompt": "PLACEHOLDER"}}}
        # Whatever envelope the negotiated protocol puts in _meta (2026-07-28 sends one on every
        # request), copy it from the client's own last call.
        last_call = [m for m in server.sent if m.get("method") == "tools/call"][-1]
        if "_meta" in last_call["params"]:
            request["params"]["_meta"] = last_call["params"]["_meta"]
        line = json.dumps(request).encode().replace(b"PLACEHOLDER", b"why does my parser crash on \xff\xfe bytes?")
        await server.inject(line + b"\n")
        reply = await server.raw_reply("raw-1")
        assert "result" in reply, reply

        # The session the garbage was written into still answers, and the server is still the same process.
        result = await client.call_tool("route_prompt", GOOD)
        assert not result.is_error, result.content
        models = await client.call_tool("list_models", {})
        assert models.structured_content["models"]
