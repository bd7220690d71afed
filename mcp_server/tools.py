"""The MCP tools: one small typed function per core call, each returning a pydantic model.

The docstrings are what an agent reads to decide when to call a tool, so they say when, not how.
Core errors become tool errors (is_error results with the core's one-line message), so bad
input never takes the server down.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from pydantic import Field, ValidationError

from devroute.core.config import format_validation_error
from devroute.core.errors import DevrouteError
from devroute.core.router import Explanation, Router
from devroute.core.schema import Outcome, Triage
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from .models import ModelList, RewriteResult, RouteResult

PromptText = Annotated[str, Field(description="The developer's prompt, exactly as written (code and logs included).")]
DecisionId = Annotated[str, Field(description="The decision_id returned by route_prompt.")]
Probability = Annotated[float | None, Field(ge=0, le=1)]


@contextmanager
def core_errors() -> Iterator[None]:
    """Turn the core's input errors into tool errors carrying its one-line message."""
    try:
        yield
    except DevrouteError as exc:
        raise ToolError(str(exc)) from None
    except ValidationError as exc:  # a policy override out of range
        raise ToolError(format_validation_error(exc, "invalid policy")) from None


def register_tools(server: MCPServer, router: Router) -> None:
    # A remote triage backend sends the prompt off the machine; say so in the hints.
    remote = router.settings.triage.backend == "http"
    reads = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=remote)

    @server.tool(title="Triage a prompt", annotations=reads)
    def triage_prompt(prompt: PromptText) -> Triage:
        """Call this first on a developer's request, before working on it: returns intent, complexity,
        the route tier, missing context (ask the user for it rather than guessing) and a clearer
        rewrite. Reads only; nothing is logged."""
        with core_errors():
            return router.triage(prompt)

    @server.tool(
        title="Route a prompt to a model",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=remote
        ),
    )
    def route_prompt(
        prompt: PromptText,
        allowed_models: Annotated[
            list[str] | None, Field(description="Only consider these model ids (see list_models).")
        ] = None,
        threshold: Annotated[Probability, Field(description="Minimum P(success) a model must reach.")] = None,
        max_regret: Annotated[Probability, Field(description="Largest P(success) gap to the best model when a risk fires.")] = None,
        low_risk_max_regret: Annotated[Probability, Field(description="The gap allowed when no risk fires.")] = None,
        fallback: Annotated[str | None, Field(description="Model to use when none qualifies.")] = None,
    ) -> RouteResult:
        """Call this when you are about to hand a task to a model (or pick one for a subagent) and want
        the cheapest model likely to succeed. Returns the recommended model plus the whole decision
        (every candidate's P(success) and cost, the rule that fired) and logs it; keep the
        decision_id for explain_decision and record_outcome. Policy arguments override the
        configured policy for this call only."""
        overrides = {
            "allowed_models": allowed_models,
            "threshold": threshold,
            "max_regret": max_regret,
            "low_risk_max_regret": low_risk_max_regret,
            "fallback": fallback,
        }
        with core_errors():
            decision = router.route(prompt, overrides)
        return RouteResult(recommended_model=decision.selected_model, decision_id=decision.id, decision=decision)

    @server.tool(title="Rewrite a prompt", annotations=reads)
    def rewrite_prompt(prompt: PromptText) -> RewriteResult:
        """Call this when a request is vague or rambling and you want a clearer version to work from or
        to show the user: states the goal, keeps every fact and code block verbatim, and lists
        the context still missing as open questions. Reads only."""
        with core_errors():
            triage = router.triage(prompt)
        return RewriteResult(
            rewrite=triage.rewrite, changed=triage.rewrite != prompt.strip(), intent=triage.intent, missing_items=triage.missing_items
        )

    @server.tool(title="List candidate models", annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False))
    def list_models() -> ModelList:
        """Call this to see which model ids route_prompt can choose from (for its allowed_models or
        fallback arguments), with their prices per 1M tokens, context windows and ability priors."""
        return ModelList(models=router.catalog)

    @server.tool(title="Explain a routing decision", annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False))
    def explain_decision(decision_id: DecisionId) -> Explanation:
        """Call this when the user asks why a model was chosen, or before overriding a recommendation:
        for a logged decision, every candidate's P(success) and expected cost, and the rule that
        kept or dropped it."""
        with core_errors():
            return router.explain(decision_id)

    @server.tool(
        title="Record the outcome of a decision",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False),
    )
    def record_outcome(
        decision_id: DecisionId,
        success: Annotated[bool, Field(description="True if the recommended model did the job.")],
        note: Annotated[str, Field(description="What went right or wrong, in a sentence.", max_length=4000)] = "",
    ) -> Outcome:
        """Call this once the task routed by route_prompt is finished (or clearly failed): stores whether
        the recommended model succeeded in the decision log, which later recalibrates routing."""
        with core_errors():
            return router.record_outcome(decision_id, success, note)
