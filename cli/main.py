"""`devroute` entry point: argument parsing and dispatch; all logic lives in devroute.core."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from devroute.core.config import format_validation_error, load_settings
from devroute.core.errors import DevrouteError, PromptError
from devroute.core.hook import HOOK_BUDGET_S
from devroute.core.integrations import CLIENTS

EXAMPLE_PROMPT = "My Flask app returns 500 on POST /upload with RequestEntityTooLarge, how do I fix it?"


class UsageError(DevrouteError):
    pass


def _add_prompt_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", nargs="?", help="the prompt text; '-' or omitted reads standard input")
    parser.add_argument("-f", "--file", type=Path, help="read the prompt from this file")
    parser.add_argument("--batch", type=Path, metavar="FILE", help='JSONL file, one {"prompt": ...} per line; writes one JSON result per line')
    parser.add_argument("--json", action="store_true", help="stable machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="devroute", description="Triage developer prompts and route them to the cheapest model that will do the job.")
    parser.add_argument("--config", type=Path, help="config TOML file (default: $DEVROUTE_CONFIG or the user config dir)")
    parser.add_argument("--backend", choices=["builtin", "features", "llama-cpp", "http"], help="override [triage] backend")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("triage", help="triage a prompt: rewrite, intent, complexity, route, missing")
    _add_prompt_args(p)

    p = sub.add_parser("route", help="triage a prompt and pick a model; logs the decision")
    _add_prompt_args(p)
    p.add_argument("--threshold", type=float, help="minimum P(success)")
    p.add_argument("--max-regret", type=float, help="regret bound when a risk fires")
    p.add_argument("--low-risk-max-regret", type=float, help="regret bound when no risk fires")
    p.add_argument("--fallback", help="model used when nothing qualifies")
    p.add_argument("--allow", help="comma-separated allow-list of model ids")
    p.add_argument("--no-log", action="store_true", help="do not write the decision to the log")

    p = sub.add_parser("models", help="list the candidate models")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("log", help="recent decisions")
    p.add_argument("-n", "--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("stats", help="summary of the decision log")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("bench", help="benchmark route latency and throughput on a varied prompt set")
    p.add_argument("--rounds", type=int, default=5, help="passes over the prompt set")
    p.add_argument("--data", type=Path, help="JSONL prompt set (default: the shipped held-out split, else built-in prompts)")
    p.add_argument("--compare", help="also benchmark this backend on the same prompts (e.g. llama-cpp)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("eval", help="evaluate a triage backend on a labelled JSONL file")
    # Also after the subcommand (`devroute eval --backend llama-cpp ...`); SUPPRESS keeps a top-level --backend.
    p.add_argument("--backend", choices=["builtin", "features", "llama-cpp", "http"], default=argparse.SUPPRESS,
                   help="override [triage] backend")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--model", type=Path, help="GGUF path for --backend llama-cpp")
    p.add_argument("--url", help="server URL for --backend http")
    p.add_argument("--limit", type=int, help="evaluate only the first N rows")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("mcp", help="serve the MCP server (stdio by default)")
    p.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)

    p = sub.add_parser("lsp", help="serve the language server (stdio by default)")
    p.add_argument("--tcp", action="store_true")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2087)

    p = sub.add_parser("init", help="set up devroute in Claude Code, Cursor, VS Code or Neovim (merges into existing config)")
    p.add_argument("client", choices=CLIENTS)
    p.add_argument("--dir", type=Path, help="the project directory (default: the current one; for neovim: its config directory)")
    p.add_argument("--dry-run", action="store_true", help="show what would change, as a diff, and write nothing")

    p = sub.add_parser("hook", help="agent hook: Claude Code's UserPromptSubmit (reads its JSON on stdin); never blocks a prompt")
    p.add_argument("client", choices=["claude-code"])
    p.add_argument("--budget", type=float, default=HOOK_BUDGET_S, metavar="SECONDS", help=f"give up silently after this long (default {HOOK_BUDGET_S})")
    _never_exit_2(p)
    return parser


def _never_exit_2(parser: argparse.ArgumentParser) -> None:
    """A bad hook command line must not exit with argparse's status 2: Claude Code would block the prompt."""
    parse_known_args = parser.parse_known_args

    def lenient_parse_known_args(args=None, namespace=None):  # type: ignore[no-untyped-def]
        namespace, extras = parse_known_args(args, namespace)
        if extras:
            print(f"devroute hook: ignoring unrecognized arguments: {' '.join(extras)}", file=sys.stderr)
        return namespace, []

    def error(message: str) -> None:
        print(f"devroute hook: {message}", file=sys.stderr)
        sys.exit(0)

    parser.parse_known_args = lenient_parse_known_args  # type: ignore[method-assign]
    parser.error = error  # type: ignore[method-assign]


