"""Pydantic models at the boundaries of the core: what triage, scorer, policy and log exchange.

`Triage` always carries the five DevRouter fields (rewrite, intent, complexity, route,
missing) and parses as that schema; the richer fields are optional additions.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Intent(StrEnum):
    debug = "debug"
    refactor = "refactor"
    feature = "feature"
    explain = "explain"
    documentation = "documentation"
    boilerplate = "boilerplate"
    architecture = "architecture"
    review = "review"
    optimize = "optimize"
    other = "other"


class Complexity(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class Route(StrEnum):
    small_local = "small_local"
    medium_api = "medium_api"
    large_api = "large_api"


class MissingKind(StrEnum):
    error_output = "error_output"
    code = "code"
    expected_behavior = "expected_behavior"
    versions = "versions"
    environment = "environment"
    reproduction = "reproduction"
    examples = "examples"
    constraints = "constraints"
    target = "target"
    acceptance = "acceptance"


class RuleFired(StrEnum):
    threshold = "threshold"
    max_regret = "max_regret"
    low_risk_max_regret = "low_risk_max_regret"
    fallback_declined = "fallback_declined"


INTENTS: tuple[str, ...] = tuple(i.value for i in Intent)
COMPLEXITIES: tuple[str, ...] = tuple(c.value for c in Complexity)
ROUTES: tuple[str, ...] = tuple(r.value for r in Route)
MISSING_KINDS: tuple[str, ...] = tuple(k.value for k in MissingKind)


class DevRouterTriage(BaseModel):
    """Exactly the DevRouter-1.5B output schema: what a GGUF triage model must produce."""

    model_config = ConfigDict(extra="ignore")

    rewrite: str
    intent: Intent
    complexity: Complexity
    route: Route
    missing: list[str] = Field(default_factory=list)


class MissingItem(BaseModel):
    kind: MissingKind
    text: str = Field(description="What to provide, e.g. 'Flask version'.")


class Triage(DevRouterTriage):
    """DevRouter fields plus confidences, canonical missing kinds and the backend that answered."""

    missing_items: list[MissingItem] = Field(default_factory=list)
    confidence: dict[str, float] = Field(
        default_factory=dict, description="Calibrated probability of each predicted label (intent, complexity, route)."
    )
    probabilities: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Full distribution per head, where the backend has one."
    )
    backend: str = "builtin"
    diagnostics: list[str] = Field(default_factory=list)

    def devrouter(self) -> DevRouterTriage:
        return DevRouterTriage(
            rewrite=self.rewrite, intent=self.intent, complexity=self.complexity, route=self.route, missing=self.missing
        )


class Ability(BaseModel):
    model_config = ConfigDict(extra="forbid")

    benchmark: str
    value: float = Field(ge=0, le=100, description="Percent on the benchmark.")
    source: str = Field(description="URL of the public figure, or 'estimate'.")
    date: str
    note: str = ""
    swe_equiv: float | None = Field(default=None, ge=0, le=100)

    @property
    def swe_bench(self) -> float:
        """The figure on the SWE-bench Verified scale the scorer works on."""
        return self.swe_equiv if self.swe_equiv is not None else self.value


class Candidate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    name: str = ""
    provider: str
    local: bool = False
    tier: Route
    price_in: float = Field(ge=0, description="USD per 1M input tokens.")
    price_out: float = Field(ge=0, description="USD per 1M output tokens.")
    context_window: int = Field(gt=0)
    ability: Ability


class Policy(BaseModel):
    """Routing policy knobs, named as users of model routers know them."""

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(default=0.7, ge=0, le=1, description="Minimum P(success) a candidate must reach.")
    max_regret: float = Field(
        default=0.15, ge=0, le=1, description="Largest P(success) gap to the best candidate when a risk fires."
    )
    low_risk_max_regret: float = Field(
        default=0.30, ge=0, le=1, description="The wider gap allowed when no risk classifier fires."
    )
    fallback: str | None = Field(
        default=None, description="Model used when no candidate qualifies; defaults to the first allowed model."
    )
    allowed_models: list[str] = Field(default_factory=list, description="Allow-list of candidate ids; empty = all.")


class CandidateScore(BaseModel):
    model: str
    p_success: float
    expected_input_tokens: int
    expected_output_tokens: int
    expected_cost_usd: float
    qualified: bool = False
    verdict: str = Field(default="", description="Why the policy kept or dropped this candidate.")


class Decision(BaseModel):
    id: str
    timestamp: datetime
    selected_model: str
    confidence: float = Field(description="P(success) of the selected model.")
    rule_fired: RuleFired
    expected_cost_usd: float
    cost_saved_usd: float = Field(description="Expected cost of the most expensive allowed candidate minus ours.")
    fallback_model: str
    fallback_cost_usd: float
    diagnostics: list[str] = Field(default_factory=list)
    candidates: list[CandidateScore]
    triage: Triage
    policy: Policy
    latency_ms: float


class Outcome(BaseModel):
    decision_id: str
    success: bool
    note: str = ""
    timestamp: datetime
