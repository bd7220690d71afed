"""Tool results that are not already a core model; each gives its tool an output schema.

Wherever the core has a model (Triage, Explanation, Outcome) the tools return it as is; these
wrappers only add what an agent needs first (the recommended model, the rewrite) on top.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from devroute.core.schema import Candidate, Decision, Intent, MissingItem


class RouteResult(BaseModel):
    recommended_model: str = Field(description="The model to send this prompt to.")
    decision_id: str = Field(description="Pass to explain_decision and record_outcome.")
    decision: Decision = Field(description="The whole decision: scores of every candidate, rule fired, costs, triage.")


class RewriteResult(BaseModel):
    rewrite: str = Field(description="The clearer prompt, same intent; facts and code kept verbatim.")
    changed: bool = Field(description="False when the prompt was already as clear as the rewrite makes it.")
    intent: Intent
    missing_items: list[MissingItem] = Field(
        default_factory=list, description="Context the prompt should include; ask the user, never invent it."
    )


class ModelList(BaseModel):
    models: list[Candidate] = Field(description="Every candidate in the catalog with prices, context window and ability prior.")
