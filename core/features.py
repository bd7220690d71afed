"""Handcrafted prompt features: cheap regex and count signals over the whole prompt.

They feed the rules backend directly and are appended to the sentence embedding for the
learned heads, so they are always computed on the full text (the encoder may only see part).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

CODE_FENCE = re.compile(r"```[^\n]*\n.*?(?:```|\Z)", re.S)
INLINE_CODE = re.compile(r"`[^`\n]+`")
STACK_TRACE = re.compile(
    r"Traceback \(most recent call last\)|^\s+at [\w$.<>]+\(.*\)|^\s+File \".+\", line \d+|"
    r"panicked at|goroutine \d+ \[|Exception in thread|^\s*#\d+\s+0x[0-9a-f]+|Caused by:",
    re.M,
)
ERROR_LINE = re.compile(
    r"\b(?:[A-Z]\w*(?:Error|Exception)|error(?:\[E\d+\])?:|ERROR|FATAL|Segmentation fault|panic:|"
    r"undefined is not|cannot find|failed to|exit code \d+|status (?:code )?[45]\d\d|\b[45]\d\d\b (?:error|response)|"
    r"\b(?:returns?|returning|got|getting|throws?|raises?)\s+(?:an?\s+)?(?:http\s+)?[45]\d\d\b|"
    r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)+(?:TooLarge|NotFound|Denied|Refused|Timeout|Failure|Fault|Invalid|Unavailable)\b)",
)
LOG_LINE = re.compile(r"^\s*\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d|^\s*(?:INFO|WARN|WARNING|DEBUG|ERROR)\b", re.M)
FILE_PATH = re.compile(
    r"(?:(?<=\s)|^)(?:[\w.-]+/)+[\w.-]+\.\w{1,5}\b|\b[\w-]+\.(?:py|js|ts|tsx|jsx|go|rs|java|kt|cs|cpp|cc|c|h|hpp|rb|php|"
    r"swift|sql|sh|yaml|yml|toml|json|md|mdc|tf|dockerfile|gradle|xml|html|css|scss|vue|svelte)\b",
    re.I | re.M,
)
URL = re.compile(r"https?://\S+")
VERSION = re.compile(r"\b(?:v?\d+\.\d+(?:\.\d+)?|(?:python|node|java|go|php|ruby|react|django|rails)\s?\d+)\b", re.I)
DIFF_LINE = re.compile(r"^(?:[+-](?![+-])\S|@@ )", re.M)
QUESTION = re.compile(r"\?")
REQUIREMENT = re.compile(r"\b(?:must|should|needs? to|has to|required?|shall|ensure|make sure|acceptance|criteria)\b", re.I)
SCOPE_WIDE = re.compile(
    r"\b(?:whole|entire|all (?:the )?(?:files|modules|services|endpoints|repos?)|across|codebase|monorepo|every (?:file|module|service)|"
    r"multiple (?:files|services|modules)|end[- ]to[- ]end|system|microservices?|cluster|multi-region|distributed)\b",
    re.I,
)
SCOPE_NARROW = re.compile(r"\b(?:this (?:function|line|method|regex|query|snippet)|one[- ]liner|quick|simple|small|tiny|single)\b", re.I)
IMPERATIVE = re.compile(
    r"^\s*(?:please\s+)?(?:add|write|create|make|fix|implement|build|generate|refactor|rename|split|extract|convert|"
    r"migrate|document|explain|review|optimi[sz]e|speed|design|debug|scaffold|set ?up|update|remove|delete|improve|"
    r"clean|port|rewrite|check|find|help|show|tell|describe|compare)\b",
    re.I | re.M,
)
GREETING = re.compile(
    r"^\s*(?:hi+|hello+|hey+|yo|sup|thanks?(?: you)?|thx|ty|ok(?:ay)?|cool|nice|good (?:morning|night|evening)|"
    r"test(?:ing)?|ping|lol|bye|continue|go on|\?+|\.+)\s*[!.?]*\s*$",
    re.I,
)
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_'+#.-]*")

LANGUAGES = (
    "python", "javascript", "typescript", "java", "kotlin", "golang", " go ", "rust", "c#", "c++", "ruby", "php",
    "swift", "scala", "bash", "shell", "sql", "haskell", "elixir", "lua", "dart", "perl", "r ",
)
FRAMEWORKS = (
    "django", "flask", "fastapi", "react", "next.js", "nextjs", "vue", "angular", "svelte", "express", "nestjs",
    "spring", "rails", "laravel", "gin", "actix", "tokio", "axum", "pandas", "numpy", "pytorch", "tensorflow",
    "kubernetes", "k8s", "docker", "terraform", "postgres", "postgresql", "mysql", "mongodb", "redis", "kafka",
    "graphql", "sqlalchemy", "prisma", "celery", "airflow", "spark", "node", "deno", "flutter", "android", "ios",
    ".net", "asp.net", "unity", "jest", "pytest", "webpack", "vite", "aws", "lambda", "gcp", "azure", "nginx",
)
ENVIRONMENT_WORDS = re.compile(
    r"\b(?:windows|linux|macos|mac os|ubuntu|debian|alpine|wsl|docker|kubernetes|k8s|aws|gcp|azure|heroku|vercel|"
    r"ec2|lambda|arm64|x86|m1|m2|m3|nginx|prod(?:uction)?|staging)\b",
    re.I,
)

INTENT_CUES: dict[str, re.Pattern[str]] = {
    "debug": re.compile(
        r"\b(?:error|exception|bug|crash(?:es|ed|ing)?|fails?|failing|failed|broken|doesn'?t work|does not work|not working|"
        r"isn'?t working|won'?t|can'?t|cannot|throws?|undefined|null|nan|500|404|segfault|hangs?|stuck|wrong|"
        r"unexpected(?:ly)?|flaky|regression|traceback|stack ?trace|fix(?:ed|ing)?|issue|problem|timeout|leak|deadlock|"
        r"race condition|keeps? (?:failing|crashing)|why (?:is|does|do|am)|debug)\b",
        re.I,
    ),
    "refactor": re.compile(
        r"\b(?:refactor\w*|clean(?: ?up| up)|restructure|rename|split|extract|reorgani[sz]e|simplify|dedupe|deduplicate|"
        r"modernize|modernise|convert|migrate (?:from|to)|port (?:to|from)|async/await|type hints?|typing|readab\w+|"
        r"decouple|dry|move .* into|break (?:up|down)|tidy)\b",
        re.I,
    ),
    "feature": re.compile(
        r"\b(?:implement|add (?:support|a|an|the)|build|create|make it (?:possible|so)|feature|support for|allow users?|"
        r"new (?:endpoint|command|option|flag|page|component)|algorithm|integrate|let users|enable)\b",
        re.I,
    ),
    "explain": re.compile(
        r"\b(?:what (?:does|is|are|'s)|explain|how does|how do(?:es)? .* work|difference between|vs\.?|versus|why does|"
        r"what happens|meaning of|understand|eli5|walk me through|when should i|is it true)\b",
        re.I,
    ),
    "documentation": re.compile(
        r"\b(?:document\w*|docstrings?|readme|docs?\b|comments?|jsdoc|javadoc|changelog|commit message|api docs|"
        r"openapi description|release notes|write[- ]?up|adr|usage guide|tutorial)\b",
        re.I,
    ),
    "boilerplate": re.compile(
        r"\b(?:boilerplate|scaffold\w*|skeleton|template|dockerfile|docker-compose|compose file|makefile|ci (?:workflow|pipeline)|"
        r"github actions?|workflow|yaml|config(?:uration)? file|setup\.py|pyproject|package\.json|crud|stub|stubs|"
        r"regex for|manifest|helm chart|gitignore|eslint config|unit tests? for|tests? for|generate a|starter)\b",
        re.I,
    ),
    "architecture": re.compile(
        r"\b(?:architect\w*|design (?:a|an|the)|system design|structure (?:my|the|a)|how should i structure|"
        r"microservices?|monolith|scal(?:e|ing|able)|which (?:database|db|queue|framework)|event[- ]driven|"
        r"event sourcing|cqrs|multi-region|trade-?offs?|high availability|sharding|message queue|data pipeline|"
        r"migration plan|tech stack|component diagram)\b",
        re.I,
    ),
    "review": re.compile(
        r"\b(?:review\w*|code review|look over|any (?:issues|problems|bugs)|is this (?:ok|okay|good|correct|safe|right)|"
        r"feedback|critique|sanity check|pr\b|pull request|diff|lgtm|best practices?)\b",
        re.I,
    ),
    "optimize": re.compile(
        r"\b(?:optimi[sz]\w*|faster|speed(?: ?up)?|slow(?:er|ly)?|performance|perf\b|latency|throughput|memory usage|"
        r"reduce (?:memory|time|cost|size|latency)|bottleneck|profil\w+|takes? \d+ ?(?:s|ms|seconds|minutes)|"
        r"efficient\w*|n\+1|cache|caching|bundle size|cold start|cpu)\b",
        re.I,
    ),
}

RISK_CUES: dict[str, re.Pattern[str]] = {
    "multi_file_refactor": re.compile(
        r"\b(?:across (?:the |our |all |every )?(?:codebase|repo\w*|services|modules|files|packages|projects)|whole (?:codebase|repo\w*|project|app)|"
        r"entire (?:codebase|repo\w*|project|app)|all (?:\d+ )?(?:the )?(?:files|modules|services|packages|microservices|endpoints|call ?sites)|"
        r"every (?:file|module|service|package|call ?site)|monorepo|multiple (?:files|services|modules|repos)|\d{2,} files)\b",
        re.I,
    ),
    "security_sensitive": re.compile(
        r"\b(?:auth\w*|password\w*|passwd|secret\w*|credential\w*|token\w*|jwt|oauth|saml|sso|encrypt\w*|decrypt\w*|crypto\w*|"
        r"hash(?:ing)?|salt|tls|ssl|certificate|csrf|xss|sql injection|injection|sanitiz\w+|permission\w*|rbac|acl|"
        r"privilege\w*|vulnerab\w+|cve|exploit|api keys?|session (?:fixation|hijack\w*)|2fa|mfa|pii|gdpr|hipaa)\b",
        re.I,
    ),
    "data_loss_or_incident": re.compile(
        r"\b(?:data loss|lost data|losing data|corrupt\w*|drop (?:table|database|column)|truncate|delete[sd]? (?:all|every|the)|"
        r"wipe[sd]?|rm -rf|irreversib\w+|backfill|data migration|migrat\w+ (?:the )?(?:data|database|db|schema)|"
        r"production|prod\b|outage|incident|sev ?[0-2]\b|p[01]\b|on-?call|pager|downtime|rollback|customers? (?:are|were) "
        r"(?:affected|charged)|double[- ]charg\w+|payments?|billing|money)\b",
        re.I,
    ),
    "concurrency": re.compile(
        r"\b(?:race conditions?|deadlock\w*|concurren\w+|thread[- ]?safe\w*|threads?|threading|mutex\w*|locks?|locking|"
        r"semaphore\w*|atomic\w*|goroutines?|async|await|asyncio|parallel\w*|multiprocess\w*|distributed lock|"
        r"exactly[- ]once|idempoten\w+|eventual consistency)\b",
        re.I,
    ),
}

# Signals named by data/COMPLEXITY_RUBRIC.md's rules, which the sentence embedding sees only weakly.
COMPLEXITY_CUES: dict[str, re.Pattern[str]] = {
    "live_incident": re.compile(
        r"\b(?:right now|currently down|is down|are down|went down|outage|since (?:this morning|last night|the deploy|\d)|"
        r"customers (?:can'?t|cannot|are)|users (?:can'?t|cannot|are (?:seeing|getting|reporting))|paged|alert(?:ing)? (?:fired|firing)|"
        r"firing|urgent|asap|sev ?[0-2]\b|p[01]\b|hotfix|rollback)\b",
        re.I,
    ),
    "unclear_cause": re.compile(
        r"\b(?:intermittent\w*|sometimes|randomly|occasionally|sporadic\w*|flaky|flakes?|only (?:in|on) (?:prod\w*|release|ci|staging)|"
        r"under (?:heavy )?load|memory leak|leaks? memory|heisenbug|can'?t reproduce|cannot reproduce|no errors?|nothing in the logs|"
        r"once (?:a|every) (?:day|week|few)|after (?:a few|some) (?:hours|days))\b",
        re.I,
    ),
    "technology_choice": re.compile(
        r"\b(?:should (?:we|i) (?:use|go with|pick|choose|switch)|which (?:one|library|framework|database|db|queue|tool|approach|option)|"
        r"(?:pros and cons|trade-?offs?)|alternatives? to|worth (?:it|switching|migrating)|or should (?:we|i))\b",
        re.I,
    ),
    "algorithm": re.compile(
        r"\b(?:algorithm\w*|scheduler|solver|crdt|consensus|raft|paxos|diff(?:ing)? algorithm|query planner|rate limiter|"
        r"dynamic programming|graph|shortest path|np-hard|heuristic|interval tree|trie|b-?tree|bloom filter|lock-?free)\b",
        re.I,
    ),
    "scale": re.compile(
        r"\b(?:\d+(?:\.\d+)?\s?(?:[kmb]|million|billion|thousand)\b\s*(?:users|rows|requests|events|messages|records|rps|qps|tps|/s|per)?|"
        r"\d+\s?(?:rps|qps|tps)|at scale|high[- ]traffic|terabytes?|petabytes?|\d+\s?[tg]b\b|multi-?region|millions of|billions of)",
        re.I,
    ),
    "small_task": re.compile(
        r"\b(?:rename|regex|one[- ]liner|typo|quick(?:ly)?|simple|small|tiny|just|single|a docstring|commit message|what is|what does|"
        r"what's|define|definition|meaning of|short explanation|eli5)\b",
        re.I,
    ),
}


@dataclass(slots=True)
class PromptFeatures:
    """Signals from the whole prompt. `vector()` gives the fixed-order numeric form for the heads."""

    n_chars: int
    n_words: int
    n_lines: int
    prose: str
    code_blocks: list[str]
    code_languages: list[str]
    inline_code: int
    stack_trace: int
    error_lines: int
    log_lines: int
    file_paths: list[str]
    urls: int
    versions: list[str]
    diff_lines: int
    questions: int
    requirements: int
    scope_wide: int
    scope_narrow: int
    imperatives: int
    greeting: bool
    junk: bool
    languages: list[str]
    frameworks: list[str]
    environment: list[str]
    intent_cues: dict[str, int] = field(default_factory=dict)
    risk_cues: dict[str, list[str]] = field(default_factory=dict)
    complexity_cues: dict[str, int] = field(default_factory=dict)

    @property
    def has_code(self) -> bool:
        return bool(self.code_blocks) or self.diff_lines >= 3 or _looks_like_code(self.prose)

    @property
    def has_error_output(self) -> bool:
        return self.stack_trace > 0 or self.error_lines > 0 or self.log_lines > 0

    def vector(self) -> np.ndarray:
        cues = [math.log1p(self.intent_cues.get(name, 0)) for name in INTENT_CUES]
        risks = [math.log1p(len(self.risk_cues.get(name, []))) for name in RISK_CUES]
        complexity = [math.log1p(self.complexity_cues.get(name, 0)) for name in COMPLEXITY_CUES]
        values = [
            math.log1p(self.n_chars) / 10,
            math.log1p(self.n_words) / 8,
            math.log1p(self.n_lines) / 6,
            math.log1p(len(self.code_blocks)),
            math.log1p(self.inline_code),
            math.log1p(self.stack_trace),
            math.log1p(self.error_lines),
            math.log1p(self.log_lines),
            math.log1p(len(self.file_paths)),
            math.log1p(self.urls),
            math.log1p(len(self.versions)),
            math.log1p(self.diff_lines),
            math.log1p(self.questions),
            math.log1p(self.requirements),
            math.log1p(self.scope_wide),
            math.log1p(self.scope_narrow),
            math.log1p(self.imperatives),
            float(self.greeting),
            float(self.junk),
            math.log1p(len(self.languages)),
            math.log1p(len(self.frameworks)),
            math.log1p(len(self.environment)),
            float(self.has_code),
            *cues,
            *risks,
            *complexity,
        ]
        return np.asarray(values, dtype=np.float32)


FEATURE_DIM = 23 + len(INTENT_CUES) + len(RISK_CUES) + len(COMPLEXITY_CUES)

_CODE_HINT = re.compile(r"[{};]\s*$|^\s*(?:def|class|function|func|fn|public|private|import|from|const|let|var|SELECT|#include)\b", re.M)


def _looks_like_code(text: str) -> bool:
    return len(_CODE_HINT.findall(text)) >= 2


def _is_junk(text: str, words: list[str]) -> bool:
    stripped = text.strip()
    if not stripped:
        return True
    letters = sum(ch.isalpha() for ch in stripped)
    if letters / max(len(stripped), 1) < 0.35 and len(stripped) < 40:
        return True
    if len(words) <= 2 and len(stripped) <= 12:
        vowels = sum(ch in "aeiouAEIOU" for ch in stripped)
        if vowels == 0 or re.fullmatch(r"(.)\1{2,}", stripped):
            return True
        if re.fullmatch(r"[asdfghjklqwertyuiopzxcvbnm]+", stripped.lower()) and vowels / max(letters, 1) < 0.2:
            return True
    return False


def _name_matchers(names: tuple[str, ...]) -> list[tuple[str, Callable[[str], object]]]:
    """Compile each name's matcher once: names with punctuation match as substrings, the rest as words."""
    matchers: list[tuple[str, Callable[[str], object]]] = []
    for name in names:
        if len(name.strip()) <= 2 and not name.startswith(" ") and not name.endswith(" "):
            continue
        if name.strip() in ("c#", "c++", ".net", "next.js", "asp.net"):
            matchers.append((name.strip(), lambda text, needle=name: needle in text))
        else:
            pattern = re.compile(rf"(?<![\w.]){re.escape(name.strip())}(?![\w])")
            matchers.append((name.strip(), pattern.search))
    return matchers


