"""devroute's language server (pygls 2 + lsprotocol): a thin front end over the core Router.

Features, each a small function calling the core through the Engine:
- diagnostics: one per missing-context item of each prompt block, recomputed after edits with a
  debounce, in a worker thread, published only for the latest version of a document;
- hover: intent, complexity, route, recommended model, P(success), expected cost and saving;
- code actions: "Rewrite prompt", "Add missing-context checklist", "Route and log the decision";
- code lens: the recommended model and its expected cost above each block;
- settings from initializationOptions and workspace/didChangeConfiguration.

What a block is and how it reads lives in devroute.core.prompt_blocks; nothing here decides
anything. stdout carries the protocol, so logging goes to stderr.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from devroute.core import __version__
from devroute.core.errors import DevrouteError
from devroute.core.prompt_blocks import (
    PromptBlock,
    block_at_line,
    checklist_insertion,
    has_checklist,
    hover_markdown,
    lens_title,
    missing_message,
    path_matches,
    route_summary,
    split_lines,
)
from devroute.core.schema import Decision
from lsprotocol import types
from pygls.lsp.server import LanguageServer

from .engine import Engine
from .settings import SECTION, LspSettings, parse_settings

logger = logging.getLogger("devroute.lsp")

ROUTE_COMMAND = "devroute.routeBlock"
SOURCE = "devroute"
CONFIGURATION_PULL_TIMEOUT_S = 5.0
_SEVERITY = {"information": types.DiagnosticSeverity.Information, "hint": types.DiagnosticSeverity.Hint}


class DevrouteServer(LanguageServer):
    def __init__(self, engine: Engine) -> None:
        super().__init__("devroute", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.engine = engine
        self.initialization_options: Any = None
        # Set once the first configuration attempt is over, success or not; features wait for it.
        self.ready = asyncio.Event()
        self._refreshes: dict[str, asyncio.Task[None]] = {}
        self._published: set[str] = set()

    # -- helpers --------------------------------------------------------------------------

    @property
    def settings(self) -> LspSettings:
        return self.engine.settings

    def show(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        logger.warning("%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def is_prompt_file(self, uri: str) -> bool:
        parsed = urlparse(uri)
        path = unquote(parsed.path) if parsed.scheme else uri
        return path_matches(path, self.settings.globs)

    def schedule_refresh(self, uri: str, delay_s: float) -> None:
        """(Re)start the diagnostics refresh of one document; a newer edit cancels the pending one."""
        pending = self._refreshes.pop(uri, None)
        if pending is not None:
            pending.cancel()
        task = asyncio.get_running_loop().create_task(self._refresh(uri, delay_s))
        self._refreshes[uri] = task
        task.add_done_callback(lambda done: self._refreshes.pop(uri, None) if self._refreshes.get(uri) is done else None)

    async def _refresh(self, uri: str, delay_s: float) -> None:
        try:
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            await self.ready.wait()
            document = self.workspace.text_documents.get(uri)
            if document is None:
                return
            if not self.is_prompt_file(uri):
                self.clear_diagnostics(uri)
                return
            version, source = document.version, document.source
            blocks = self.engine.blocks(source)
            decisions = await self.engine.run(self.engine.decide, blocks)
            current = self.workspace.text_documents.get(uri)
            if current is None or current.version != version:
                return  # edited meanwhile: the refresh scheduled by that edit publishes
            diagnostics = block_diagnostics(split_lines(source), blocks, decisions, self.settings, self.position_units)
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, version=version, diagnostics=diagnostics))
            if diagnostics:
                self._published.add(uri)
            else:
                self._published.discard(uri)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one failed refresh must not take the server down
            logger.exception("diagnostics refresh failed for %s", uri)

    def clear_diagnostics(self, uri: str) -> None:
        if uri in self._published:
            self._published.discard(uri)
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def position_units(self, text: str) -> int:
        """Length of text in the client's position units (UTF-16 code units unless negotiated otherwise)."""
        return self.workspace.position_codec.client_num_units(text)

    async def apply_settings(self, raw: Any, where: str) -> bool:
        """Validate and apply editor settings; on any error say so in a window message and keep the old ones.

        With no previous settings to keep (bad initializationOptions), the defaults are used, so a
        typo in an editor's config never leaves the server without analysis.
        """
        try:
            settings = parse_settings(raw, f"devroute settings ({where})")
            await self.engine.run(self.engine.configure, settings)
        except DevrouteError as exc:
            if self.engine.router is not None:
                self.show(f"devroute: {exc}; keeping the previous settings")
                self.ready.set()
                return False
            try:
                await self.engine.run(self.engine.configure, LspSettings())
                self.show(f"devroute: {exc}; using the default settings")
            except DevrouteError as default_exc:
                # The config file or the backend itself is broken: nothing to analyse with until it is fixed.
                self.engine.unavailable = str(default_exc)
                self.show(f"devroute: {default_exc}; prompt analysis is off until this is fixed")
                self.ready.set()
                return False
        self.ready.set()
        for uri in list(self.workspace.text_documents):
            self.schedule_refresh(uri, 0)
        self.refresh_code_lenses()
        return True

    def refresh_code_lenses(self) -> None:
        workspace = self.client_capabilities.workspace if self.client_capabilities else None
        if workspace and workspace.code_lens and workspace.code_lens.refresh_support:
            self.workspace_code_lens_refresh(None)

    async def pull_settings(self) -> Any:
        """Ask the client for the "devroute" section, where it supports workspace/configuration."""
        workspace = self.client_capabilities.workspace if self.client_capabilities else None
        if not (workspace and workspace.configuration):
            return None
        try:
            values = await asyncio.wait_for(
                self.workspace_configuration_async(types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])),
                CONFIGURATION_PULL_TIMEOUT_S,
            )
        except Exception:  # noqa: BLE001 - a client that cannot answer leaves the settings as they are
            logger.info("workspace/configuration for '%s' failed", SECTION, exc_info=True)
            return None
        return values[0] if values else None

    async def decisions_for(self, uri: str, first_line: int, last_line: int) -> list[tuple[PromptBlock, Decision]]:
        """The blocks of a document that overlap the lines, each with its (cached) decision."""
        await self.ready.wait()
        document = self.workspace.text_documents.get(uri)
        if document is None or not self.is_prompt_file(uri):
            return []
        blocks = [b for b in self.engine.blocks(document.source) if b.overlaps_lines(first_line, last_line)]
        decisions = await self.engine.run(self.engine.decide, blocks)
        return [(block, decision) for block, decision in zip(blocks, decisions, strict=True) if decision is not None]


