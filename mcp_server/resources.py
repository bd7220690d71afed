"""MCP resources (catalog, active policy, recent decisions, one decision) and the workflow prompt.

Resources are JSON documents a client can attach as context; the prompt is the "triage first"
workflow a person or agent picks from the client's menu.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from pydantic import Field

from devroute.core.errors import DevrouteError, UnknownDecisionError
from devroute.core.router import Router
from mcp.server.mcpserver import MCPServer, UserMessage
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from .models import ModelList

JSON = "application/json"
RECENT_LIMIT = 50


@contextmanager
def core_errors() -> Iterator[None]:
    """Report the core's errors as resource errors carrying its one-line message."""
    try:
        yield
    except UnknownDecisionError as exc:
        raise ResourceNotFoundError(str(exc)) from None
    except DevrouteError as exc:
        raise ResourceError(str(exc)) from None


def register_resources(server: MCPServer, router: Router) -> None:
    @server.resource("devroute://catalog", name="catalog", title="Candidate models", mime_type=JSON,
                     description="Every model route_prompt can pick: provider, prices per 1M tokens, context window, ability prior.")
    def catalog() -> str:
        return ModelList(models=router.catalog).model_dump_json(indent=2)

    @server.resource("devroute://policy", name="policy", title="Active routing policy", mime_type=JSON,
                     description="The configured policy: threshold, max_regret, low_risk_max_regret, fallback, allowed_models.")
    def policy() -> str:
        return router.policy.model_dump_json(indent=2)

    @server.resource("devroute://decisions/recent", name="recent-decisions", title="Recent decisions", mime_type=JSON,
                     description=f"The {RECENT_LIMIT} most recent routing decisions, newest first.")
    def recent_decisions() -> str:
        with core_errors():
            rows = router.recent(RECENT_LIMIT)
        return json.dumps([row.model_dump(mode="json") for row in rows], indent=2, ensure_ascii=False)

    @server.resource("devroute://decision/{decision_id}", name="decision", title="One routing decision", mime_type=JSON,
                     description="The full logged decision for a decision_id returned by route_prompt.")
    def decision(decision_id: str) -> str:
        with core_errors():
            return router.get_decision(decision_id).model_dump_json(indent=2)


TRIAGE_FIRST = """\
Before working on the task below, triage it with the devroute tools:

1. Call `triage_prompt` with the task text. If `missing_items` is not empty, ask me for that \
context (one short question per item) instead of guessing; then use the completed task.
2. Call `route_prompt` with the task. Use `recommended_model` for the work (or for the subagent \
you delegate it to) and keep `decision_id`.
3. If I ask why that model, call `explain_decision` with the decision_id.
4. When the task is done or has clearly failed, call `record_outcome` with the decision_id, \
success true or false, and a one-sentence note.

Task:
{task}"""


def register_prompts(server: MCPServer) -> None:
    @server.prompt(name="triage_first", title="Triage first, then route",
                   description="Triage a task, fill in missing context, route it to the cheapest capable model, record the outcome.")
    def triage_first(
        task: Annotated[str, Field(description="The task or prompt to triage and route.")],
    ) -> list[UserMessage]:
        return [UserMessage(TRIAGE_FIRST.format(task=task.strip()))]
