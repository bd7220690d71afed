"""The MCP server over stdio, as a real subprocess, driven by the mcp package's Client in both protocol modes."""

from __future__ import annotations

import json

import pytest

from devroute.core.catalog import load_catalog
from devroute.core.router import Explanation
from devroute.core.schema import Decision, Outcome, Policy, Triage
from mcp import Client
from mcp_fixtures import EXPECTED_PROTOCOLS, MODES, ServerEnv, server_env, stdio_params  # noqa: F401  (fixture)

pytestmark = pytest.mark.parametrize("mode", MODES)

TOOLS = {"triage_prompt", "route_prompt", "rewrite_prompt", "list_models", "explain_decision", "record_outcome"}
READ_ONLY = {"triage_prompt", "rewrite_prompt", "list_models", "explain_decision"}
PROMPT = "my flask app returns 500 on POST /upload with RequestEntityTooLarge, how do i fix it?"


async def test_tools_are_typed_documented_and_annotated(server_env: ServerEnv, mode: str) -> None:
    async with Client(stdio_params(server_env), mode=mode) as client:
        assert client.protocol_version in EXPECTED_PROTOCOLS[mode]
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for name, tool in tools.items():
        assert tool.description and "Call this" in tool.description, name
        assert tool.output_schema and tool.output_schema.get("properties"), name
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is (name in READ_ONLY), name
    assert set(tools["route_prompt"].output_schema["properties"]) == {"recommended_model", "decision_id", "decision"}
    assert tools["route_prompt"].annotations.destructive_hint is False
    assert tools["route_prompt"].input_schema["required"] == ["prompt"]
    assert set(tools["record_outcome"].input_schema["required"]) == {"decision_id", "success"}


async def test_route_explain_record_round_trip(server_env: ServerEnv, mode: str) -> None:
    async with Client(stdio_params(server_env), mode=mode) as client:
        routed = await client.call_tool("route_prompt", {"prompt": PROMPT})
        assert not routed.is_error, routed.content
        decision = Decision.model_validate(routed.structured_content["decision"])
        assert routed.structured_content["recommended_model"] == decision.selected_model
        assert routed.structured_content["decision_id"] == decision.id

        explained = await client.call_tool("explain_decision", {"decision_id": decision.id})
        assert not explained.is_error, explained.content
        explanation = Explanation.model_validate(explained.structured_content)
        assert [c.model for c in explanation.candidates] == [c.model for c in decision.candidates]
        assert [c.model for c in explanation.candidates if c.selected] == [decision.selected_model]
        assert explanation.rule_fired == decision.rule_fired.value
        # Every candidate carries its probability, its cost and why the policy kept or dropped it.
        for candidate in explanation.candidates:
            assert 0 <= candidate.p_success <= 1 and candidate.expected_cost_usd >= 0
            assert candidate.selected or candidate.verdict

        recorded = await client.call_tool(
            "record_outcome", {"decision_id": decision.id, "success": False, "note": "needed a second try"}
        )
        assert not recorded.is_error, recorded.content
        assert Outcome.model_validate(recorded.structured_content).success is False

    log = server_env.open_log()
    try:
        assert log.get(decision.id).selected_model == decision.selected_model
        assert log.stats().outcomes_recorded == 1 and log.stats().success_rate == 0.0
    finally:
        log.close()


async def test_policy_arguments_apply_to_one_call(server_env: ServerEnv, mode: str) -> None:
    allowed = [c.id for c in load_catalog()][:2]
    async with Client(stdio_params(server_env), mode=mode) as client:
        routed = await client.call_tool("route_prompt", {"prompt": PROMPT, "allowed_models": allowed, "threshold": 0.5})
        assert not routed.is_error, routed.content
        decision = Decision.model_validate(routed.structured_content["decision"])
        assert decision.selected_model in allowed
        assert {c.model for c in decision.candidates} == set(allowed)
        assert decision.policy.threshold == 0.5

        default = await client.call_tool("route_prompt", {"prompt": PROMPT})
        # The override lasted one call: the next one runs under the configured (default) policy.
        assert Decision.model_validate(default.structured_content["decision"]).policy == Policy()
        assert len(default.structured_content["decision"]["candidates"]) == len(load_catalog())


async def test_triage_rewrite_and_models(server_env: ServerEnv, mode: str) -> None:
    async with Client(stdio_params(server_env), mode=mode) as client:
        triaged = await client.call_tool("triage_prompt", {"prompt": PROMPT})
        rewritten = await client.call_tool("rewrite_prompt", {"prompt": PROMPT})
        models = await client.call_tool("list_models", {})
    triage = Triage.model_validate(triaged.structured_content)
    assert triage.devrouter().rewrite  # the five DevRouter fields parse
    assert rewritten.structured_content["rewrite"] == triage.rewrite
    assert rewritten.structured_content["intent"] == triage.intent.value
    assert rewritten.structured_content["changed"] is True  # the lower-case "i" and "my" get fixed at least
    assert [m["id"] for m in models.structured_content["models"]] == [c.id for c in load_catalog()]
    # Text content mirrors the structured result for clients that only read text.
    assert json.loads(models.content[0].text) == models.structured_content


async def test_resources_and_triage_first_prompt(server_env: ServerEnv, mode: str) -> None:
    async with Client(stdio_params(server_env), mode=mode) as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert uris == {"devroute://catalog", "devroute://policy", "devroute://decisions/recent"}
        assert templates == {"devroute://decision/{decision_id}"}

        routed = await client.call_tool("route_prompt", {"prompt": PROMPT})
        decision_id = routed.structured_content["decision_id"]

        catalog = json.loads((await client.read_resource("devroute://catalog")).contents[0].text)
        policy = json.loads((await client.read_resource("devroute://policy")).contents[0].text)
        recent = json.loads((await client.read_resource("devroute://decisions/recent")).contents[0].text)
        one = json.loads((await client.read_resource(f"devroute://decision/{decision_id}")).contents[0].text)

        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        assert "triage_first" in prompts and [a.name for a in prompts["triage_first"].arguments] == ["task"]
        got = await client.get_prompt("triage_first", {"task": PROMPT})

    assert [m["id"] for m in catalog["models"]] == [c.id for c in load_catalog()]
    assert set(policy) == {"threshold", "max_regret", "low_risk_max_regret", "fallback", "allowed_models"}
    assert recent[0]["id"] == decision_id
    assert one["id"] == decision_id and one["selected_model"] == routed.structured_content["recommended_model"]
    text = got.messages[0].content.text
    assert PROMPT in text and "triage_prompt" in text and "record_outcome" in text
