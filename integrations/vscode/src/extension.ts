// devroute for VS Code: starts `devroute lsp` over stdio and hands it the prompt files.
//
// Everything the editor shows (diagnostics, hovers, code actions, code lenses, the
// "route and log" command) comes from the language server; this extension only launches it,
// chooses which documents it sees, and forwards the `devroute.*` settings.

import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  LanguageClient,
  type DocumentSelector,
  type LanguageClientOptions,
  type ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

const SECTION = "devroute";
// Settings the extension uses to launch the server; the server itself never sees them.
const LAUNCH_KEYS = ["server.path", "server.args"];

let client: LanguageClient | undefined;

/** The settings the server understands (see devroute.lsp_server.settings), as one object. */
export function serverSettings(config: vscode.WorkspaceConfiguration): Record<string, unknown> {
  const settings: Record<string, unknown> = {
    policy: config.get("policy", {}),
    globs: config.get("globs"),
    split: config.get("split"),
    debounceMs: config.get("debounceMs"),
    severity: config.get("severity"),
    maxDiagnostics: config.get("maxDiagnostics"),
  };
  const backend = config.get<string | null>("backend", null);
  if (backend) {
    settings.backend = backend;
  }
  return settings;
}

/** A glob without a leading "/" or "**\/" matches at any folder, as on the server side. */
export function documentSelector(globs: readonly string[]): DocumentSelector {
  const patterns = globs.map((glob) => (glob.startsWith("/") || glob.startsWith("**/") ? glob : `**/${glob}`));
  return patterns.map((pattern) => ({ scheme: "file", pattern }));
}

function createClient(config: vscode.WorkspaceConfiguration): LanguageClient {
  const command = config.get<string>("server.path", "devroute");
  const args = config.get<string[]>("server.args", ["lsp"]);
  const serverOptions: ServerOptions = {
    run: { command, args, transport: TransportKind.stdio },
    debug: { command, args, transport: TransportKind.stdio, options: { env: { ...process.env, DEVROUTE_LSP_LOG_LEVEL: "DEBUG" } } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: documentSelector(config.get<string[]>("globs", [])),
    initializationOptions: serverSettings(config),
    outputChannelName: "devroute",
  };
  return new LanguageClient("devroute", "devroute", serverOptions, clientOptions);
}

async function start(): Promise<void> {
  client = createClient(vscode.workspace.getConfiguration(SECTION));
  try {
    await client.start();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    void vscode.window.showErrorMessage(
      `devroute: could not start the language server (${message}). Is devroute installed? Set devroute.server.path.`,
    );
  }
}

async function restart(): Promise<void> {
  if (client) {
    await client.stop();
    client = undefined;
  }
  await start();
}

async function onConfigurationChanged(event: vscode.ConfigurationChangeEvent): Promise<void> {
  if (!event.affectsConfiguration(SECTION)) {
    return;
  }
  // A new executable, arguments or set of files needs a new server; anything else is pushed live.
  const relaunch = [...LAUNCH_KEYS, "globs"].some((key) => event.affectsConfiguration(`${SECTION}.${key}`));
  if (relaunch || !client) {
    await restart();
    return;
  }
  const settings = serverSettings(vscode.workspace.getConfiguration(SECTION));
  await client.sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: settings } });
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("devroute.restartServer", restart),
    vscode.workspace.onDidChangeConfiguration(onConfigurationChanged),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  if (client) {
    await client.stop();
    client = undefined;
  }
}
