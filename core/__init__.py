"""devroute core: triage, scoring, policy and the decision log, shared by every front end."""

__version__ = "0.1.0"
