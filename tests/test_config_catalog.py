from __future__ import annotations

import pytest

from devroute.core.catalog import load_catalog
from devroute.core.config import CatalogSettings, load_settings
from devroute.core.errors import ConfigError, UnknownModelError

POOL = {"deepseek-v4-flash", "qwen3.6-35b-a3b", "deepseek-v4-pro", "glm-5.1", "claude-haiku-4.5", "claude-sonnet-4.6",
        "gpt-5.5", "claude-opus-4.7", "qwen3-coder-next-80b-a3b", "qwen2.5-coder-7b", "lfm2.5-1.2b", "gemini-2.5-pro"}


def test_shipped_catalog_has_the_pool_with_sourced_priors():
    catalog = {c.id: c for c in load_catalog()}
    assert set(catalog) == POOL
    for c in catalog.values():
        assert c.ability.source == "estimate" or c.ability.source.startswith("http")
        assert c.ability.date and c.context_window > 0
        assert c.local == (c.price_in == c.price_out == 0)
        if c.ability.source == "estimate":
            assert c.ability.note


def test_user_config_adds_overrides_and_removes(write_config):
    write_config(
        """
[catalog]
remove = ["lfm2.5-1.2b"]
[catalog.override."claude-haiku-4.5"]
price_in = 0.8
[catalog.override."claude-haiku-4.5".ability]
value = 70.0
[[catalog.add]]
id = "my-llama"
provider = "local"
local = true
tier = "small_local"
price_in = 0
price_out = 0
context_window = 8192
ability = { benchmark = "SWE-bench Verified", value = 20.0, source = "estimate", date = "2026-11-01", note = "our guess" }
"""
    )
    catalog = {c.id: c for c in load_catalog(load_settings().catalog)}
    assert "lfm2.5-1.2b" not in catalog and "my-llama" in catalog
    haiku = catalog["claude-haiku-4.5"]
    assert haiku.price_in == 0.8 and haiku.price_out == 5.0 and haiku.ability.value == 70.0 and haiku.ability.source.startswith("http")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[policy]\nthreshold = 2\n", "policy.threshold"),
        ("[policy]\nthreshhold = 0.5\n", "policy.threshhold: unknown key"),
        ("[triage]\nbackend = \"gpt\"\n", "triage.backend"),
        ("[policy\n", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(write_config, text, message):
    write_config(text)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_override_of_unknown_model_is_an_error():
    with pytest.raises(UnknownModelError, match="nope"):
        load_catalog(CatalogSettings(override={"nope": {"price_in": 1}}))


def test_bad_added_candidate_names_the_field():
    with pytest.raises(ConfigError, match="candidate x.*price_in"):
        load_catalog(CatalogSettings(add=[{"id": "x", "provider": "p", "tier": "medium_api", "price_in": -1, "price_out": 1,
                                           "context_window": 1, "ability": {"benchmark": "b", "value": 1, "source": "estimate", "date": "d"}}]))
