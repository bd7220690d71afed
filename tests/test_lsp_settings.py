"""The language server's settings as editors send them: shapes accepted, and bad values named."""

from __future__ import annotations

import pytest
from devroute.core.prompt_blocks import DEFAULT_GLOBS
from devroute.lsp_server.settings import LspSettings, SettingsError, parse_settings


@pytest.mark.parametrize("raw", [None, {}, [], {"devroute": {}}, {"devroute": []}, {"devroute": None}])
def test_no_settings_means_the_defaults(raw: object) -> None:
    settings = parse_settings(raw)
    assert settings == LspSettings()
    assert settings.globs == list(DEFAULT_GLOBS) and settings.split == "section" and settings.debounce_ms == 150


def test_camel_case_section_and_policy_keys() -> None:
    settings = parse_settings(
        {"devroute": {"debounceMs": 20, "maxDiagnostics": 5, "severity": "hint", "split": "paragraph",
                      "backend": "features", "globs": ["*.prompt.md"],
                      "policy": {"maxRegret": 0.2, "lowRiskMaxRegret": 0.4, "allowedModels": ["a"], "threshold": 0.8}}}
    )
    assert (settings.debounce_ms, settings.max_diagnostics, settings.severity, settings.split) == (20, 5, "hint", "paragraph")
    assert settings.backend == "features" and settings.globs == ["*.prompt.md"]
    assert settings.policy == {"max_regret": 0.2, "low_risk_max_regret": 0.4, "allowed_models": ["a"], "threshold": 0.8}
    assert parse_settings({"debounce_ms": 7}).debounce_ms == 7, "snake_case works too"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"debounceMs": -1}, "debounceMs: Input should be greater than or equal to 0"),
        ({"severity": "error"}, "severity: Input should be 'information' or 'hint'"),
        ({"split": "lines"}, "split: Input should be 'section', 'paragraph' or 'document'"),
        ({"backend": "gpt"}, "backend: Input should be"),
        ({"globs": "*.md"}, "globs: Input should be a valid list"),
        ({"globs": ["{a,b"]}, "globs: Value error, glob '{a,b': '{' without a closing '}'"),
        ({"colour": "blue"}, "colour: unknown key"),
        (42, "expected an object, got int"),
    ],
)
def test_bad_settings_name_the_key(raw: object, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        parse_settings(raw, "devroute settings (test)")
    assert str(error.value).startswith("devroute settings (test): ")
    assert message in str(error.value)