def _read_prompt(args: argparse.Namespace) -> str:
    if args.file is not None:
        try:
            return args.file.read_bytes().decode("utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise PromptError(f"{args.file} is not valid UTF-8 text") from None
    if args.prompt not in (None, "-"):
        return args.prompt
    if sys.stdin is None or (args.prompt is None and sys.stdin.isatty()):
        raise UsageError("no prompt given: pass it as an argument, with --file, or on standard input")
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PromptError("standard input is not valid UTF-8 text") from None


def _read_batch(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not valid UTF-8") from None
    prompts = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("prompt"), str):
            raise UsageError(f'{path}:{number}: expected an object with a string "prompt"')
        prompts.append(row["prompt"])
    return prompts


def _emit(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def _settings(args: argparse.Namespace):
    """The config file with this command line's backend choices applied."""
    settings = load_settings(args.config)
    if args.backend:
        settings.triage.backend = args.backend
    if getattr(args, "model", None):
        settings.triage.backend = args.backend or "llama-cpp"
        settings.triage.llama_cpp.model_path = args.model
    if getattr(args, "url", None):
        settings.triage.backend = args.backend or "http"
        settings.triage.http.url = args.url
    return settings


def _router(args: argparse.Namespace):
    from devroute.core.router import Router

    return Router(_settings(args))


def _policy_overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "threshold": args.threshold,
        "max_regret": args.max_regret,
        "low_risk_max_regret": args.low_risk_max_regret,
        "fallback": args.fallback,
    }
    if args.allow is not None:
        overrides["allowed_models"] = [m.strip() for m in args.allow.split(",") if m.strip()]
    return overrides


def _batch_results(args: argparse.Namespace, router, route: bool) -> None:
    prompts = _read_batch(args.batch)
    if route:
        results = router.route_batch(prompts, _policy_overrides(args), log=not args.no_log)
    else:
        results = router.triage_batch(prompts)
    for result in results:
        sys.stdout.write(result.model_dump_json() + "\n")


def cmd_triage(args: argparse.Namespace) -> None:
    from .render import triage_text

    router = _router(args)
    if args.batch:
        return _batch_results(args, router, route=False)
    triage = router.triage(_read_prompt(args))
    print(triage.model_dump_json(indent=2) if args.json else triage_text(triage))


def cmd_route(args: argparse.Namespace) -> None:
    from .render import decision_text

    router = _router(args)
    if args.batch:
        return _batch_results(args, router, route=True)
    decision = router.route(_read_prompt(args), _policy_overrides(args), log=not args.no_log)
    print(decision.model_dump_json(indent=2) if args.json else decision_text(decision))


def cmd_models(args: argparse.Namespace) -> None:
    from devroute.core.catalog import load_catalog

    from .render import models_text

    catalog = load_catalog(load_settings(args.config).catalog)
    if args.json:
        _emit([c.model_dump(mode="json") for c in catalog])
    else:
        print(models_text(catalog))


def _log(args: argparse.Namespace):
    from devroute.core.decision_log import DecisionLog

    settings = load_settings(args.config)
    return DecisionLog(settings.log_path(), store_prompt=settings.log.store_prompt)


def cmd_log(args: argparse.Namespace) -> None:
    from .render import log_text

    rows = _log(args).recent(args.limit)
    if args.json:
        _emit([r.model_dump(mode="json") for r in rows])
    else:
        print(log_text(rows))


def cmd_stats(args: argparse.Namespace) -> None:
    from .render import stats_text

    stats = _log(args).stats()
    if args.json:
        _emit(stats.model_dump(mode="json"))
    else:
        print(stats_text(stats))


def cmd_bench(args: argparse.Namespace) -> None:
    from devroute.core.benchmark import run_benchmark

    report = run_benchmark(_settings(args), data=args.data, rounds=args.rounds, compare=args.compare)
    if args.json:
        _emit(report.model_dump(mode="json"))
    else:
        print(report.text())


def cmd_eval(args: argparse.Namespace) -> None:
    from devroute.core.evaluate import evaluate_file

    router = _router(args)
    report = evaluate_file(router, args.data, limit=args.limit)
    if args.json:
        _emit(report.model_dump(mode="json"))
    else:
        print(report.text())


def cmd_mcp(args: argparse.Namespace) -> None:
    from devroute.mcp_server.server import serve

    serve(config=args.config, backend=args.backend, http=args.http, host=args.host, port=args.port)


def cmd_lsp(args: argparse.Namespace) -> None:
    from devroute.lsp_server.server import serve

    serve(config=args.config, backend=args.backend, tcp=args.tcp, host=args.host, port=args.port)


def cmd_init(args: argparse.Namespace) -> None:
    from devroute.core.integrations import NEXT_STEPS, apply_plan, default_dir, plan_integration

    root = (args.dir or default_dir(args.client, Path.cwd())).expanduser().resolve()
    plan = plan_integration(args.client, root)
    if args.dry_run:
        for change in plan.pending:
            sys.stdout.write(change.diff)
        for change in plan.changes:
            print(f"{'would ' + change.action if change.action != 'unchanged' else 'unchanged'}: {change.path}")
        print(f"dry run: nothing written to {root}")
        return
    apply_plan(plan)
    print(f"devroute init {args.client} in {root}")
    for change in plan.changes:
        print(f"  {change.action + 'd' if change.action != 'unchanged' else 'unchanged'}: {change.path}")
    if shutil.which("devroute") is None:
        print("devroute: warning: `devroute` is not on PATH; the client will not find it (pip install devroute, "
              "or edit the command in the files above to an absolute path)", file=sys.stderr)
    print(NEXT_STEPS[args.client])


def cmd_hook(args: argparse.Namespace) -> None:
    """Never fails: errors and overruns print nothing on stdout, a line on stderr, and exit 0."""
    from devroute.core.hook import claude_code_hook, run_within_budget

    outcome = run_within_budget(lambda: claude_code_hook(sys.stdin.buffer.read(), args.config, args.backend), args.budget)
    if not outcome.finished:
        print(f"devroute hook: no note, triage took longer than {args.budget:g} s", file=sys.stderr, flush=True)
        # The abandoned worker may hold stdin or the log open; exiting normally could wait for it or
        # abort in interpreter shutdown.
        os._exit(0)
    if outcome.error is not None:
        first_line = (str(outcome.error) or type(outcome.error).__name__).splitlines()[0]
        print(f"devroute hook: no note, {first_line}", file=sys.stderr)
    elif outcome.output:
        sys.stdout.write(outcome.output + "\n")


COMMANDS = {
    "triage": cmd_triage, "route": cmd_route, "models": cmd_models, "log": cmd_log, "stats": cmd_stats,
    "bench": cmd_bench, "eval": cmd_eval, "mcp": cmd_mcp, "lsp": cmd_lsp, "init": cmd_init, "hook": cmd_hook,
}


def _command_word(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """The subcommand: the first word that is neither a global option nor an option's value."""
    words = iter(argv)
    for word in words:
        if not word.startswith("-"):
            return word
        action = parser._option_string_actions.get(word)  # "--backend X"; "--backend=X" is one word
        if action is not None and action.nargs != 0:
            next(words, None)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if _command_word(parser, sys.argv[1:] if argv is None else argv) == "hook":
        # A bad global option (--backend bogus) before `hook` must not block the agent's prompt either.
        _never_exit_2(parser)
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except DevrouteError as exc:
        print(f"devroute: error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"devroute: error: {format_validation_error(exc, 'invalid option')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
