"""Risk classifiers: each fires a diagnostic code that tightens the policy's regret bound.

A risk fires from cue words in the prompt, qualified by what the triage says the task is,
so that "explain what a mutex is" does not count as risky concurrency work.
"""

from __future__ import annotations

from .features import PromptFeatures
from .schema import Complexity, Intent, Triage

RISK_CODES = {
    "multi_file_refactor": "risk.multi_file_refactor",
    "security_sensitive": "risk.security_sensitive",
    "data_loss_or_incident": "risk.data_loss_or_incident",
    "concurrency": "risk.concurrency",
}

_CHANGE_INTENTS = {Intent.debug, Intent.refactor, Intent.feature, Intent.optimize, Intent.architecture, Intent.review, Intent.boilerplate}


def classify_risks(features: PromptFeatures, triage: Triage) -> list[str]:
    """Return the risk diagnostic codes that apply to this prompt, in a fixed order."""
    if triage.intent not in _CHANGE_INTENTS:
        return []
    codes = []
    cues = features.risk_cues
    wide_change = bool(cues.get("multi_file_refactor")) or len(set(features.file_paths)) >= 3
    if wide_change and triage.intent in {Intent.refactor, Intent.feature, Intent.architecture, Intent.optimize, Intent.debug}:
        codes.append(RISK_CODES["multi_file_refactor"])
    if cues.get("security_sensitive"):
        codes.append(RISK_CODES["security_sensitive"])
    if cues.get("data_loss_or_incident"):
        codes.append(RISK_CODES["data_loss_or_incident"])
    if cues.get("concurrency") and (triage.complexity != Complexity.low or len(cues["concurrency"]) >= 2):
        codes.append(RISK_CODES["concurrency"])
    return codes