# -- pure conversions from blocks and decisions to LSP types ------------------------------------


def block_range(lines: list[str], block: PromptBlock, units: Any) -> types.Range:
    end_character = units(lines[block.end_line][: block.end_character])
    return types.Range(start=types.Position(line=block.start_line, character=0), end=types.Position(line=block.end_line, character=end_character))


def first_line_range(lines: list[str], block: PromptBlock, units: Any) -> types.Range:
    # Diagnostics sit on a block's first line only, so a long section is not underlined as a whole.
    return types.Range(
        start=types.Position(line=block.start_line, character=0),
        end=types.Position(line=block.start_line, character=units(lines[block.start_line])),
    )


def block_diagnostics(
    lines: list[str], blocks: list[PromptBlock], decisions: list[Decision | None], settings: LspSettings, units: Any
) -> list[types.Diagnostic]:
    diagnostics: list[types.Diagnostic] = []
    for block, decision in zip(blocks, decisions, strict=True):
        if decision is None:
            continue
        for item in decision.triage.missing_items:
            diagnostics.append(
                types.Diagnostic(
                    range=first_line_range(lines, block, units),
                    message=missing_message(item.text),
                    severity=_SEVERITY[settings.severity],
                    source=SOURCE,
                    code=f"missing.{item.kind.value}",
                    data={"blockStartLine": block.start_line, "blockEndLine": block.end_line},
                )
            )
    return diagnostics[: settings.max_diagnostics]


# -- protocol handlers ---------------------------------------------------------------------------


def on_initialize(ls: DevrouteServer, params: types.InitializeParams) -> None:
    ls.initialization_options = params.initialization_options


async def on_initialized(ls: DevrouteServer, params: types.InitializedParams) -> None:
    raw = ls.initialization_options
    where = "initializationOptions"
    if raw is None:
        raw, where = await ls.pull_settings(), "workspace/configuration"
    await ls.apply_settings(raw, where)


async def on_did_change_configuration(ls: DevrouteServer, params: types.DidChangeConfigurationParams) -> None:
    raw = params.settings
    if isinstance(raw, dict) and SECTION in raw:
        raw = raw[SECTION]
    elif not raw:
        # The pull model: the notification only says "something changed"; ask for our section.
        raw = await ls.pull_settings()
        if raw is None:
            return
    await ls.apply_settings(raw, "workspace/didChangeConfiguration")


def on_did_open(ls: DevrouteServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.schedule_refresh(params.text_document.uri, 0)


def on_did_change(ls: DevrouteServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule_refresh(params.text_document.uri, ls.settings.debounce_ms / 1000)


def on_did_close(ls: DevrouteServer, params: types.DidCloseTextDocumentParams) -> None:
    pending = ls._refreshes.pop(params.text_document.uri, None)
    if pending is not None:
        pending.cancel()
    ls.clear_diagnostics(params.text_document.uri)


async def on_hover(ls: DevrouteServer, params: types.HoverParams) -> types.Hover | None:
    line = params.position.line
    found = await ls.decisions_for(params.text_document.uri, line, line)
    if not found:
        return None
    block, decision = found[0]
    lines = split_lines(ls.workspace.get_text_document(params.text_document.uri).source)
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=hover_markdown(decision, block)),
        range=block_range(lines, block, ls.position_units),
    )


async def on_code_action(ls: DevrouteServer, params: types.CodeActionParams) -> list[types.CodeAction | types.Command] | None:
    uri = params.text_document.uri
    found = await ls.decisions_for(uri, params.range.start.line, params.range.end.line)
    if not found:
        return None
    lines = split_lines(ls.workspace.get_text_document(uri).source)
    actions: list[types.CodeAction | types.Command] = []
    for block, decision in found:
        actions.extend(block_actions(uri, lines, block, decision, params.context.diagnostics, ls.position_units))
    return actions


