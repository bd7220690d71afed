"""The Router: the one core object both front ends and the CLI share.

It loads the config, catalog, triage backend and decision log once, then runs
guard -> features -> triage -> risk -> scorer -> policy -> Decision -> log for each prompt.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from .catalog import load_catalog
from .config import Settings, load_settings
from .errors import ConfigError
from .decision_log import DecisionLog, LoggedDecision, LogStats
from .features import PromptFeatures, extract_features
from .guard import guard
from .policy import allowed_candidates, fallback_model, select
from .risk import classify_risks
from .schema import Candidate, Decision, Outcome, Policy, Triage
from .scorer import Scorer, fit_offsets
from .triage import TriageBackend, create_backend


class CandidateExplanation(BaseModel):
    model: str
    p_success: float
    expected_cost_usd: float
    selected: bool
    verdict: str


class Explanation(BaseModel):
    decision_id: str
    selected_model: str
    rule_fired: str
    regret_bound: float
    threshold: float
    risk_codes: list[str]
    summary: str
    candidates: list[CandidateExplanation]


class Router:
    def __init__(self, settings: Settings | None = None, backend: TriageBackend | None = None, log: DecisionLog | None = None) -> None:
        self.settings = settings or Settings()
        self.catalog: list[Candidate] = load_catalog(self.settings.catalog)
        # Validate the configured policy now, so a bad allow-list fails at start-up with a clear message.
        fallback_model(self.settings.policy, allowed_candidates(self.settings.policy, self.catalog))
        self.backend: TriageBackend = backend or create_backend(self.settings.triage)
        self.log: DecisionLog | None = log
        if log is None and self.settings.log.enabled:
            self.log = DecisionLog(self.settings.log_path(), store_prompt=self.settings.log.store_prompt)
        self.scorer = Scorer()
        if self.log is not None:
            self.scorer.model_offsets = fit_offsets(self.log.outcomes())

    @classmethod
    def from_config(cls, path: str | Path | None = None, **overrides: object) -> Router:
        return cls(load_settings(path), **overrides)  # type: ignore[arg-type]

    @property
    def policy(self) -> Policy:
        return self.settings.policy

    def close(self) -> None:
        if self.log is not None:
            self.log.close()

    # -- triage ---------------------------------------------------------------------------
    def _prepare(self, prompt: object) -> tuple[str, str, list[str], PromptFeatures]:
        checked = guard(prompt, self.settings.guard.max_chars)
        return checked.text, checked.redacted, checked.diagnostics, extract_features(checked.text)

    def triage(self, prompt: object) -> Triage:
        text, _, diagnostics, features = self._prepare(prompt)
        result = self.backend.triage(text, features)
        return result.model_copy(update={"diagnostics": diagnostics + result.diagnostics})

    def triage_batch(self, prompts: list[object]) -> list[Triage]:
        prepared = [self._prepare(p) for p in prompts]
        results = self.backend.triage_batch([p[0] for p in prepared], [p[3] for p in prepared])
        return [r.model_copy(update={"diagnostics": p[2] + r.diagnostics}) for p, r in zip(prepared, results, strict=True)]

    # -- routing --------------------------------------------------------------------------
    def resolve_policy(self, policy: Policy | dict | None) -> Policy:
        if policy is None:
            return self.settings.policy
        if isinstance(policy, Policy):
            return policy
        return Policy.model_validate({**self.settings.policy.model_dump(), **{k: v for k, v in policy.items() if v is not None}})

    def _decide(self, text: str, features: PromptFeatures, triage: Triage, guard_codes: list[str], policy: Policy, started: float) -> Decision:
        allowed = allowed_candidates(policy, self.catalog)
        fallback = fallback_model(policy, allowed)
        risk_codes = classify_risks(features, triage)
        scores = self.scorer.score(text, triage, allowed, risk_codes)
        selection = select(scores, policy, risk_codes, fallback)
        by_model = {s.model: s for s in selection.scores}
        chosen, fallback_score = by_model[selection.model], by_model[fallback]
        most_expensive = max(s.expected_cost_usd for s in selection.scores)
        return Decision(
            id=uuid.uuid4().hex,
            timestamp=datetime.now(UTC),
            selected_model=selection.model,
            confidence=chosen.p_success,
            rule_fired=selection.rule,
            expected_cost_usd=chosen.expected_cost_usd,
            cost_saved_usd=round(max(0.0, most_expensive - chosen.expected_cost_usd), 6),
            fallback_model=fallback,
            fallback_cost_usd=fallback_score.expected_cost_usd,
            diagnostics=guard_codes + triage.diagnostics + risk_codes,
            candidates=sorted(selection.scores, key=lambda s: (-s.p_success, s.expected_cost_usd)),
            triage=triage,
            policy=policy,
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    def route(self, prompt: object, policy: Policy | dict | None = None, log: bool = True) -> Decision:
        started = time.perf_counter()
        active = self.resolve_policy(policy)
        text, redacted, guard_codes, features = self._prepare(prompt)
        triage = self.backend.triage(text, features)
        decision = self._decide(text, features, triage, guard_codes, active, started)
        if log and self.log is not None:
            self.log.append(decision, redacted)
        return decision

    def route_batch(self, prompts: list[object], policy: Policy | dict | None = None, log: bool = True) -> list[Decision]:
        started = time.perf_counter()
        active = self.resolve_policy(policy)
        prepared = [self._prepare(p) for p in prompts]
        triages = self.backend.triage_batch([p[0] for p in prepared], [p[3] for p in prepared])
        decisions = []
        for (text, redacted, codes, features), triage in zip(prepared, triages, strict=True):
            decision = self._decide(text, features, triage, codes, active, started)
            if log and self.log is not None:
                self.log.append(decision, redacted)
            decisions.append(decision)
            started = time.perf_counter()
        return decisions

    # -- the log --------------------------------------------------------------------------
    def _require_log(self) -> DecisionLog:
        if self.log is None:
            raise ConfigError("the decision log is disabled ([log] enabled = false)")
        return self.log

    def get_decision(self, decision_id: str) -> Decision:
        return self._require_log().get(decision_id)

    def explain(self, decision_id: str) -> Explanation:
        decision = self.get_decision(decision_id)
        risk_codes = [d for d in decision.diagnostics if d.startswith("risk.")]
        bound = decision.policy.max_regret if risk_codes else decision.policy.low_risk_max_regret
        chosen = next(c for c in decision.candidates if c.model == decision.selected_model)
        summary = (
            f"{decision.selected_model} chosen by rule '{decision.rule_fired.value}' with P(success) {chosen.p_success:.2f} "
            f"at ${chosen.expected_cost_usd:.4f}; threshold {decision.policy.threshold:.2f}, regret bound {bound:.2f} "
            f"({'risks: ' + ', '.join(risk_codes) if risk_codes else 'no risk fired'}); saves ${decision.cost_saved_usd:.4f} "
            "against the most expensive allowed candidate."
        )
        return Explanation(
            decision_id=decision.id,
            selected_model=decision.selected_model,
            rule_fired=decision.rule_fired.value,
            regret_bound=bound,
            threshold=decision.policy.threshold,
            risk_codes=risk_codes,
            summary=summary,
            candidates=[
                CandidateExplanation(model=c.model, p_success=c.p_success, expected_cost_usd=c.expected_cost_usd,
                                     selected=c.model == decision.selected_model, verdict=c.verdict)
                for c in decision.candidates
            ],
        )

    def record_outcome(self, decision_id: str, success: bool, note: str = "") -> Outcome:
        return self._require_log().record_outcome(decision_id, success, note)

    def recent(self, limit: int = 20) -> list[LoggedDecision]:
        return self._require_log().recent(limit)

    def stats(self) -> LogStats:
        return self._require_log().stats()
