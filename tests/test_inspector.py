"""The MCP Inspector CLI (npm @modelcontextprotocol/inspector, current major, on Node 22) against devroute.

Over stdio it starts the server from the `.mcp.json` that `devroute init claude-code` writes
(`--config .mcp.json --server devroute`, as a user points it at their project); over
streamable HTTP it connects to `devroute mcp --http` with a bearer token. Both list the tools
and call them. The Inspector and Node 22 come from the `npm_clients` session fixture
(tests/npm_clients.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devroute.core.config import load_settings
from devroute.core.router import Router
from npm_clients import NpmClients, npm_clients  # noqa: F401  (session fixture)
from mcp_fixtures import ServerEnv, server_env, start_http_server, stop  # noqa: F401  (fixture)

TOOLS = {"triage_prompt", "route_prompt", "rewrite_prompt", "list_models", "explain_decision", "record_outcome"}
VENV_BIN = str(Path(sys.executable).parent)
TASK = "It sometimes returns wrong results in my Django view, fix it"
TOKEN = "token-for-the-inspector-test"
TOOL_ERROR_EXIT = 5  # the Inspector CLI's exit status when a tool returns isError


class Inspector:
    def __init__(self, clients: NpmClients, server_env: ServerEnv) -> None:
        self.command = clients.inspector()
        self.server_env = server_env
        home = server_env.root / "inspector-home"  # it keeps a catalog under ~/.mcp-inspector
        home.mkdir(exist_ok=True)
        self.env = {**server_env.env, "HOME": str(home), "MCP_INSPECTOR_SECRET_STORE": "memory",
                    "PATH": os.pathsep.join([VENV_BIN, server_env.env.get("PATH", "")])}

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([*self.command, "--cli", *args], cwd=cwd or self.server_env.root, env=self.env,
                              capture_output=True, text=True, timeout=180)

    def json(self, *args: str, cwd: Path | None = None) -> dict:
        result = self.run(*args, cwd=cwd)
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def inspector(npm_clients: NpmClients, server_env: ServerEnv) -> Inspector:  # noqa: F811
    return Inspector(npm_clients, server_env)


@pytest.fixture
def stdio_target(inspector: Inspector, server_env: ServerEnv) -> list[str]:  # noqa: F811
    """The server as the project's .mcp.json describes it; its env passes the test's config through."""
    project = server_env.root / "project"
    project.mkdir()
    setup = subprocess.run([sys.executable, "-m", "devroute.cli.main", "init", "claude-code", "--dir", str(project)],
                           env=server_env.env, capture_output=True, text=True, timeout=120)
    assert setup.returncode == 0, setup.stderr
    # The Inspector starts stdio servers with a minimal environment, like other MCP clients: -e sets the config.
    return ["--config", str(project / ".mcp.json"), "--server", "devroute", "-e", f"DEVROUTE_CONFIG={server_env.config}"]


def test_stdio_lists_the_tools_with_output_schemas(inspector: Inspector, stdio_target: list[str]) -> None:
    tools = {tool["name"]: tool for tool in inspector.json(*stdio_target, "--method", "tools/list")["tools"]}
    assert set(tools) == TOOLS
    assert all(tool.get("outputSchema") for tool in tools.values())
    assert "recommended_model" in tools["route_prompt"]["outputSchema"]["properties"]
    assert tools["triage_prompt"]["annotations"]["readOnlyHint"] is True


def test_stdio_calls_triage_and_route_and_gets_structured_content(inspector: Inspector, stdio_target: list[str], server_env: ServerEnv) -> None:  # noqa: F811
    triage = inspector.json(*stdio_target, "--method", "tools/call", "--tool-name", "triage_prompt", "--tool-arg", f"prompt={TASK}")
    assert not triage.get("isError")
    router = Router(load_settings(server_env.config))
    try:
        assert triage["structuredContent"] == router.triage(TASK).model_dump(mode="json")
    finally:
        router.close()
    assert json.loads(triage["content"][0]["text"]) == triage["structuredContent"]

    allowed = ["claude-haiku-4.5", "claude-opus-4.7"]
    routed = inspector.json(*stdio_target, "--method", "tools/call", "--tool-name", "route_prompt",
                            "--tool-arg", f"prompt={TASK}", f"allowed_models={json.dumps(allowed)}")
    result = routed["structuredContent"]
    assert result["recommended_model"] in allowed
    log = server_env.open_log()
    try:
        assert log.get(result["decision_id"]).selected_model == result["recommended_model"]
    finally:
        log.close()


def test_stdio_tool_errors_come_back_as_tool_errors(inspector: Inspector, stdio_target: list[str]) -> None:
    failed = inspector.run(*stdio_target, "--method", "tools/call", "--tool-name", "explain_decision", "--tool-arg", "decision_id=no-such-id")
    assert failed.returncode == TOOL_ERROR_EXIT, failed.stdout + failed.stderr
    answer = json.loads(failed.stdout)
    assert answer["isError"] is True
    assert "no decision with id 'no-such-id'" in answer["content"][0]["text"]


def test_http_lists_and_calls_the_tools_with_a_token(inspector: Inspector, server_env: ServerEnv) -> None:  # noqa: F811
    server = start_http_server(server_env, env=server_env.with_vars(DEVROUTE_MCP_TOKEN=TOKEN))
    try:
        target = [server.url, "--transport", "http"]
        auth = ["--header", f"Authorization: Bearer {TOKEN}"]
        listed = inspector.json(*target, *auth, "--method", "tools/list")
        assert {tool["name"] for tool in listed["tools"]} == TOOLS

        routed = inspector.json(*target, *auth, "--method", "tools/call", "--tool-name", "route_prompt", "--tool-arg", f"prompt={TASK}")
        assert routed["structuredContent"]["recommended_model"] == routed["structuredContent"]["decision"]["selected_model"]

        refused = inspector.run(*target, "--header", "Authorization: Bearer wrong-token", "--method", "tools/list")
        assert refused.returncode != 0
        # The server's 401 reads to the Inspector as "this server wants authorization".
        error = json.loads(refused.stderr.strip().splitlines()[-1])["error"]
        assert error["code"] == "auth_required", refused.stderr
    finally:
        stop(server.process)