def block_actions(
    uri: str, lines: list[str], block: PromptBlock, decision: Decision, context: list[types.Diagnostic], units: Any
) -> list[types.CodeAction | types.Command]:
    actions: list[types.CodeAction | types.Command] = []
    rewrite = decision.triage.rewrite
    if rewrite.strip() and rewrite.strip() != block.text.strip():
        edit = types.TextEdit(range=block_range(lines, block, units), new_text=rewrite)
        actions.append(
            types.CodeAction(title="Rewrite prompt", kind=types.CodeActionKind.RefactorRewrite, edit=types.WorkspaceEdit(changes={uri: [edit]}))
        )
    missing = [item.text for item in decision.triage.missing_items]
    if missing and not has_checklist(block.text):
        line, character, text = checklist_insertion(block, missing)
        at = types.Position(line=line, character=units(lines[line][:character]))
        ours = [d for d in context if d.source == SOURCE and block.contains_line(d.range.start.line)]
        actions.append(
            types.CodeAction(
                title="Add missing-context checklist",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=ours or None,
                edit=types.WorkspaceEdit(changes={uri: [types.TextEdit(range=types.Range(start=at, end=at), new_text=text)]}),
            )
        )
    # A bare Command, not a CodeAction wrapping one: every client reads it the same way.
    actions.append(
        types.Command(
            title=f"Route with devroute and log the decision ({decision.selected_model})",
            command=ROUTE_COMMAND,
            arguments=[uri, block.start_line],
        )
    )
    return actions


async def on_code_lens(ls: DevrouteServer, params: types.CodeLensParams) -> list[types.CodeLens] | None:
    uri = params.text_document.uri
    found = await ls.decisions_for(uri, 0, sys.maxsize)
    lines = split_lines(ls.workspace.get_text_document(uri).source) if found else []
    return [
        types.CodeLens(
            range=first_line_range(lines, block, ls.position_units),
            command=types.Command(title=lens_title(decision), command=ROUTE_COMMAND, arguments=[uri, block.start_line]),
        )
        for block, decision in found
    ]


async def route_block(ls: DevrouteServer, uri: str, line: int) -> dict[str, Any] | None:
    """workspace/executeCommand devroute.routeBlock [uri, line]: route the block and log the decision."""
    await ls.ready.wait()
    document = ls.workspace.text_documents.get(uri)
    block = block_at_line(ls.engine.blocks(document.source), line) if document is not None else None
    if block is None:
        ls.show(f"devroute: no prompt block at line {line + 1} of {uri}", types.MessageType.Warning)
        return None
    try:
        decision = await ls.engine.run(ls.engine.route_and_log, block.text)
    except DevrouteError as exc:
        ls.show(f"devroute: {exc}")
        return None
    summary = route_summary(decision)
    ls.show(summary, types.MessageType.Info)
    ls.window_log_message(types.LogMessageParams(type=types.MessageType.Info, message=summary))
    return {
        "decisionId": decision.id,
        "selectedModel": decision.selected_model,
        "confidence": decision.confidence,
        "expectedCostUsd": decision.expected_cost_usd,
        "fallbackModel": decision.fallback_model,
        "fallbackCostUsd": decision.fallback_cost_usd,
        "ruleFired": decision.rule_fired.value,
    }


def on_shutdown(ls: DevrouteServer, params: None) -> None:
    for task in list(ls._refreshes.values()):
        task.cancel()
    ls.engine.close()


def create_server(config: Path | None = None, backend: str | None = None) -> DevrouteServer:
    server = DevrouteServer(Engine(config=config, backend=backend))
    server.feature(types.INITIALIZE)(on_initialize)
    server.feature(types.INITIALIZED)(on_initialized)
    server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)(on_did_change_configuration)
    server.feature(types.TEXT_DOCUMENT_DID_OPEN)(on_did_open)
    server.feature(types.TEXT_DOCUMENT_DID_CHANGE)(on_did_change)
    server.feature(types.TEXT_DOCUMENT_DID_CLOSE)(on_did_close)
    server.feature(types.TEXT_DOCUMENT_HOVER)(on_hover)
    server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite]),
    )(on_code_action)
    server.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False))(on_code_lens)
    server.feature(types.SHUTDOWN)(on_shutdown)
    server.command(ROUTE_COMMAND)(route_block)
    return server


def serve(config: Path | None = None, backend: str | None = None, tcp: bool = False, host: str = "127.0.0.1", port: int = 2087) -> None:
    """Entry point of `devroute lsp`: stdio by default, TCP with tcp=True."""
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("DEVROUTE_LSP_LOG_LEVEL", "WARNING").upper(),
                        format="devroute-lsp %(levelname)s %(name)s: %(message)s")
    server = create_server(config=config, backend=backend)
    if tcp:
        server.start_tcp(host, port)
    else:
        server.start_io()
