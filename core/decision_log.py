"""Append-only SQLite log of routing decisions and their recorded outcomes.

WAL mode plus a busy timeout and one short IMMEDIATE transaction per row let several
processes (the MCP server, the language server, the CLI) append at once without losing rows.
Triggers refuse UPDATE and DELETE so the log stays append-only.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import threading
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from .errors import UnknownDecisionError
from .schema import Decision, Outcome

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id TEXT PRIMARY KEY,
    ts TEXT NOT NULL,
    selected_model TEXT NOT NULL,
    confidence REAL NOT NULL,
    rule_fired TEXT NOT NULL,
    expected_cost_usd REAL NOT NULL,
    cost_saved_usd REAL NOT NULL,
    fallback_model TEXT NOT NULL,
    fallback_cost_usd REAL NOT NULL,
    intent TEXT NOT NULL,
    complexity TEXT NOT NULL,
    route TEXT NOT NULL,
    backend TEXT NOT NULL,
    latency_ms REAL NOT NULL,
    prompt TEXT,
    decision_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_ts ON decisions (ts);
CREATE TABLE IF NOT EXISTS outcomes (
    rowid INTEGER PRIMARY KEY,
    decision_id TEXT NOT NULL REFERENCES decisions (id),
    ts TEXT NOT NULL,
    success INTEGER NOT NULL,
    note TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'the decision log is append-only'); END;
"""


class LogStats(BaseModel):
    count: int
    route_share: dict[str, float]
    model_share: dict[str, float]
    rule_share: dict[str, float]
    latency_p50_ms: float
    latency_p99_ms: float
    expected_cost_usd: float
    fallback_cost_usd: float
    cost_saved_usd: float
    outcomes_recorded: int
    success_rate: float | None


class LoggedDecision(BaseModel):
    id: str
    timestamp: str
    selected_model: str
    confidence: float
    rule_fired: str
    expected_cost_usd: float
    cost_saved_usd: float
    intent: str
    complexity: str
    route: str
    latency_ms: float
    prompt: str | None


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]


class DecisionLog:
    def __init__(self, path: Path, store_prompt: bool = True) -> None:
        self.path = Path(path)
        self.store_prompt = store_prompt
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA busy_timeout = 30000")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            self._conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def append(self, decision: Decision, prompt: str | None) -> None:
        t = decision.triage
        row = (
            decision.id, decision.timestamp.isoformat(), decision.selected_model, decision.confidence,
            decision.rule_fired.value, decision.expected_cost_usd, decision.cost_saved_usd, decision.fallback_model,
            decision.fallback_cost_usd, t.intent.value, t.complexity.value, t.route.value, t.backend,
            decision.latency_ms, prompt if self.store_prompt else None, decision.model_dump_json(),
        )
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(f"INSERT INTO decisions VALUES ({','.join('?' * len(row))})", row)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def get(self, decision_id: str) -> Decision:
        with self._lock:
            row = self._conn.execute("SELECT decision_json FROM decisions WHERE id = ?", (decision_id,)).fetchone()
        if row is None:
            raise UnknownDecisionError(f"no decision with id '{decision_id}' in the log")
        return Decision.model_validate_json(row[0])

    def record_outcome(self, decision_id: str, success: bool, note: str = "") -> Outcome:
        outcome = Outcome(decision_id=decision_id, success=success, note=note, timestamp=datetime.now(UTC))
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if self._conn.execute("SELECT 1 FROM decisions WHERE id = ?", (decision_id,)).fetchone() is None:
                    raise UnknownDecisionError(f"no decision with id '{decision_id}' in the log")
                self._conn.execute(
                    "INSERT INTO outcomes (decision_id, ts, success, note) VALUES (?, ?, ?, ?)",
                    (decision_id, outcome.timestamp.isoformat(), int(success), note),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return outcome

    def outcomes(self) -> list[tuple[str, float, bool]]:
        """(selected model, its predicted P, success) for every recorded outcome."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT d.selected_model, d.confidence, o.success FROM outcomes o JOIN decisions d ON d.id = o.decision_id"
            ).fetchall()
        return [(model, p, bool(ok)) for model, p, ok in rows]

    def recent(self, limit: int = 20) -> list[LoggedDecision]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, ts, selected_model, confidence, rule_fired, expected_cost_usd, cost_saved_usd, intent, "
                "complexity, route, latency_ms, prompt FROM decisions ORDER BY ts DESC, rowid DESC LIMIT ?",
                (limit,),
            ).fetchall()
        fields = list(LoggedDecision.model_fields)
        return [LoggedDecision(**dict(zip(fields, row, strict=True))) for row in rows]

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]

    def stats(self) -> LogStats:
        with self._lock:
            rows = self._conn.execute(
                "SELECT route, selected_model, rule_fired, latency_ms, expected_cost_usd, fallback_cost_usd, cost_saved_usd FROM decisions"
            ).fetchall()
            outcome_rows = self._conn.execute("SELECT success FROM outcomes").fetchall()
        count = len(rows)

        def share(column: int) -> dict[str, float]:
            tally: dict[str, int] = {}
            for row in rows:
                tally[row[column]] = tally.get(row[column], 0) + 1
            return {k: round(v / count, 4) for k, v in sorted(tally.items(), key=lambda kv: -kv[1])}

        latencies = [row[3] for row in rows]
        return LogStats(
            count=count,
            route_share=share(0) if count else {},
            model_share=share(1) if count else {},
            rule_share=share(2) if count else {},
            latency_p50_ms=round(percentile(latencies, 50), 3),
            latency_p99_ms=round(percentile(latencies, 99), 3),
            expected_cost_usd=round(sum(row[4] for row in rows), 6),
            fallback_cost_usd=round(sum(row[5] for row in rows), 6),
            cost_saved_usd=round(sum(row[6] for row in rows), 6),
            outcomes_recorded=len(outcome_rows),
            success_rate=round(sum(r[0] for r in outcome_rows) / len(outcome_rows), 4) if outcome_rows else None,
        )

    def export_jsonl(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute("SELECT decision_json FROM decisions ORDER BY ts, rowid").fetchall()
        return [json.dumps(json.loads(r[0]), ensure_ascii=False) for r in rows]
