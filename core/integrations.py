"""What `devroute init CLIENT` writes into a project, worked out in memory before anything is written.

An integration is a list of artifacts, one file each, of three kinds:

- JsonEntries: a JSON config the user may already have, holding other MCP servers, hooks or
  permissions. devroute adds its own entries and never changes or removes anything already
  there; an existing `devroute` server entry is kept as the user left it (they may have
  given it an absolute path or a config variable).
- ManagedBlock: a text file the user owns (CLAUDE.md). devroute owns one block between two
  marker lines and rewrites only that block.
- OwnedFile: a file that belongs to devroute (subagents, the slash command, the Cursor rule,
  the Neovim plugin), written from the template below.

`plan_integration` reads the current files and returns a Plan: per file, create / update /
unchanged and a unified diff (what --dry-run prints). `apply_plan` writes it. A second run
finds nothing to change, so init is idempotent. The templates are the Python constants
below; integrations/ in the repository holds the same files as `devroute init` writes them
(tests/test_init.py keeps the two in step).
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from .errors import DevrouteError

CLIENTS: tuple[str, ...] = ("claude-code", "cursor", "vscode", "neovim")
SERVER_NAME = "devroute"
HOOK_COMMAND = "devroute hook claude-code"
# Claude Code kills a hook after this many seconds; the hook gives up silently well before
# (its own budget, about 2 s), so this is only a backstop.
HOOK_TIMEOUT_S = 10
# A hook the user already has for devroute, possibly with extra options (--config ...).
_DEVROUTE_HOOK = re.compile(r"\bdevroute\b.*\bhook\s+claude-code\b")
# Claude Code names MCP tools mcp__<server>__<tool>; the bare server prefix allows them all.
CLAUDE_PERMISSION = f"mcp__{SERVER_NAME}"
VSCODE_EXTENSION_ID = "devroute.devroute"  # publisher.name in integrations/vscode/package.json
SUBAGENT_FAMILIES: tuple[str, ...] = ("haiku", "sonnet", "opus")


class IntegrationError(DevrouteError):
    """A config file devroute would merge into cannot be read or merged safely."""


# -- templates ----------------------------------------------------------------------------------

MCP_STDIO_ENTRY = {"type": "stdio", "command": "devroute", "args": ["mcp"]}
# Claude Code writes an empty env itself (`claude mcp add`); keep the same shape.
CLAUDE_MCP_ENTRY = {**MCP_STDIO_ENTRY, "env": {}}

_SUBAGENT_USE = {
    "haiku": "Small, well-specified work: explanations, documentation, boilerplate, focused single-file fixes.",
    "sonnet": "Everyday engineering: multi-step debugging, features and refactors across a few files.",
    "opus": "The hardest work: architecture, subtle concurrency or security bugs, large multi-file refactors.",
}

_SUBAGENT = """\
---
name: devroute-{family}
description: Runs a task that devroute routed to Claude {Family} (the devroute note on the prompt names devroute-{family}, or route_prompt recommended a claude-{family} model). {use}
model: {family}
---
You are working on a task that devroute, this project's model router, judged {Family} able to
do at the lowest expected cost.

- Work only on the task you were given; the main agent passes on the context the user gave.
- If something you need is neither in the task nor in the repository (the error output, the
  expected behaviour, steps to reproduce, what done means), stop and say exactly what is
  missing instead of guessing.
- Finish with what you changed (each file and a one-line summary), how you checked it, and
  whether it worked, so the main agent can record the outcome with devroute.
"""

TRIAGE_COMMAND = """\
---
description: Triage a task with devroute, ask for missing context, then hand it to the recommended model
argument-hint: <task>
---
Before working on the task below, triage and route it with the devroute tools.

1. Call `mcp__devroute__triage_prompt` with the task exactly as written. If `missing_items`
   lists context that is not in the repository either (error output, expected behaviour,
   steps to reproduce, acceptance criteria), ask me for it, one short question per item, and
   wait for my answer; then work from the completed task.
2. Call `mcp__devroute__route_prompt` with the completed task and `allowed_models` set to the
   Claude model ids (the `claude-...` ids of `mcp__devroute__list_models`). Keep `decision_id`.
3. Tell me in one line which model devroute recommends, its P(success) and expected cost.
   Then delegate the work to the subagent for that model's family: `devroute-haiku`,
   `devroute-sonnet` or `devroute-opus`, with the completed task and what you have learned.
4. When the subagent is done, or the task has clearly failed, call
   `mcp__devroute__record_outcome` with the decision_id, success true or false, and a
   one-sentence note.