_LANGUAGE_MATCHERS = _name_matchers(LANGUAGES)
_FRAMEWORK_MATCHERS = _name_matchers(FRAMEWORKS)


def _find_names(lowered: str, matchers: list[tuple[str, Callable[[str], object]]]) -> list[str]:
    padded = f" {lowered} "
    return [name for name, matches in matchers if matches(padded)]


def extract_features(prompt: str) -> PromptFeatures:
    code_blocks = CODE_FENCE.findall(prompt)
    code_languages = [block[3:].split("\n", 1)[0].strip().lower() for block in code_blocks]
    prose = CODE_FENCE.sub(" ", prompt)
    lowered = prose.lower()
    words = WORD.findall(prose)
    stripped = prompt.strip()
    return PromptFeatures(
        n_chars=len(prompt),
        n_words=len(prompt.split()),
        n_lines=prompt.count("\n") + 1,
        prose=prose,
        code_blocks=code_blocks,
        code_languages=[lang for lang in code_languages if lang],
        inline_code=len(INLINE_CODE.findall(prose)),
        stack_trace=len(STACK_TRACE.findall(prompt)),
        error_lines=len(ERROR_LINE.findall(prompt)),
        log_lines=len(LOG_LINE.findall(prompt)),
        file_paths=FILE_PATH.findall(prose),
        urls=len(URL.findall(prompt)),
        versions=VERSION.findall(prose),
        diff_lines=len(DIFF_LINE.findall(prompt)),
        questions=len(QUESTION.findall(prose)),
        requirements=len(REQUIREMENT.findall(prose)),
        scope_wide=len(SCOPE_WIDE.findall(prose)),
        scope_narrow=len(SCOPE_NARROW.findall(prose)),
        imperatives=len(IMPERATIVE.findall(prose)),
        greeting=bool(GREETING.match(stripped)),
        junk=_is_junk(stripped, words),
        languages=_find_names(lowered, _LANGUAGE_MATCHERS) + [lang for lang in code_languages if lang],
        frameworks=_find_names(lowered, _FRAMEWORK_MATCHERS),
        environment=sorted({m.lower() for m in ENVIRONMENT_WORDS.findall(prose)}),
        intent_cues={name: len(rx.findall(prose)) for name, rx in INTENT_CUES.items()},
        risk_cues={name: [m if isinstance(m, str) else m[0] for m in rx.findall(prompt)] for name, rx in RISK_CUES.items()},
        complexity_cues={name: len(rx.findall(prose)) for name, rx in COMPLEXITY_CUES.items()},
    )
