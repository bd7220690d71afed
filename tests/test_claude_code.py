"""The Claude Code CLI itself (npm @anthropic-ai/claude-code) on a project set up by `devroute init claude-code`.

Nothing of Claude Code is replaced: the real `claude` binary runs with a throwaway HOME. Only
the remote model is a stand-in: a small HTTP server in this file plays the Anthropic
Messages API (ANTHROPIC_BASE_URL points at it), records every request Claude Code sends, and
answers with a devroute tool call, then with text. From those requests the tests check what
Claude Code really did with the integration: the devroute MCP tools offered to the model,
the hook's note added to the prompt, the subagents and CLAUDE.md block loaded, the /triage
command expanded, and the tool call answered by the devroute server with structured content.

The CLI is installed by the `npm_clients` session fixture (tests/npm_clients.py); the tests
skip, saying why, only where npm is missing or the registry is unreachable.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devroute.core.config import load_settings
from devroute.core.decision_log import DecisionLog
from devroute.core.hook import subagent_for
from devroute.core.integrations import SUBAGENT_FAMILIES, subagent_name
from npm_clients import NpmClients, npm_clients  # noqa: F401  (session fixture)

TOOLS = ("triage_prompt", "route_prompt", "rewrite_prompt", "list_models", "explain_decision", "record_outcome")
DEVROUTE = [sys.executable, "-m", "devroute.cli.main"]
VENV_BIN = str(Path(sys.executable).parent)
TASK = "It sometimes returns wrong results in my Django view, fix it"
FINAL_TEXT = "Done: the stand-in model has finished."
# Variables from a developer's shell that would send Claude Code elsewhere or change its setup.
SCRUBBED_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "AWS_", "GOOGLE_", "VERTEX_")


# -- a stand-in for the remote Messages API ---------------------------------------------------------------


@dataclass
class MessagesApiStandIn:
    """Answers POST /v1/messages like the Anthropic API (streamed or not) and keeps every request body.

    It plays a model that wants to call `tool_call`: once the tool's schema is offered, it calls
    it (once); while Claude Code only lists the tool by name as deferred, it first asks
    ToolSearch for it, as a model must. Every other turn is answered with FINAL_TEXT.
    """

    tool_call: dict | None = None
    requests: list[dict] = field(default_factory=list)
    url: str = ""

    def answer(self, body: dict) -> dict:
        offered = {t.get("name") for t in body.get("tools", [])}
        called = {block.get("name") for m in body.get("messages", []) if m.get("role") == "assistant" and isinstance(m.get("content"), list)
                  for block in m["content"] if block.get("type") == "tool_use"}
        target = self.tool_call["name"] if self.tool_call else None
        content: list[dict] = [{"type": "text", "text": FINAL_TEXT}]
        if target and target not in called:
            if target in offered:
                content = [{"type": "tool_use", "id": "toolu_devroute_1", **self.tool_call}]
            elif "ToolSearch" in offered and "ToolSearch" not in called and target in json.dumps(body):
                content = [{"type": "tool_use", "id": "toolu_search_1", "name": "ToolSearch", "input": {"query": f"select:{target}", "max_results": 5}}]
        stop = "tool_use" if content[0]["type"] == "tool_use" else "end_turn"
        return {"id": f"msg_{len(self.requests)}", "type": "message", "role": "assistant", "model": body.get("model", "stand-in"),
                "content": content, "stop_reason": stop, "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 7}}


def sse_events(message: dict) -> Iterator[tuple[str, dict]]:
    yield "message_start", {"type": "message_start", "message": {**message, "content": [], "stop_reason": None}}
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            start, delta = {"type": "text", "text": ""}, {"type": "text_delta", "text": block["text"]}
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": start}
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                            "usage": {"output_tokens": 7}}
    yield "message_stop", {"type": "message_stop"}


def handler_for(api: MessagesApiStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self.send_response(200)
            self.end_headers()

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
            if self.path.split("?")[0].endswith("/count_tokens"):
                return self.send_json({"input_tokens": 12})
            api.requests.append(body)
            message = api.answer(body)
            if not body.get("stream"):
                return self.send_json(message)
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for name, data in sse_events(message):
                self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()

        def send_json(self, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def messages_api() -> Iterator[MessagesApiStandIn]:
    api = MessagesApiStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(api))
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()


# -- a project set up the way a user does it ------------------------------------------------------------------


@dataclass
class ClaudeProject:
    root: Path
    env: dict[str, str]
    claude_command: list[str]

    def claude(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.claude_command, *args], cwd=self.root, env={**self.env, **extra_env},
                              capture_output=True, text=True, timeout=180)

    def trust(self) -> None:
        """What accepting Claude Code's trust dialog for the folder records (the CLI names this key)."""
        state_file = Path(self.env["HOME"]) / ".claude.json"
        state = json.loads(state_file.read_text()) if state_file.exists() else {}
        state.setdefault("projects", {}).setdefault(str(self.root), {})["hasTrustDialogAccepted"] = True
        state_file.write_text(json.dumps(state))


