"""Missing-context rules: which canonical kinds a prompt lacks, and a specific phrase for each.

The rules backend uses `rule_missing_kinds`; the learned backend predicts kinds with its own
head and both use `describe_missing` so the strings read the same.
"""

from __future__ import annotations

import re

from ..features import PromptFeatures
from ..schema import Complexity, Intent, MissingItem, MissingKind

_REFERS_TO_CODE = re.compile(
    r"\b(?:this|my|the|our|attached|following|above|below)\s+(?:code|function|method|class|component|query|script|"
    r"snippet|module|file|endpoint|regex|hook|test|diff|pr|implementation|sql|loop|program)\b",
    re.I,
)
_EXPECTED = re.compile(r"\b(?:expect\w*|should|supposed to|instead of|instead|rather than|want it to|intended)\b", re.I)
_VAGUE_FAILURE = re.compile(r"\b(?:wrong|weird|strange|incorrect|doesn'?t work|does not work|not working|broken|off|bad)\b", re.I)
_INTERMITTENT = re.compile(r"\b(?:sometimes|intermittent\w*|flaky|randomly|occasionally|every now and then|some users|only on)\b", re.I)
_REPRO = re.compile(r"\b(?:steps|repro\w*|when i|after i|if i|to reproduce|run(?:ning)?)\b", re.I)
_ENV_SENSITIVE = re.compile(
    r"\b(?:install\w*|deploy\w*|build\w*|compil\w+|pip|npm|permission denied|path|env(?:ironment)?|works (?:locally|on my machine)|"
    r"on the server|in docker|container|ci\b|pipeline|driver|gpu|cuda|ssl)\b",
    re.I,
)
_EXAMPLE_TASK = re.compile(r"\b(?:regex|parse|parser|format|convert|transform|extract|match|validate|mapping|csv|json)\b", re.I)
_NUMBERS = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:k|m|ms|s|sec|seconds|minutes|gb|mb|tb|rps|qps|users|rows|requests|%|x)\b", re.I)
_CONSTRAINT_WORDS = re.compile(r"\b(?:latency|throughput|budget|scale|sla|slo|memory limit|at most|under \d|p99|p95)\b", re.I)

_VERSIONED = ("django", "flask", "fastapi", "react", "next.js", "nextjs", "vue", "angular", "spring", "rails", "laravel",
              "pandas", "numpy", "pytorch", "tensorflow", "sqlalchemy", "prisma", "node", "kubernetes", "postgres",
              "postgresql", "mysql", "mongodb", "terraform", "celery", "spark", "flutter", ".net", "webpack", "vite")


def describe_missing(kind: MissingKind, features: PromptFeatures, intent: Intent) -> str:
    """A short, specific phrase for one missing kind, naming what the prompt mentions."""
    framework = next((f for f in features.frameworks if f in _VERSIONED), None)
    if kind == MissingKind.error_output:
        return "the full error message or stack trace"
    if kind == MissingKind.code:
        match = _REFERS_TO_CODE.search(features.prose)
        return f"the {match.group(0).split()[-1].lower()} itself (it is referred to but not included)" if match else "the code in question"
    if kind == MissingKind.expected_behavior:
        return "expected versus actual behaviour"
    if kind == MissingKind.versions:
        return f"{_display(framework)} version" if framework else "language and library versions"
    if kind == MissingKind.environment:
        return "OS, runtime and deployment environment"
    if kind == MissingKind.reproduction:
        return "steps or input that reproduce the problem"
    if kind == MissingKind.examples:
        return "example input and the expected output"
    if kind == MissingKind.constraints:
        if intent == Intent.optimize:
            return "current timings and the target (latency, memory or cost)"
        return "scale, latency and budget constraints"
    if kind == MissingKind.target:
        return "the language, framework or file to work in"
    return "acceptance criteria (what done means, which tests)"


def _display(name: str) -> str:
    special = {"nextjs": "Next.js", "next.js": "Next.js", "postgresql": "PostgreSQL", "postgres": "PostgreSQL", "mysql": "MySQL",
               "mongodb": "MongoDB", "fastapi": "FastAPI", "pytorch": "PyTorch", "tensorflow": "TensorFlow",
               "sqlalchemy": "SQLAlchemy", "node": "Node.js", ".net": ".NET", "numpy": "NumPy"}
    return special.get(name, name.capitalize())


