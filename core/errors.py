"""Errors the core raises for bad input; front ends turn them into one-line messages."""


class DevrouteError(Exception):
    """Base class: the message is a complete, user-facing sentence."""


class PromptError(DevrouteError, ValueError):
    """The prompt is empty, too large or not text."""


class UnknownModelError(DevrouteError, KeyError):
    """A model id names no candidate in the catalog."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "unknown model"


class UnknownDecisionError(DevrouteError, KeyError):
    """A decision id is not in the log."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown decision"


class ConfigError(DevrouteError, ValueError):
    """The configuration file or a setting is invalid."""


class BackendError(DevrouteError, RuntimeError):
    """A triage backend could not answer (model missing, server down, bad output)."""
