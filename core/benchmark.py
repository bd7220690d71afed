"""`devroute bench`: latency and throughput of route calls over a varied prompt set.

Figures: cold start (process start to the first routed answer, median of 3 runs), per-call
route latency p50/p99 (single prompts, decision log off so the disk is not measured), batch
throughput (prompts/s through route_batch), peak resident memory, and with --compare the same
prompts through a second backend and the latency ratio.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel

from .config import Settings
from .decision_log import percentile
from .evaluate import load_labelled

FALLBACK_PROMPTS = [
    "hi",
    "thanks!",
    "what is the difference between a process and a thread?",
    "write a FastAPI POST /items endpoint with a Pydantic model",
    "refactor this giant function into smaller ones",
    "My Flask app 500s on POST /upload with RequestEntityTooLarge, how do I fix it?",
    "Design a multi-region event pipeline that survives a region outage with exactly-once delivery",
    "This query takes 40s on 20M rows: SELECT * FROM orders o JOIN users u ON u.id = o.user_id WHERE o.created_at > now() - interval '7 days'",
    "review this:\n```python\ndef login(user, pw):\n    q = f\"SELECT * FROM users WHERE name='{user}' AND pw='{pw}'\"\n    return db.execute(q)\n```",
    "Traceback (most recent call last):\n  File \"app.py\", line 12, in <module>\n    main()\n  File \"app.py\", line 8, in main\n    x = data['key']\nKeyError: 'key'\nwhy",
    "add docstrings to every public function in utils.py",
    "generate a Dockerfile for a Node 20 app with a multi-stage build",
]


class BackendFigures(BaseModel):
    backend: str
    calls: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    batch_prompts_per_s: float


class BenchReport(BaseModel):
    prompts: int
    prompt_source: str
    median_prompt_tokens: float
    max_prompt_tokens: int
    cold_start_s: float
    peak_rss_mb: float
    main: BackendFigures
    compare: BackendFigures | None = None

    def text(self) -> str:
        lines = [
            f"prompt set        {self.prompts} prompts from {self.prompt_source} "
            f"(median {self.median_prompt_tokens:.0f} tokens, max {self.max_prompt_tokens})",
            f"cold start        {self.cold_start_s * 1000:.0f} ms  (process start to first routed answer, median of 3)",
            f"peak RSS          {self.peak_rss_mb:.0f} MB",
        ]
        for figures in filter(None, [self.main, self.compare]):
            lines.append(
                f"{figures.backend:<17} route p50 {figures.p50_ms:.2f} ms · p99 {figures.p99_ms:.2f} ms · mean {figures.mean_ms:.2f} ms "
                f"over {figures.calls} calls · batch {_rate(figures.batch_prompts_per_s)} prompts/s"
            )
        if self.compare:
            lines.append(f"ratio             {self.compare.backend} / {self.main.backend} p50 = {self.compare.p50_ms / self.main.p50_ms:.1f}x")
        return "\n".join(lines)


def _rate(per_second: float) -> str:
    """Whole numbers for fast backends; slow ones (a GGUF on CPU) keep two significant digits instead of rounding to 0."""
    return f"{per_second:.0f}" if per_second >= 10 else f"{per_second:.2g}"


def _prompt_set(data: Path | None) -> tuple[list[str], str]:
    candidates = [data] if data else [Path("data/heldout.jsonl"), Path(__file__).resolve().parents[1] / "data" / "heldout.jsonl"]
    for path in candidates:
        if path and path.exists():
            return [row.prompt for row in load_labelled(path)], str(path)
    return list(FALLBACK_PROMPTS), "the built-in sample"


def _measure(settings: Settings, prompts: list[str], rounds: int) -> BackendFigures:
    from .router import Router

    router = Router(settings)
    router.route(prompts[0], log=False)  # warm-up: first call pays one-off allocations
    timings = []
    for _ in range(rounds):
        for prompt in prompts:
            started = time.perf_counter()
            router.route(prompt, log=False)
            timings.append((time.perf_counter() - started) * 1000)
    batch_seconds = []
    for _ in range(rounds):  # one pass is noisy on a shared 2-core machine: quote the median
        started = time.perf_counter()
        router.route_batch(prompts, log=False)
        batch_seconds.append(time.perf_counter() - started)
    throughput = len(prompts) / statistics.median(batch_seconds)
    return BackendFigures(
        backend=router.backend.name,
        calls=len(timings),
        p50_ms=round(percentile(timings, 50), 3),
        p99_ms=round(percentile(timings, 99), 3),
        mean_ms=round(statistics.fmean(timings), 3),
        batch_prompts_per_s=round(throughput, 1),
    )


def _cold_start(settings: Settings) -> float:
    config = json.dumps(settings.model_dump(mode="json", exclude={"source"}))
    code = (
        "import json,sys,time; t=time.perf_counter();"
        "from devroute.core.config import parse_settings; from devroute.core.router import Router;"
        "s=parse_settings(json.loads(sys.argv[1])); s.log.enabled=False;"
        "Router(s).route('My Flask app 500s on POST /upload, how do I fix it?', log=False)"
    )
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, config], check=True)
        runs.append(time.perf_counter() - started)
    return round(statistics.median(runs), 3)


def run_benchmark(settings: Settings, data: Path | None = None, rounds: int = 5, compare: str | None = None) -> BenchReport:
    from .scorer import estimate_tokens

    prompts, source = _prompt_set(data)
    settings = settings.model_copy(deep=True)
    settings.log.enabled = False
    tokens = [estimate_tokens(p) for p in prompts]
    cold = _cold_start(settings)
    main = _measure(settings, prompts, rounds)
    other = None
    if compare:
        second = settings.model_copy(deep=True)
        second.triage.backend = compare
        other = _measure(second, prompts, 1)
    return BenchReport(
        prompts=len(prompts),
        prompt_source=source,
        median_prompt_tokens=statistics.median(tokens),
        max_prompt_tokens=max(tokens),
        cold_start_s=cold,
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        main=main,
        compare=other,
    )