Task:
$ARGUMENTS
"""

CLAUDE_MD_BEGIN = "<!-- devroute:begin (written by `devroute init claude-code`; re-running it rewrites this block) -->"
CLAUDE_MD_END = "<!-- devroute:end -->"
CLAUDE_MD_BLOCK = f"""\
{CLAUDE_MD_BEGIN}
## Model routing with devroute

A devroute hook triages each prompt locally and adds a short note to it: the intent, the
context worth asking for, the recommended model and the subagent that runs it.

- If the note lists context worth asking about and the task cannot go ahead without it, ask
  for it first, in one message.
- Delegate self-contained tasks to the subagent the note names (`devroute-haiku`,
  `devroute-sonnet` or `devroute-opus`), passing the full task and the context gathered so
  far. Answer quick questions and follow-ups yourself.
- When a delegated task is finished or has clearly failed, call the devroute
  `record_outcome` tool with the note's decision id, whether it succeeded and a
  one-sentence note.
- `/triage <task>` runs the same steps explicitly.
{CLAUDE_MD_END}
"""

CURSOR_RULE = """\
---
description: When to call the devroute MCP tools (prompt triage and model routing)
globs:
alwaysApply: true
---
# devroute: triage first, then route

The devroute MCP server is set up for this project: `triage_prompt`, `route_prompt`,
`rewrite_prompt`, `list_models`, `explain_decision`, `record_outcome`.

- At the start of a new task (not a follow-up in the same thread), call `triage_prompt` with
  the request exactly as written. If `missing_items` lists context that is not in the
  repository either (error output, expected behaviour, steps to reproduce, acceptance
  criteria), ask for it in one short message before changing code. Look up versions and
  code yourself.
- Before non-trivial work, call `route_prompt` with the request and tell the user in one line
  which model devroute recommends (`recommended_model`) and its expected cost. If that model
  is cheaper than the one selected in Cursor, suggest switching for this task. Keep the
  `decision_id`.
- If the user asks why that model, call `explain_decision` with the decision_id.
- When the task is finished or has clearly failed, call `record_outcome` with the
  decision_id, success true or false, and a one-sentence note.
- Skip devroute for quick questions, follow-ups and small talk.
"""

NEOVIM_PLUGIN = """\
-- devroute in Neovim's built-in LSP client, written by `devroute init neovim`.
-- Prompt triage on Markdown and text buffers: a diagnostic per piece of missing context, a
-- hover with the recommended model and its cost (K), code actions such as "Rewrite prompt"
-- (vim.lsp.buf.code_action()). Needs Neovim 0.11+ and `devroute` on PATH (pip install devroute).
-- Settings go under `settings.devroute` (policy, globs, split, severity, debounceMs; see
-- lsp_server/README.md in the devroute repository).
if vim.fn.has("nvim-0.11") == 0 then
  vim.notify("devroute: this setup needs Neovim 0.11+ (vim.lsp.config); on older versions use integrations/neovim/devroute.lua", vim.log.levels.WARN)
  return
end

-- Cursor rule files are Markdown.
vim.filetype.add({ extension = { mdc = "markdown" } })

vim.lsp.config("devroute", {
  cmd = { "devroute", "lsp" },
  filetypes = { "markdown", "text" },
  root_markers = { ".git", "AGENTS.md", "CLAUDE.md", ".claude", ".cursor" },
  settings = { devroute = {} },
})
vim.lsp.enable("devroute")
"""


def subagent_name(family: str) -> str:
    return f"devroute-{family}"


def subagent_text(family: str) -> str:
    return _SUBAGENT.format(family=family, Family=family.capitalize(), use=_SUBAGENT_USE[family])


# -- JSON editing: add entries, never change or remove the user's ------------------------------

JsonValue = dict | list | str | int | float | bool | None


def _object_at(data: dict, keys: tuple[str, ...], where: str) -> dict:
    node = data
    for depth, key in enumerate(keys):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            dotted = ".".join(keys[: depth + 1])
            raise IntegrationError(f"{where}: '{dotted}' should be a JSON object, found {type(child).__name__}; fix it by hand and run init again")
        node = child
    return node


def _list_at(data: dict, keys: tuple[str, ...], where: str) -> list:
    parent = _object_at(data, keys[:-1], where)
    items = parent.setdefault(keys[-1], [])
    if not isinstance(items, list):
        raise IntegrationError(f"{where}: '{'.'.join(keys)}' should be a JSON array, found {type(items).__name__}; fix it by hand and run init again")
    return items


def add_entry(keys: tuple[str, ...], name: str, value: JsonValue) -> Callable[[dict, str], None]:
    """Add `name: value` to the object at `keys` unless `name` is already there."""

    def edit(data: dict, where: str) -> None:
        _object_at(data, keys, where).setdefault(name, copy.deepcopy(value))

    return edit


def add_to_list(keys: tuple[str, ...], item: JsonValue) -> Callable[[dict, str], None]:
    """Append `item` to the array at `keys` unless an equal item is already in it."""

    def edit(data: dict, where: str) -> None:
        items = _list_at(data, keys, where)
        if item not in items:
            items.append(copy.deepcopy(item))

    return edit


def add_claude_hook(data: dict, where: str) -> None:
    """Add the UserPromptSubmit hook unless some hook already runs `devroute ... hook claude-code`."""
    groups = _list_at(data, ("hooks", "UserPromptSubmit"), where)
    for group in groups:
        hooks = group.get("hooks") if isinstance(group, dict) else None
        for hook in hooks if isinstance(hooks, list) else []:
            if isinstance(hook, dict) and _DEVROUTE_HOOK.search(str(hook.get("command", ""))):
                return
    groups.append({"hooks": [{"type": "command", "command": HOOK_COMMAND, "timeout": HOOK_TIMEOUT_S}]})


# -- artifacts ----------------------------------------------------------------------------------


def _dump_json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


_JSONC_NOISE = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/|,(?=\s*[}\]])', re.S)


def _without_jsonc_noise(text: str) -> str:
    """Drop // and /* */ comments and trailing commas, leaving strings alone."""
    return _JSONC_NOISE.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text)


