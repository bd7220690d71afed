from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from devroute.core.config import Settings
from devroute.core.errors import UnknownDecisionError
from devroute.core.router import Router


@pytest.fixture
def router(isolated_home):
    settings = Settings()
    settings.triage.backend = "features"
    r = Router(settings)
    yield r
    r.close()


def test_every_route_is_logged_and_readable(router):
    d1 = router.route("write a Dockerfile for a Node 20 app")
    d2 = router.route("Our payment webhook double-charges customers under load, fix the race")
    assert router.get_decision(d1.id) == d1
    recent = router.recent(10)
    assert [r.id for r in recent] == [d2.id, d1.id]
    stats = router.stats()
    assert stats.count == 2
    assert sum(stats.model_share.values()) == pytest.approx(1.0, abs=1e-3)
    assert stats.fallback_cost_usd >= stats.expected_cost_usd
    assert stats.cost_saved_usd == pytest.approx(d1.cost_saved_usd + d2.cost_saved_usd, abs=1e-5)


def test_log_is_append_only(router):
    decision = router.route("hi")
    conn = sqlite3.connect(router.settings.log_path())
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM decisions")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE decisions SET selected_model = 'x' WHERE id = ?", (decision.id,))
    conn.close()
    assert router.stats().count == 1


def test_outcomes_are_recorded_and_unknown_ids_rejected(router):
    decision = router.route("explain what a mutex is")
    outcome = router.record_outcome(decision.id, True, "worked first time")
    assert outcome.success and router.stats().outcomes_recorded == 1
    with pytest.raises(UnknownDecisionError, match="no decision with id 'nope'"):
        router.record_outcome("nope", False)
    with pytest.raises(UnknownDecisionError):
        router.explain("nope")


def test_explain_gives_every_candidate_a_verdict(router):
    decision = router.route("implement OAuth login with refresh tokens across our three services")
    explanation = router.explain(decision.id)
    assert explanation.selected_model == decision.selected_model
    assert len(explanation.candidates) == len(router.catalog)
    assert all(c.verdict for c in explanation.candidates)
    assert sum(c.selected for c in explanation.candidates) == 1
    assert "risk.security_sensitive" in explanation.risk_codes


def test_two_processes_routing_at_once_lose_no_row(tmp_path, isolated_home):
    prompts = tmp_path / "prompts.jsonl"
    lines = [json.dumps({"prompt": f"fix bug number {i} in the parser, it returns None"}) for i in range(150)]
    prompts.write_text("\n".join(lines))
    command = [sys.executable, "-m", "devroute.cli.main", "--backend", "features", "route", "--batch", str(prompts)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outputs]
    ids = {json.loads(line)["id"] for out, _ in outputs for line in out.decode().splitlines()}
    assert len(ids) == 300
    settings = Settings()
    conn = sqlite3.connect(settings.log_path())
    logged = {row[0] for row in conn.execute("SELECT id FROM decisions")}
    assert logged == ids
