#!/usr/bin/env python
"""Benchmark the MCP server over stdio, the way a coding agent runs it.

Two figures, each from a real `devroute mcp` subprocess driven by the mcp package's Client:
- start-up: process spawn -> protocol handshake -> first tool answer (route_prompt), median of
  --runs fresh processes (target <= 2 s);
- round trip: one tool call from client send to parsed result in a warm session, p50 and p99
  over --calls sequential calls per tool (target p50 <= 20 ms for route_prompt).

    python scripts/bench_mcp.py                    # default backend, both protocol modes
    python scripts/bench_mcp.py --backend builtin --mode auto --calls 500

Decisions go to a throwaway log unless --keep-log is given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

from devroute.core.decision_log import percentile
from mcp import Client, StdioServerParameters

PROMPTS = [
    "My Flask app returns 500 on POST /upload with RequestEntityTooLarge, how do I fix it?",
    "Explain what this regex does: ^(?=.*\\d)(?=.*[a-z]).{8,}$",
    "Refactor the payment module to use async I/O without changing its public API.",
    "write a dockerfile for a fastapi app with poetry",
    "Review this function for bugs:\n```python\ndef avg(xs):\n    return sum(xs) / len(xs)\n```",
    "Design a multi-region event-sourced order service with exactly-once processing and a migration plan "
    "from our current monolith; we run Postgres 15 and Kafka, 2k orders per second at peak.",
    "the tests fail sometimes on CI but never locally, race condition? "
    "```\nFAILED tests/test_queue.py::test_drain - AssertionError: 9 != 10\n```",
    "Add docstrings to every public function in utils/strings.py",
]
TARGET_ROUND_TRIP_P50_MS = 20.0
TARGET_STARTUP_S = 2.0


def server_command() -> tuple[str, list[str]]:
    """The installed `devroute` script, as an MCP client would launch it; else the module."""
    script = Path(sys.executable).with_name("devroute")
    if script.exists():
        return str(script), []
    found = shutil.which("devroute")
    return (found, []) if found else (sys.executable, ["-m", "devroute.cli.main"])


def params(args: argparse.Namespace, env: dict[str, str]) -> StdioServerParameters:
    command, prefix = server_command()
    extra = []
    if args.config:
        extra += ["--config", str(args.config)]
    if args.backend:
        extra += ["--backend", args.backend]
    return StdioServerParameters(command=command, args=[*prefix, *extra, "mcp"], env=env)


async def startup_once(server: StdioServerParameters, mode: str) -> tuple[float, float]:
    """Seconds from spawn to a ready session, and to the first route_prompt answer."""
    started = time.perf_counter()
    async with Client(server, mode=mode) as client:
        ready = time.perf_counter()
        result = await client.call_tool("route_prompt", {"prompt": PROMPTS[0]})
        answered = time.perf_counter()
    if result.is_error:
        raise SystemExit(f"route_prompt failed: {result.content[0].text}")
    return ready - started, answered - started


async def round_trips(server: StdioServerParameters, mode: str, tools: list[str], calls: int, warmup: int) -> tuple[str, dict[str, list[float]]]:
    timings: dict[str, list[float]] = {}
    async with Client(server, mode=mode) as client:
        protocol = client.protocol_version
        for tool in tools:
            def arguments(i: int) -> dict:
                return {} if tool == "list_models" else {"prompt": PROMPTS[i % len(PROMPTS)]}

            for i in range(warmup):
                await client.call_tool(tool, arguments(i))
            samples = []
            for i in range(calls):
                t0 = time.perf_counter()
                result = await client.call_tool(tool, arguments(i))
                samples.append((time.perf_counter() - t0) * 1000)
                if result.is_error:
                    raise SystemExit(f"{tool} failed: {result.content[0].text}")
            timings[tool] = samples
    return protocol, timings


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


async def main(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    log_dir = None
    if not args.keep_log:
        log_dir = tempfile.mkdtemp(prefix="devroute-bench-mcp-")
        env["DEVROUTE_DATA_DIR"] = log_dir
    server = params(args, env)
    modes = ["auto", "legacy"] if args.mode == "both" else [args.mode]
    command = " ".join([server.command, *server.args])
    print(f"devroute MCP over stdio: {command}")
    print(f"backend: {args.backend or 'default (from config)'}; python {sys.version.split()[0]}; {os.cpu_count()} CPUs")
    all_ok = True
    try:
        for mode in modes:
            print(f"\n== protocol mode {mode!r} ==")
            ready, first = [], []
            for _ in range(args.runs):
                r, f = await startup_once(server, mode)
                ready.append(r)
                first.append(f)
            startup = statistics.median(first)
            ok = startup <= TARGET_STARTUP_S
            all_ok &= ok
            print(f"start-up, median of {args.runs} processes: session ready {statistics.median(ready) * 1000:.0f} ms, "
                  f"first tool answer {startup * 1000:.0f} ms (min {min(first) * 1000:.0f}, max {max(first) * 1000:.0f})"
                  f"  [target <= {TARGET_STARTUP_S:.0f} s: {verdict(ok)}]")

            protocol, timings = await round_trips(server, mode, args.tools, args.calls, args.warmup)
            print(f"round trip per call (protocol {protocol}), {args.calls} sequential calls after {args.warmup} warm-up:")
            for tool, samples in timings.items():
                p50, p99 = percentile(samples, 50), percentile(samples, 99)
                line = f"  {tool:<16} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   mean {statistics.fmean(samples):6.2f} ms"
                if tool == "route_prompt":
                    ok = p50 <= TARGET_ROUND_TRIP_P50_MS
                    all_ok &= ok
                    line += f"  [target p50 <= {TARGET_ROUND_TRIP_P50_MS:.0f} ms: {verdict(ok)}]"
                print(line)
    finally:
        if log_dir:
            shutil.rmtree(log_dir, ignore_errors=True)
    print(f"\noverall: {verdict(all_ok)}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes for the start-up median")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per tool")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--tools", nargs="+", default=["route_prompt", "triage_prompt", "list_models"])
    parser.add_argument("--mode", choices=["auto", "legacy", "both"], default="both")
    parser.add_argument("--backend", help="triage backend for the server (default: the config's)")
    parser.add_argument("--config", type=Path, help="config file for the server")
    parser.add_argument("--keep-log", action="store_true", help="write decisions to the real log instead of a temp one")
    sys.exit(anyio.run(main, parser.parse_args()))