@dataclass(frozen=True)
class JsonEntries:
    path: str
    edits: tuple[Callable[[dict, str], None], ...]
    # VS Code's config files are JSONC; a file with comments is not rewritten (they would be lost).
    jsonc: bool = False

    def render(self, current: str | None, where: str) -> str:
        data = self._parse(current, where) if current and current.strip() else {}
        before = copy.deepcopy(data)
        for edit in self.edits:
            edit(data, where)
        if current is not None and data == before:
            return current  # nothing to add: leave the user's formatting alone
        return _dump_json(data)

    def _parse(self, text: str, where: str) -> dict:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            if self.jsonc:
                try:
                    json.loads(_without_jsonc_noise(text))
                except json.JSONDecodeError:
                    pass
                else:
                    raise IntegrationError(
                        f"{where} has comments or trailing commas; devroute does not rewrite it so they are kept. "
                        f"Add this yourself: {self.snippet()}"
                    ) from None
            raise IntegrationError(f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix it and run init again") from None
        if not isinstance(data, dict):
            raise IntegrationError(f"{where}: expected a JSON object at the top level, found {type(data).__name__}")
        return data

    def snippet(self) -> str:
        data: dict = {}
        for edit in self.edits:
            edit(data, self.path)
        return json.dumps(data, ensure_ascii=False)


@dataclass(frozen=True)
class ManagedBlock:
    path: str
    block: str
    begin: str
    end: str

    def render(self, current: str | None, where: str) -> str:
        if not current:
            return self.block
        start = current.find(self.begin)
        if start < 0:
            separator = "" if current.endswith("\n\n") else "\n" if current.endswith("\n") else "\n\n"
            return current + separator + self.block
        stop = current.find(self.end, start)
        if stop < 0:
            raise IntegrationError(f"{where}: found '{self.begin[:22]}...' but no '{self.end}' after it; restore or delete the devroute block and run init again")
        stop += len(self.end)
        if current[stop : stop + 1] == "\n":
            stop += 1
        return current[:start] + self.block + current[stop:]


@dataclass(frozen=True)
class OwnedFile:
    path: str
    text: str

    def render(self, current: str | None, where: str) -> str:
        return self.text


Artifact = JsonEntries | ManagedBlock | OwnedFile


def artifacts(client: str) -> list[Artifact]:
    """The files an integration consists of, with paths relative to the target directory."""
    if client == "claude-code":
        return [
            JsonEntries(".mcp.json", (add_entry(("mcpServers",), SERVER_NAME, CLAUDE_MCP_ENTRY),)),
            JsonEntries(".claude/settings.json", (add_claude_hook, add_to_list(("permissions", "allow"), CLAUDE_PERMISSION))),
            # Servers from a project's .mcp.json wait for each user's approval; running init is the
            # user's approval, recorded in their personal (not committed) settings.
            JsonEntries(".claude/settings.local.json", (add_to_list(("enabledMcpjsonServers",), SERVER_NAME),)),
            *(OwnedFile(f".claude/agents/{subagent_name(f)}.md", subagent_text(f)) for f in SUBAGENT_FAMILIES),
            OwnedFile(".claude/commands/triage.md", TRIAGE_COMMAND),
            ManagedBlock("CLAUDE.md", CLAUDE_MD_BLOCK, CLAUDE_MD_BEGIN, CLAUDE_MD_END),
        ]
    if client == "cursor":
        return [
            JsonEntries(".cursor/mcp.json", (add_entry(("mcpServers",), SERVER_NAME, MCP_STDIO_ENTRY),)),
            OwnedFile(".cursor/rules/devroute.mdc", CURSOR_RULE),
        ]
    if client == "vscode":
        return [
            JsonEntries(".vscode/mcp.json", (add_entry(("servers",), SERVER_NAME, MCP_STDIO_ENTRY), add_entry((), "inputs", [])), jsonc=True),
            JsonEntries(".vscode/extensions.json", (add_to_list(("recommendations",), VSCODE_EXTENSION_ID),), jsonc=True),
        ]
    if client == "neovim":
        return [OwnedFile("plugin/devroute.lua", NEOVIM_PLUGIN)]
    raise IntegrationError(f"unknown client '{client}' (choose from {', '.join(CLIENTS)})")


def default_dir(client: str, cwd: Path) -> Path:
    """Where init writes by default: the project (cwd), or for Neovim its config directory."""
    if client == "neovim":
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(base) / "nvim"
    return cwd


# -- the plan -------------------------------------------------------------------------------------


class FileChange(BaseModel):
    path: str = Field(description="Relative to the target directory, with / separators.")
    action: Literal["create", "update", "unchanged"]
    diff: str = Field(default="", description="Unified diff from the current file (or /dev/null) to the new one.")
    content: str = Field(default="", repr=False, description="The file as init writes it.")


class Plan(BaseModel):
    client: str
    root: Path
    changes: list[FileChange]

    @property
    def pending(self) -> list[FileChange]:
        return [c for c in self.changes if c.action != "unchanged"]


def _read(path: Path, where: str) -> str | None:
    if not path.exists():
        return None
    if not path.is_file():
        raise IntegrationError(f"{where} exists but is not a file")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise IntegrationError(f"cannot read {where}: {exc}") from None


def _diff(old: str | None, new: str, path: str) -> str:
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile="/dev/null" if old is None else f"a/{path}", tofile=f"b/{path}",
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def plan_integration(client: str, root: Path) -> Plan:
    """Read the target files and work out every change, without writing anything."""
    # A project directory must exist (a typo should not create a stray tree); Neovim's config
    # directory may not exist yet on a fresh machine.
    if client != "neovim" and not root.is_dir():
        raise IntegrationError(f"{root} is not a directory (give the project with --dir)")
    changes = []
    for artifact in artifacts(client):
        target = root / artifact.path
        where = str(target)
        current = _read(target, where)
        new = artifact.render(current, where)
        if current == new:
            changes.append(FileChange(path=artifact.path, action="unchanged", content=new))
        else:
            action = "create" if current is None else "update"
            changes.append(FileChange(path=artifact.path, action=action, diff=_diff(current, new, artifact.path), content=new))
    return Plan(client=client, root=root, changes=changes)


def apply_plan(plan: Plan) -> list[FileChange]:
    """Write the created and updated files (each atomically); returns what was written."""
    for change in plan.pending:
        target = plan.root / change.path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(change.content)
            if target.exists():
                os.chmod(tmp, target.stat().st_mode & 0o7777)
            else:
                os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except OSError as exc:
            raise IntegrationError(f"cannot write {target}: {exc.strerror or exc}") from None
    return plan.pending


NEXT_STEPS: dict[str, str] = {
    "claude-code": (
        "Next: run `claude` in the project once and accept the trust prompt (Claude Code applies a project's\n"
        "MCP approval and tool permissions only in a trusted folder). Check it: `claude mcp list` prints\n"
        "`devroute: devroute mcp - ✔ Connected`. Every prompt now carries a devroute note (missing context,\n"
        "recommended model, subagent); `/triage <task>` triages, routes and delegates explicitly."
    ),
    "cursor": (
        "Check it: Cursor Settings > MCP lists devroute with 6 tools (enable it if Cursor asks). The agent\n"
        "follows .cursor/rules/devroute.mdc: it triages new tasks and names the recommended model."
    ),
    "vscode": (
        "Check it: run `MCP: List Servers`, start devroute, and pick its tools in the agent-mode tool picker.\n"
        "For diagnostics on prompt files, install the devroute language-server extension (recommended in\n"
        ".vscode/extensions.json): build it in integrations/vscode (`npm ci && npm run check`) and run\n"
        "`code --install-extension out/devroute.vsix`."
    ),
    "neovim": (
        "Check it: open a Markdown prompt; `:checkhealth vim.lsp` lists devroute, missing context shows as\n"
        "diagnostics, K shows the recommended model, and vim.lsp.buf.code_action() offers the rewrite."
    ),
}