@pytest.fixture
def claude_project(npm_clients: NpmClients, tmp_path: Path) -> ClaudeProject:  # noqa: F811
    root = (tmp_path / "project").resolve()
    home = tmp_path / "home"
    root.mkdir()
    home.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env.update(HOME=str(home), PATH=os.pathsep.join([VENV_BIN, env.get("PATH", "")]),
               DISABLE_AUTOUPDATER="1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_TELEMETRY="1")
    setup = subprocess.run([*DEVROUTE, "init", "claude-code"], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert setup.returncode == 0, setup.stderr
    return ClaudeProject(root=root, env=env, claude_command=npm_clients.claude)


def texts(node: object) -> Iterator[str]:
    """Every string in a request body (system prompt, messages, tool descriptions)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from texts(value)


def logged(decision_id: str):
    log = DecisionLog(load_settings().log_path())
    try:
        return log.get(decision_id)
    finally:
        log.close()


# -- the tests ------------------------------------------------------------------------------------------------------


def test_claude_mcp_list_reports_devroute_connected(claude_project: ClaudeProject) -> None:
    claude_project.trust()  # the approval init records applies in a trusted folder
    listed = claude_project.claude("mcp", "list")
    lines = {line.split(":", 1)[0]: line for line in listed.stdout.splitlines() if ":" in line}
    assert "devroute" in lines, listed.stdout + listed.stderr
    assert "devroute mcp" in lines["devroute"] and "Connected" in lines["devroute"], listed.stdout


def test_claude_p_offers_the_tools_adds_the_note_and_gets_structured_tool_results(
    claude_project: ClaudeProject, messages_api: MessagesApiStandIn
) -> None:
    messages_api.tool_call = {"name": "mcp__devroute__route_prompt", "input": {"prompt": TASK}}
    claude_project.trust()
    run = claude_project.claude("-p", TASK, "--output-format", "json", ANTHROPIC_BASE_URL=messages_api.url, ANTHROPIC_API_KEY="sk-ant-stand-in")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["result"] == FINAL_TEXT and not result["is_error"], result
    assert result.get("permission_denials") == [], "the tool permission written by init did not apply"

    conversation = [r for r in messages_api.requests if any(TASK in text for text in texts(r.get("messages", [])))]
    assert conversation, f"no request carried the prompt: {len(messages_api.requests)} requests"
    first = conversation[0]
    everything = "\n".join(texts(first))
    # The devroute MCP tools are offered to the model: with their schemas, or by name as deferred
    # tools that ToolSearch loads (newer Claude Code releases defer MCP tools).
    offered = {t["name"] for t in first["tools"]}
    for tool in TOOLS:
        assert f"mcp__devroute__{tool}" in offered or re.search(rf"^mcp__devroute__{tool}$", everything, re.M), tool
    # The subagents and the CLAUDE.md block are loaded.
    for family in SUBAGENT_FAMILIES:
        assert f"{subagent_name(family)}: Runs a task that devroute routed to Claude {family.capitalize()}" in everything
    assert "## Model routing with devroute" in everything

    # The hook's note reaches the model, and names the decision it logged.
    note = re.search(r"devroute \(local prompt triage, advisory\): .*?record_outcome when the task is done\.", everything, re.S)
    assert note, "the UserPromptSubmit hook's note is not in the request"
    decision_id = re.search(r"devroute decision ([0-9a-f]{32})", note.group(0)).group(1)
    decision = logged(decision_id)
    assert f"Recommended Claude model: {decision.selected_model} " in note.group(0)
    assert f"the {subagent_for(decision.selected_model)} subagent" in note.group(0)

    # The model's call went to the devroute server, and its structured result came back.
    results = [block for r in conversation for m in r["messages"] if isinstance(m.get("content"), list) for block in m["content"]
               if block.get("type") == "tool_result" and block.get("tool_use_id") == "toolu_devroute_1"]
    assert results and not results[-1].get("is_error"), results
    content = results[-1]["content"]
    payload = json.loads(content if isinstance(content, str) else "".join(b["text"] for b in content if b.get("type") == "text"))
    assert payload["recommended_model"] == payload["decision"]["selected_model"]
    assert logged(payload["decision_id"]).selected_model == payload["recommended_model"]
    assert payload["decision"]["triage"]["intent"] == decision.triage.intent.value


def test_the_triage_slash_command_expands_and_the_hook_leaves_it_alone(
    claude_project: ClaudeProject, messages_api: MessagesApiStandIn
) -> None:
    claude_project.trust()
    run = claude_project.claude("-p", f"/triage {TASK}", "--output-format", "json",
                                ANTHROPIC_BASE_URL=messages_api.url, ANTHROPIC_API_KEY="sk-ant-stand-in")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["result"] == FINAL_TEXT
    conversation = [r for r in messages_api.requests if any(TASK in text for text in texts(r.get("messages", [])))]
    assert conversation, "no request reached the stand-in model"
    everything = "\n".join(texts(conversation[0]))
    assert "Before working on the task below, triage and route it with the devroute tools." in everything
    assert f"Task:\n{TASK}" in everything
    assert "devroute (local prompt triage, advisory)" not in everything  # /triage does its own triage
