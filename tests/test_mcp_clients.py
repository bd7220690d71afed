"""The shipped client configs in integrations/ launch a working server; Claude Code's own CLI connects to it.

The Claude Code CLI comes from the `npm_clients` session fixture (tests/npm_clients.py), which
installs it from npm into a cache; `claude mcp list` needs no network or account.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mcp import Client, StdioServerParameters
from mcp_fixtures import ServerEnv, server_env, start_http_server, stop  # noqa: F401  (fixture)
from npm_clients import NpmClients, npm_clients  # noqa: F401  (session fixture)

INTEGRATIONS = Path(__file__).resolve().parents[1] / "integrations"
CONFIGS = {  # client -> (config file, key holding the servers)
    "claude-code": (INTEGRATIONS / "claude-code" / ".mcp.json", "mcpServers"),
    "cursor": (INTEGRATIONS / "cursor" / ".cursor" / "mcp.json", "mcpServers"),
    "vscode": (INTEGRATIONS / "vscode-mcp" / ".vscode" / "mcp.json", "servers"),
}
# The configs call `devroute` from PATH, as an installed package provides it.
VENV_BIN = str(Path(sys.executable).parent)


def with_devroute_on_path(env: dict[str, str]) -> dict[str, str]:
    return {**env, "PATH": os.pathsep.join([VENV_BIN, env.get("PATH", "")])}


@pytest.mark.parametrize("client_name", sorted(CONFIGS))
async def test_shipped_config_launches_the_server(server_env: ServerEnv, client_name: str) -> None:
    path, key = CONFIGS[client_name]
    entry = json.loads(path.read_text(encoding="utf-8"))[key]["devroute"]
    assert entry["type"] == "stdio" and entry["args"] == ["mcp"]
    env = with_devroute_on_path(server_env.env)
    command = shutil.which(entry["command"], path=env["PATH"])
    assert command is not None, f"{entry['command']} not on PATH"
    params = StdioServerParameters(command=command, args=entry["args"], env={**env, **entry.get("env", {})})
    async with Client(params) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
    assert tools == {"triage_prompt", "route_prompt", "rewrite_prompt", "list_models", "explain_decision", "record_outcome"}
    assert prompts == {"triage_first"}


def test_claude_code_connects_over_stdio_and_http(server_env: ServerEnv, npm_clients: NpmClients) -> None:  # noqa: F811
    token = "token-for-claude-code-test"
    http = start_http_server(server_env, env=server_env.with_vars(DEVROUTE_MCP_TOKEN=token))
    try:
        project, home = server_env.root / "project", server_env.root / "home"
        (project / ".claude").mkdir(parents=True)
        home.mkdir()
        # Claude Code reads project settings (the approval below) from the repository root.
        subprocess.run(["git", "init", "-q", str(project)], check=True)
        shutil.copy(CONFIGS["claude-code"][0], project / ".mcp.json")
        env = with_devroute_on_path({**server_env.env, "HOME": str(home)})
        # What accepting Claude Code's trust dialog records: without it a project's approvals stay pending.
        (home / ".claude.json").write_text(json.dumps({"projects": {str(project.resolve()): {"hasTrustDialogAccepted": True}}}))

        def claude(*args: str, **extra: str) -> subprocess.CompletedProcess:
            return subprocess.run([*npm_clients.claude, *args], cwd=project, env={**env, **extra}, capture_output=True, text=True, timeout=120)

        # The README's command for the HTTP transport, with the token left for Claude Code to expand.
        added = claude("mcp", "add", "-s", "project", "--transport", "http", "devroute-http", http.url,
                       "--header", "Authorization: Bearer ${DEVROUTE_MCP_TOKEN}")
        assert added.returncode == 0, added.stderr
        servers = json.loads((project / ".mcp.json").read_text())["mcpServers"]
        assert servers["devroute-http"]["headers"] == {"Authorization": "Bearer ${DEVROUTE_MCP_TOKEN}"}
        (project / ".claude" / "settings.local.json").write_text(json.dumps({"enabledMcpjsonServers": ["devroute", "devroute-http"]}))

        listed = claude("mcp", "list", DEVROUTE_MCP_TOKEN=token)
        lines = {line.split(":", 1)[0]: line for line in listed.stdout.splitlines() if ":" in line}
        assert "Connected" in lines["devroute"], listed.stdout
        assert "Connected" in lines["devroute-http"], listed.stdout

        refused = claude("mcp", "list", DEVROUTE_MCP_TOKEN="wrong-token")
        lines = {line.split(":", 1)[0]: line for line in refused.stdout.splitlines() if ":" in line}
        assert "Failed to connect" in lines["devroute-http"], refused.stdout
        assert "Connected" in lines["devroute"], refused.stdout
    finally:
        stop(http.process)
