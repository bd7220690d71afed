#!/usr/bin/env python
"""Benchmark the default triage backend against a GGUF triage model on the same prompts, in one run.

Both backends sit behind the same Router and answer the same prompts: --limit rows spread
evenly over the labelled held-out split by default. The figure is the per-call route latency,
prompt in to Decision out, decision log off. The default backend makes --rounds passes, the
GGUF one pass (it takes seconds per call); each gets one warm-up call first. Printed: p50, p99
and mean per backend, the GGUF/default ratios, the load time, and how many triages were asked
again with a shorter rewrite (retried) or fell back.

    python scripts/bench_gguf.py --model ~/.cache/devroute-test/SmolLM2-135M-Instruct.Q4_1.gguf
    python scripts/bench_gguf.py --model DevRouter-1.5B-Q8_0.gguf --limit 100 --threads 2 --json

The llama settings come from the config file ([triage.llama_cpp]); --model, --threads,
--n-ctx and --max-tokens override them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from pydantic import BaseModel

from devroute.core.benchmark import FALLBACK_PROMPTS
from devroute.core.config import Settings, load_settings
from devroute.core.decision_log import percentile
from devroute.core.evaluate import fell_back, load_labelled
from devroute.core.router import Router
from devroute.core.triage.devrouter_format import RETRIED_DIAGNOSTIC

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "data" / "heldout.jsonl"


class Figures(BaseModel):
    backend: str
    calls: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    load_s: float
    retried: int
    fallbacks: int


class Comparison(BaseModel):
    prompts: int
    prompt_source: str
    model: str
    threads: int | None
    default: Figures
    gguf: Figures
    p50_ratio: float
    p99_ratio: float

    def text(self) -> str:
        lines = [f"prompt set   {self.prompts} prompts from {self.prompt_source}",
                 f"GGUF         {self.model} (threads {self.threads or 'default'})"]
        for f in (self.default, self.gguf):
            lines.append(f"{f.backend:<12} route p50 {f.p50_ms:9.2f} ms · p99 {f.p99_ms:9.2f} ms · mean {f.mean_ms:9.2f} ms "
                         f"over {f.calls} calls · load {f.load_s:.2f} s · retried {f.retried} · fallbacks {f.fallbacks}")
        lines.append(f"ratio        {self.gguf.backend} / {self.default.backend}: p50 {self.p50_ratio:,.0f}x · p99 {self.p99_ratio:,.0f}x")
        return "\n".join(lines)


def prompt_set(data: Path | None, limit: int) -> tuple[list[str], str]:
    """`limit` rows spread evenly over the file: the split is grouped by intent, its head is not."""
    path = data or DEFAULT_DATA
    if path.exists():
        rows = load_labelled(path)
        step = max(1, len(rows) // limit)
        return [row.prompt for row in rows[::step][:limit]], f"{path} (every {step}th row)" if step > 1 else str(path)
    if data:
        sys.exit(f"bench_gguf: no such file: {data}")
    return FALLBACK_PROMPTS[:limit], "the built-in sample"


def measure(settings: Settings, prompts: list[str], rounds: int) -> Figures:
    started = time.perf_counter()
    router = Router(settings)
    load_s = time.perf_counter() - started
    router.route(prompts[0], log=False)  # warm-up: first call pays one-off allocations
    timings, retried, fallbacks = [], 0, 0
    for _ in range(rounds):
        for prompt in prompts:
            started = time.perf_counter()
            decision = router.route(prompt, log=False)
            timings.append((time.perf_counter() - started) * 1000)
            retried += any(d.startswith(RETRIED_DIAGNOSTIC) for d in decision.triage.diagnostics)
            fallbacks += fell_back(decision.triage)
    router.close()
    return Figures(backend=router.backend.name, calls=len(timings), p50_ms=round(percentile(timings, 50), 3),
                   p99_ms=round(percentile(timings, 99), 3), mean_ms=round(statistics.fmean(timings), 3),
                   load_s=round(load_s, 3), retried=retried, fallbacks=fallbacks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="GGUF file (default: [triage.llama_cpp] model_path)")
    parser.add_argument("--config", type=Path, help="config TOML (default: $DEVROUTE_CONFIG or the user config dir)")
    parser.add_argument("--data", type=Path, help=f"labelled JSONL prompt set (default: {DEFAULT_DATA.name})")
    parser.add_argument("--limit", type=int, default=40, help="prompts to use (default 40)")
    parser.add_argument("--rounds", type=int, default=5, help="passes of the default backend over the prompts")
    parser.add_argument("--backend", help="the backend to compare against (default: the configured one)")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: the config's, else llama.cpp's)")
    parser.add_argument("--n-ctx", type=int, help="llama.cpp context size")
    parser.add_argument("--max-tokens", type=int, help="generation cap per triage")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    settings = load_settings(args.config)
    settings.log.enabled = False
    baseline = settings.model_copy(deep=True)
    if args.backend:
        baseline.triage.backend = args.backend
    if baseline.triage.backend == "llama-cpp":
        sys.exit("bench_gguf: the configured backend is already llama-cpp; pass --backend builtin (or features)")
    gguf = settings.model_copy(deep=True)
    gguf.triage.backend = "llama-cpp"
    llama = gguf.triage.llama_cpp
    llama.model_path = args.model or llama.model_path
    llama.n_threads = args.threads or llama.n_threads
    llama.n_ctx = args.n_ctx or llama.n_ctx
    llama.max_tokens = args.max_tokens or llama.max_tokens
    if llama.model_path is None:
        sys.exit("bench_gguf: pass --model PATH or set [triage.llama_cpp] model_path")

    prompts, source = prompt_set(args.data, args.limit)
    default = measure(baseline, prompts, args.rounds)
    measured = measure(gguf, prompts, 1)
    report = Comparison(
        prompts=len(prompts), prompt_source=source, model=str(llama.model_path), threads=llama.n_threads,
        default=default, gguf=measured,
        p50_ratio=round(measured.p50_ms / default.p50_ms, 1), p99_ratio=round(measured.p99_ms / default.p99_ms, 1),
    )
    print(json.dumps(report.model_dump(), indent=2) if args.json else report.text())


if __name__ == "__main__":
    main()
