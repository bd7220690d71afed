"""End to end: `devroute lsp` as a real subprocess, driven over stdio (and TCP) by pytest-lsp's client.

The expected diagnostics, rewrites and recommendations come from an in-process Router on the
same config: the language server must say exactly what the core says, block by block. The
rules backend is pinned for the tests that check specific wording ("missing: Flask version");
one test runs the configured default backend and checks only agreement with the core.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest_asyncio
from devroute.core.config import load_settings
from devroute.core.decision_log import DecisionLog
from devroute.core.prompt_blocks import missing_checklist, split_blocks, split_lines
from devroute.core.router import Router
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

SERVER = [sys.executable, "-m", "devroute.cli.main"]
WAIT_S = 30.0

FLASK = "My Flask app returns a 500 error on file upload, how do I fix it?"
CLEAN = "Explain how Python decorators work."
VAGUE = "It sometimes returns wrong results in my Django view, fix it"
NOTES = f"""# Upload bug

{FLASK}

# Decorators

{CLEAN}

# Django

{VAGUE}
"""


# -- fixtures -------------------------------------------------------------------------------


@dataclass
class Published:
    uri: str
    version: int | None
    diagnostics: list[types.Diagnostic]


@dataclass
class Recorder:
    """Every publishDiagnostics, in order, so tests can wait for a version and count notifications."""

    published: list[Published] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    lens_refreshes: int = 0

    def record(self, client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        client.diagnostics[params.uri] = params.diagnostics
        self.published.append(Published(params.uri, params.version, list(params.diagnostics)))
        self.changed.set()

    def for_uri(self, uri: str) -> list[Published]:
        return [p for p in self.published if p.uri == uri]

    async def wait(self, uri: str, version: int | None = None, after: int = 0) -> Published:
        """The first publication for uri (at or past `version`) beyond the first `after` ones."""

        async def first_match() -> Published:
            while True:
                matches = [p for p in self.for_uri(uri)[after:] if version is None or (p.version or 0) >= version]
                if matches:
                    return matches[0]
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(first_match(), WAIT_S)


@dataclass
class Session:
    client: LanguageClient
    recorder: Recorder
    root: Path
    config: Path

    def uri(self, name: str) -> str:
        return (self.root / name).as_uri()

    def open(self, name: str, text: str, language: str = "markdown") -> str:
        uri = self.uri(name)
        (self.root / name).parent.mkdir(parents=True, exist_ok=True)
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text))
        )
        return uri

    def change(self, uri: str, version: int, edit: types.TextEdit | None = None, text: str | None = None) -> None:
        if edit is not None:
            change: types.TextDocumentContentChangeEvent = types.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text)
        else:
            change = types.TextDocumentContentChangeWholeDocument(text=text or "")
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=[change]
            )
        )

    def core(self) -> Router:
        settings = load_settings(self.config)
        settings.log.enabled = False
        return Router(settings)

    def log(self) -> DecisionLog:
        return DecisionLog(self.root / "data" / "decisions.sqlite3")


def server_env(root: Path, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVROUTE_")}
    return {**env, "DEVROUTE_CONFIG": str(config), "DEVROUTE_DATA_DIR": str(root / "data")}


def write_config(root: Path, backend: str | None, text: str | None = None) -> Path:
    config = root / "devroute.toml"
    config.write_text(text if text is not None else f'[triage]\nbackend = "{backend}"\n' if backend else "")
    return config


def recording_client(recorder: Recorder) -> LanguageClient:
    client = LanguageClient(converter_factory=default_converter)

    def on_publish(ls: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
        recorder.record(ls, params)

    def on_lens_refresh(ls: LanguageClient, params: None) -> None:
        recorder.lens_refreshes += 1

    features = {
        **DEFAULT_CLIENT_FEATURES,
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: on_publish,
        types.WORKSPACE_CODE_LENS_REFRESH: on_lens_refresh,
    }
    register_lsp_features(client, features)
    return client


async def start_session(
    root: Path, options: object = None, backend: str | None = "features", capabilities: str = "visual-studio-code", config_text: str | None = None
) -> Session:
    recorder = Recorder()
    config = write_config(root, backend, config_text)
    server = ClientServerConfig(server_command=[*SERVER, "lsp"], client_factory=lambda: recording_client(recorder), server_env=server_env(root, config))
    client = await server.start()
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(capabilities),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="prompts")],
            initialization_options=options,
        )
    )
    return Session(client, recorder, root, config)


async def end_session(session: Session) -> None:
    await session.client.shutdown_session()
    await session.client.stop()


@pytest_asyncio.fixture
async def session(tmp_path: Path) -> AsyncIterator[Session]:
    live = await start_session(tmp_path, options={"debounceMs": 50})
    yield live
    await end_session(live)


def block_starting(text: str, needle: str):
    return next(b for b in split_blocks(text) if needle in b.text)


# -- diagnostics ----------------------------------------------------------------------------


async def test_diagnostics_are_one_per_missing_item(session: Session) -> None:
    uri = session.open("notes.md", NOTES)
    published = await session.recorder.wait(uri)

    core = session.core()
    expected = []
    for block in split_blocks(NOTES):
        for item in core.triage(block.text).missing_items:
            expected.append((block.start_line, f"missing: {item.text}", f"missing.{item.kind.value}"))
    got = [(d.range.start.line, d.message, d.code) for d in published.diagnostics]
    assert got == expected
    assert (2, "missing: Flask version", "missing.versions") in got
    assert all(d.source == "devroute" and d.severity == types.DiagnosticSeverity.Information for d in published.diagnostics)
    assert not [d for d in published.diagnostics if d.range.start.line == 6], "a complete prompt gets no diagnostic"
    flask = next(d for d in published.diagnostics if d.range.start.line == 2)
    assert flask.range.end == types.Position(line=2, character=len(FLASK))


async def test_diagnostics_follow_edits_after_a_debounce_without_flooding(session: Session) -> None:
    uri = session.open("notes.md", NOTES)
    await session.recorder.wait(uri, version=1)
    before = len(session.recorder.for_uri(uri))

    # A burst of keystrokes typing " (Flask 3.0.2)" at the end of the Flask prompt.
    typed = " (Flask 3.0.2)"
    for index, char in enumerate(typed):
        at = types.Position(line=2, character=len(FLASK) + index)
        session.change(uri, version=2 + index, edit=types.TextEdit(range=types.Range(start=at, end=at), new_text=char))
    last_version = 1 + len(typed)
    published = await session.recorder.wait(uri, version=last_version, after=before)

    assert published.version == last_version
    assert "missing: Flask version" not in [d.message for d in published.diagnostics]
    burst = session.recorder.for_uri(uri)[before:]
    assert len(burst) < len(typed), f"{len(burst)} publications for {len(typed)} keystrokes"
    assert all(p.version is not None for p in burst)


async def test_only_prompt_files_are_analysed_and_front_matter_is_skipped(session: Session) -> None:
    code_uri = session.open("app.py", f'"""{FLASK}"""\n', language="python")
    command = "---\ndescription: fix uploads\nargument-hint: [file]\n---\n\n" + FLASK + "\n"
    command_uri = session.open(".claude/commands/fix-upload.md", command)
    rule_uri = session.open(".cursor/rules/django.mdc", "---\nalwaysApply: true\n---\n" + VAGUE + "\n", language="mdc")
    agents_uri = session.open("AGENTS.md", f"## Debugging\n\n{FLASK}\n")

    for uri in (command_uri, rule_uri, agents_uri):
        await session.recorder.wait(uri)
    assert [d.range.start.line for d in session.client.diagnostics[command_uri]] == [5]
    assert {d.range.start.line for d in session.client.diagnostics[rule_uri]} == {3}
    assert [d.message for d in session.client.diagnostics[agents_uri]] == ["missing: Flask version"]
    # Opened first, handled first: had it been analysed, it would have been published by now.
    assert session.recorder.for_uri(code_uri) == []


async def test_the_configured_default_backend_agrees_with_the_core(tmp_path: Path) -> None:
    live = await start_session(tmp_path, options={}, backend=None)
    try:
        uri = live.open("prompt.prompt.md", NOTES)
        published = await live.recorder.wait(uri)
        core = live.core()
        expected = [
            (block.start_line, f"missing: {item.text}") for block in split_blocks(NOTES) for item in core.triage(block.text).missing_items
        ]
        assert [(d.range.start.line, d.message) for d in published.diagnostics] == expected
        hover = await live.client.text_document_hover_async(
            types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=2, character=0))
        )
        assert hover is not None
        assert core.route(FLASK, log=False).selected_model in hover.contents.value
    finally:
        await end_session(live)


# -- hover, code lens -----------------------------------------------------------------------


async def test_hover_shows_the_triage_and_the_recommendation(session: Session) -> None:
    uri = session.open("notes.md", NOTES)
    hover = await session.client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=2, character=5))
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    text = hover.contents.value
    decision = session.core().route(FLASK, log=False)
    for expected in (
        f"intent: **{decision.triage.intent.value}**",
        f"complexity: **{decision.triage.complexity.value}**",
        f"route: **{decision.triage.route.value}**",
        f"recommended model: **{decision.selected_model}**",
        f"P(success) {decision.confidence:.2f}",
        "expected cost:",
        f"the fallback {decision.fallback_model}",
        "Upload bug",
    ):
        assert expected in text, f"{expected!r} not in hover:\n{text}"
    assert hover.range == types.Range(start=types.Position(line=2, character=0), end=types.Position(line=2, character=len(FLASK)))

    heading_hover = await session.client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=2))
    )
    assert heading_hover is None, "a heading is a label, not a prompt"


async def test_code_lens_names_the_model_and_cost_of_each_block(session: Session) -> None:
    uri = session.open("notes.md", NOTES)
    lenses = await session.client.text_document_code_lens_async(types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    assert lenses is not None
    core = session.core()
    assert [lens.range.start.line for lens in lenses] == [b.start_line for b in split_blocks(NOTES)]
    for lens, block in zip(lenses, split_blocks(NOTES), strict=True):
        decision = core.route(block.text, log=False)
        assert lens.command is not None
        assert lens.command.title.startswith(f"devroute: {decision.selected_model} · $")
        assert lens.command.command == "devroute.routeBlock"
        assert list(lens.command.arguments) == [uri, block.start_line]


# -- code actions and the route command -----------------------------------------------------


async def code_actions(session: Session, uri: str, line: int) -> list[types.CodeAction | types.Command]:
    await session.recorder.wait(uri)
    diagnostics = [d for d in session.client.diagnostics[uri] if d.range.start.line == line]
    result = await session.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line=line, character=0), end=types.Position(line=line, character=0)),
            context=types.CodeActionContext(diagnostics=diagnostics),
        )
    )
    assert result is not None
    return list(result)


def apply(text: str, edit: types.TextEdit) -> str:
    lines = split_lines(text)
    start = sum(len(line) + 1 for line in lines[: edit.range.start.line]) + edit.range.start.character
    end = sum(len(line) + 1 for line in lines[: edit.range.end.line]) + edit.range.end.character
    return text[:start] + edit.new_text + text[end:]


async def test_rewrite_action_replaces_the_block_with_the_core_rewrite(session: Session) -> None:
    uri = session.open("notes.md", NOTES)
    actions = await code_actions(session, uri, line=10)
    rewrite = next(a for a in actions if a.title == "Rewrite prompt")
    assert rewrite.kind == types.CodeActionKind.RefactorRewrite
    assert rewrite.edit is not None and rewrite.edit.changes is not None
    [edit] = rewrite.edit.changes[uri]
    assert edit.new_text == session.core().triage(VAGUE).rewrite
    assert edit.range == types.Range(start=types.Position(line=10, character=0), end=types.Position(line=10, character=len(VAGUE)))
    rewritten = apply(NOTES, edit)
    assert rewritten.startswith(NOTES[: NOTES.index(VAGUE)]) and "# Django\n\n" + edit.new_text in rewritten


async def test_checklist_action_inserts_the_missing_items_once(session: Session) -> None:
    uri = session.open("notes.md", NOTES)
    actions = await code_actions(session, uri, line=10)
    checklist = next(a for a in actions if a.title == "Add missing-context checklist")
    assert checklist.kind == types.CodeActionKind.QuickFix
    assert checklist.diagnostics and {d.range.start.line for d in checklist.diagnostics} == {10}
    [edit] = checklist.edit.changes[uri]
    items = [item.text for item in session.core().triage(VAGUE).missing_items]
    assert edit.new_text == "\n\n" + missing_checklist(items)
    assert edit.range.start == edit.range.end == types.Position(line=10, character=len(VAGUE))

    session.change(uri, version=2, edit=edit)
    await session.recorder.wait(uri, version=2)
    after = await code_actions(session, uri, line=10)
    assert "Add missing-context checklist" not in [a.title for a in after]


async def test_route_command_logs_exactly_one_decision(session: Session) -> None:
    uri = session.open("notes.md", NOTES)
    actions = await code_actions(session, uri, line=2)
    [route] = [a for a in actions if isinstance(a, types.Command)]
    assert route.command == "devroute.routeBlock" and list(route.arguments) == [uri, 2]
    assert route.title.startswith("Route with devroute and log the decision")
    await session.client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=2, character=0))
    )

    result = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=route.command, arguments=route.arguments)
    )
    log = session.log()
    try:
        assert log.stats().count == 1, "diagnostics, hover and code actions must not log; the command logs once"
        logged = log.get(result["decisionId"])
    finally:
        log.close()
    assert logged.selected_model == result["selectedModel"] == session.core().route(FLASK, log=False).selected_model
    assert any(m.type == types.MessageType.Info and result["decisionId"] in m.message for m in session.client.messages)


async def test_route_command_on_a_line_without_a_prompt_warns(session: Session) -> None:
    uri = session.open("notes.md", NOTES)
    result = await session.client.workspace_execute_command_async(types.ExecuteCommandParams(command="devroute.routeBlock", arguments=[uri, 0]))
    assert result is None
    assert any(m.type == types.MessageType.Warning and "no prompt block at line 1" in m.message for m in session.client.messages)


# -- settings -------------------------------------------------------------------------------


async def test_bad_initialization_options_leave_a_working_server(tmp_path: Path) -> None:
    live = await start_session(tmp_path, options={"debounceMs": -5, "globs": ["*.md"]})
    try:
        uri = live.open("notes.md", NOTES)
        published = await live.recorder.wait(uri)
        assert "missing: Flask version" in [d.message for d in published.diagnostics]
        [message] = [m for m in live.client.messages if m.type == types.MessageType.Error]
        assert "debounceMs" in message.message and "greater than or equal to 0" in message.message
        assert "using the default settings" in message.message
    finally:
        await end_session(live)


async def test_a_broken_config_file_is_reported_and_the_server_stays_up(tmp_path: Path) -> None:
    live = await start_session(tmp_path, options={}, config_text="[policy]\nthreshold = 7\n")
    try:
        uri = live.open("notes.md", NOTES)
        hover = await live.client.text_document_hover_async(
            types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=2, character=0))
        )
        assert hover is None, "no analysis without a usable config"
        result = await live.client.workspace_execute_command_async(types.ExecuteCommandParams(command="devroute.routeBlock", arguments=[uri, 2]))
        assert result is None
        errors = [m.message for m in live.client.messages if m.type == types.MessageType.Error]
        assert any("policy.threshold" in m and "prompt analysis is off until this is fixed" in m for m in errors), errors
        assert any("policy.threshold" in m for m in errors[1:]), "the route command says why it cannot route"
    finally:
        await end_session(live)


async def test_settings_change_over_did_change_configuration(session: Session) -> None:
    notes = session.open("notes.md", NOTES)
    await session.recorder.wait(notes)

    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"devroute": {"policy": {"threshold": 2}}})
    )
    hover = await session.client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=notes), position=types.Position(line=2, character=0))
    )
    assert hover is not None, "a rejected setting leaves the server working"
    [error] = [m for m in session.client.messages if m.type == types.MessageType.Error]
    assert "threshold" in error.message and "keeping the previous settings" in error.message

    # Narrow the globs and switch severity: notes.md is cleared, a prompt file gets hints.
    prompt = session.open("fix.prompt.md", FLASK + "\n")
    await session.recorder.wait(prompt)
    seen = len(session.recorder.for_uri(prompt))
    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"devroute": {"globs": ["*.prompt.md"], "severity": "hint"}})
    )
    cleared = await session.recorder.wait(notes, after=1)
    assert cleared.diagnostics == []
    hinted = await session.recorder.wait(prompt, after=seen)
    assert [d.severity for d in hinted.diagnostics] == [types.DiagnosticSeverity.Hint]
    assert session.recorder.lens_refreshes >= 2, "each applied settings change asks the editor to refresh code lenses"


async def test_settings_pulled_when_the_notification_carries_none(session: Session) -> None:
    uri = session.open("notes.md", NOTES)
    await session.recorder.wait(uri)
    session.client.set_configuration({"severity": "hint", "maxDiagnostics": 1}, section="devroute")
    session.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    published = await session.recorder.wait(uri, after=1)
    assert len(published.diagnostics) == 1
    assert published.diagnostics[0].severity == types.DiagnosticSeverity.Hint


async def test_unknown_model_in_policy_is_reported_not_fatal(session: Session) -> None:
    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"devroute": {"policy": {"allowedModels": ["no-such-model"]}}})
    )
    uri = session.open("notes.md", NOTES)
    published = await session.recorder.wait(uri)
    assert published.diagnostics, "the previous policy keeps working"
    [error] = [m for m in session.client.messages if m.type == types.MessageType.Error]
    assert "no-such-model" in error.message


# -- TCP --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_tcp_transport(tmp_path: Path) -> None:
    config = write_config(tmp_path, "features")
    port = free_port()
    process = subprocess.Popen([*SERVER, "lsp", "--tcp", "--port", str(port)], env=server_env(tmp_path, config), stderr=subprocess.PIPE)
    try:
        recorder = Recorder()
        client = recording_client(recorder)
        for _ in range(200):
            try:
                await client.start_tcp("127.0.0.1", port)
                break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode() if process.stderr else "server exited"
                await asyncio.sleep(0.05)
        await client.initialize_session(types.InitializeParams(capabilities=client_capabilities("neovim"), initialization_options={}))
        uri = (tmp_path / "notes.md").as_uri()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id="markdown", version=1, text=NOTES))
        )
        published = await recorder.wait(uri)
        assert "missing: Flask version" in [d.message for d in published.diagnostics]
        await client.shutdown_session()
        await client.stop()
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()
