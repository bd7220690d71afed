"""Human-readable rendering of core results for the terminal."""

from __future__ import annotations

import textwrap

from devroute.core.decision_log import LoggedDecision, LogStats
from devroute.core.schema import Candidate, Decision, Triage


def _table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _indent(text: str) -> str:
    return textwrap.indent(text, "  ")


def triage_text(t: Triage) -> str:
    conf = t.confidence
    label = lambda name, value: f"{value}" + (f" ({conf[name]:.2f})" if name in conf else "")  # noqa: E731
    lines = [
        f"intent      {label('intent', t.intent.value)}",
        f"complexity  {label('complexity', t.complexity.value)}",
        f"route       {label('route', t.route.value)}",
        f"backend     {t.backend}",
        "missing     " + ("; ".join(t.missing) if t.missing else "-"),
    ]
    if t.diagnostics:
        lines.append("diagnostics " + ", ".join(t.diagnostics))
    lines += ["", "rewrite:", _indent(t.rewrite)]
    return "\n".join(lines)


def decision_text(d: Decision) -> str:
    t = d.triage
    head = (
        f"→ {d.selected_model}   rule {d.rule_fired.value} · P(success) {d.confidence:.2f} · "
        f"expected ${d.expected_cost_usd:.4f} · saves ${d.cost_saved_usd:.4f}"
    )
    rows = [
        [("* " if c.model == d.selected_model else "  ") + c.model, f"{c.p_success:.3f}", f"${c.expected_cost_usd:.4f}", c.verdict]
        for c in d.candidates
    ]
    parts = [
        head,
        f"  {t.intent.value} · {t.complexity.value} · {t.route.value} · backend {t.backend} · {d.latency_ms:.2f} ms",
        "  missing: " + ("; ".join(t.missing) if t.missing else "-"),
    ]
    if d.diagnostics:
        parts.append("  diagnostics: " + ", ".join(d.diagnostics))
    parts += ["", _table(["model", "P(success)", "exp. cost", "verdict"], rows, right={1, 2}), "", "rewrite:", _indent(t.rewrite), "", f"decision {d.id}"]
    return "\n".join(parts)


def models_text(candidates: list[Candidate]) -> str:
    rows = [
        [c.id, c.provider, "local" if c.local else "cloud", c.tier.value, f"{c.price_in:g}", f"{c.price_out:g}",
         f"{c.context_window:,}", f"{c.ability.swe_bench:.1f}", "estimate" if c.ability.source == "estimate" else c.ability.date]
        for c in candidates
    ]
    headers = ["model", "provider", "where", "tier", "$/M in", "$/M out", "context", "SWE-bench", "source"]
    return _table(headers, rows, right={4, 5, 6, 7})


def log_text(rows: list[LoggedDecision]) -> str:
    if not rows:
        return "no decisions logged yet"
    table = [
        [r.timestamp[:19].replace("T", " "), r.id[:12], r.selected_model, r.rule_fired, f"{r.confidence:.2f}",
         f"${r.expected_cost_usd:.4f}", r.route, ((r.prompt or "").replace("\n", " ")[:40])]
        for r in rows
    ]
    return _table(["time (UTC)", "id", "model", "rule", "P", "cost", "route", "prompt"], table, right={4, 5})


def stats_text(s: LogStats) -> str:
    if not s.count:
        return "no decisions logged yet"
    share = lambda d: ", ".join(f"{k} {v:.0%}" for k, v in d.items())  # noqa: E731
    saved_pct = (1 - s.expected_cost_usd / s.fallback_cost_usd) if s.fallback_cost_usd else 0.0
    lines = [
        f"decisions          {s.count}",
        f"routes             {share(s.route_share)}",
        f"models             {share(s.model_share)}",
        f"rules              {share(s.rule_share)}",
        f"latency            p50 {s.latency_p50_ms:.2f} ms · p99 {s.latency_p99_ms:.2f} ms",
        f"expected cost      ${s.expected_cost_usd:.4f} (all to fallback: ${s.fallback_cost_usd:.4f}, {saved_pct:.0%} less)",
        f"cost saved         ${s.cost_saved_usd:.4f} against the most expensive allowed candidate",
        f"outcomes recorded  {s.outcomes_recorded}" + (f" · success rate {s.success_rate:.0%}" if s.success_rate is not None else ""),
    ]
    return "\n".join(lines)
