"""Triage backends behind one interface, chosen by `[triage] backend` in the config."""

from __future__ import annotations

from ..config import TriageSettings
from ..errors import ConfigError
from .base import TriageBackend
from .rules import FeatureBackend

__all__ = ["TriageBackend", "FeatureBackend", "create_backend"]


def create_backend(settings: TriageSettings) -> TriageBackend:
    """Build the configured backend; model files are loaded here, once."""
    name = settings.backend
    if name == "features":
        return FeatureBackend()
    if name == "builtin":
        from .embedded import EmbeddedBackend

        return EmbeddedBackend.load()
    if name == "llama-cpp":
        from .llama_cpp import LlamaCppBackend

        return LlamaCppBackend(settings.llama_cpp, fallback=FeatureBackend())
    if name == "http":
        from .http import HttpBackend

        return HttpBackend(settings.http, fallback=_local_fallback())
    raise ConfigError(f"triage.backend: unknown backend '{name}'")


def _local_fallback() -> TriageBackend:
    """The builtin backend when its model files are present, the feature backend otherwise."""
    try:
        from .embedded import EmbeddedBackend

        return EmbeddedBackend.load()
    except Exception:  # noqa: BLE001 - a broken local model must not stop the remote backend from working
        return FeatureBackend()
