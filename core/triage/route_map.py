"""LABELING.md's route rule: complexity sets the tier, high stakes move it one step up."""

from __future__ import annotations

from ..schema import Complexity, Intent, Route

_BY_COMPLEXITY = {Complexity.low: Route.small_local, Complexity.medium: Route.medium_api, Complexity.high: Route.large_api}
_ORDER = [Route.small_local, Route.medium_api, Route.large_api]
HIGH_STAKES_RISKS = frozenset({"risk.security_sensitive", "risk.data_loss_or_incident"})


def default_route(intent: Intent, complexity: Complexity, risk_codes: list[str] | tuple[str, ...] = ()) -> Route:
    if intent == Intent.other:
        return Route.small_local
    route = _BY_COMPLEXITY[complexity]
    if HIGH_STAKES_RISKS.intersection(risk_codes):
        route = _ORDER[min(_ORDER.index(route) + 1, len(_ORDER) - 1)]
    return route


def route_rank(route: Route) -> int:
    return _ORDER.index(route)