def rule_missing_kinds(features: PromptFeatures, intent: Intent, complexity: Complexity) -> list[MissingKind]:
    """What a strong engineer would ask for before starting, by rule. At most three kinds."""
    if intent == Intent.other or features.greeting or features.junk:
        return []
    prose = features.prose
    kinds: list[MissingKind] = []
    refers_to_code = bool(_REFERS_TO_CODE.search(prose))
    if intent in (Intent.refactor, Intent.review, Intent.optimize, Intent.documentation, Intent.explain, Intent.debug):
        if refers_to_code and not features.has_code:
            kinds.append(MissingKind.code)
    if intent == Intent.debug:
        if not features.has_error_output:
            kinds.append(MissingKind.error_output)
            if _VAGUE_FAILURE.search(prose) and not _EXPECTED.search(prose):
                kinds.append(MissingKind.expected_behavior)
        if _INTERMITTENT.search(prose) and not _REPRO.search(prose):
            kinds.append(MissingKind.reproduction)
        if _ENV_SENSITIVE.search(prose) and not features.environment:
            kinds.append(MissingKind.environment)
        elif any(f in _VERSIONED for f in features.frameworks) and not features.versions:
            kinds.append(MissingKind.versions)
    elif intent == Intent.optimize:
        if not _NUMBERS.search(prose) and not _CONSTRAINT_WORDS.search(prose):
            kinds.append(MissingKind.constraints)
    elif intent == Intent.architecture:
        if not _NUMBERS.search(prose) and not _CONSTRAINT_WORDS.search(prose):
            kinds.append(MissingKind.constraints)
    elif intent in (Intent.feature, Intent.boilerplate):
        if not features.languages and not features.frameworks and not features.has_code and not features.file_paths:
            kinds.append(MissingKind.target)
        if intent == Intent.boilerplate and _EXAMPLE_TASK.search(prose) and not features.has_code and features.inline_code == 0:
            kinds.append(MissingKind.examples)
        if intent == Intent.feature and complexity == Complexity.high and features.requirements == 0:
            kinds.append(MissingKind.acceptance)
    elif intent == Intent.refactor and not features.has_code and not refers_to_code and not features.file_paths:
        kinds.append(MissingKind.target)
    return kinds[:3]


def missing_items(kinds: list[MissingKind], features: PromptFeatures, intent: Intent) -> list[MissingItem]:
    return [MissingItem(kind=kind, text=describe_missing(kind, features, intent)) for kind in kinds]


_KIND_WORDS: tuple[tuple[MissingKind, re.Pattern[str]], ...] = (
    (MissingKind.error_output, re.compile(r"\b(?:error|stack ?trace|traceback|log|exception|message|output of the failure)\b", re.I)),
    (MissingKind.expected_behavior, re.compile(r"\b(?:expected|actual|should happen|intended)\b", re.I)),
    (MissingKind.versions, re.compile(r"\bversions?\b", re.I)),
    (MissingKind.environment, re.compile(r"\b(?:os|environment|runtime|platform|deploy\w*|setup|hardware|browser|cloud)\b", re.I)),
    (MissingKind.reproduction, re.compile(r"\b(?:repro\w*|steps|trigger\w*|input that)\b", re.I)),
    (MissingKind.examples, re.compile(r"\b(?:examples?|sample\w*|input/output)\b", re.I)),
    (MissingKind.constraints, re.compile(r"\b(?:constraints?|scale|latency|budget|throughput|limits?|sla|traffic|size of|volume|memory)\b", re.I)),
    (MissingKind.acceptance, re.compile(r"\b(?:acceptance|criteria|definition of done|done means|tests? to pass|requirements?)\b", re.I)),
    (MissingKind.target, re.compile(r"\b(?:language|framework|which file|target|stack|library to use|where)\b", re.I)),
    (MissingKind.code, re.compile(r"\b(?:code|function|snippet|implementation|class|query|diff|file contents?|schema)\b", re.I)),
)


def classify_missing_text(text: str) -> MissingKind | None:
    """Map a free-text missing item (as a GGUF model writes it) to its canonical kind."""
    for kind, pattern in _KIND_WORDS:
        if pattern.search(text):
            return kind
    return None
