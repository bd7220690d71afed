"""Prompt blocks: how a prompt document is cut into the pieces devroute triages one at a time.

Pure functions, no I/O and no protocol types, so the language server and the MCP server can
share them. Lines are numbered from 0, characters are Unicode code points (a front end
converts them to its own units, e.g. UTF-16 for LSP), and a line ends at ``\\n``, ``\\r\\n``
or ``\\r``, as in the Language Server Protocol.

How a document is split
-----------------------

1. Front matter is skipped: a ``---`` line on the first line up to the next ``---`` (or
   ``...``) line, as in ``.cursor/rules/*.mdc``, ``.claude/commands/*.md`` and
   ``*.prompt.md``. It is metadata, not prompt text.
2. Fenced code (`````` or ``~~~``) is never cut: headings, rules and blank lines inside a
   fence belong to the block around it.
3. ``section`` mode (the default): every Markdown heading (``# ...`` or a setext heading
   underlined with ``===``/``---``) and every thematic break (``---``, ``***``, ``___``) ends a
   block; so does a ``===``/``---`` line right under a multi-line paragraph (that paragraph
   stays in the block before). A block is the body *under* a heading, from its first to its last
   non-blank line; the heading line itself is a label and stays out of the block, so a rewrite
   never touches it. Text before the first heading is a block too. A file without headings,
   the usual single ``*.prompt.md``, is one block.
4. ``paragraph`` mode: as ``section``, then each section body is cut further at blank lines.
   A paragraph stays with the one before it when it cannot stand alone as a prompt: when it
   is only a code fence (``Here is the code:`` + the code), when the paragraph before it ends
   with a colon (``Steps:`` + a list), or when it is a devroute missing-context checklist.
5. ``document`` mode: everything after the front matter is one block, headings included.

Blank blocks are dropped. A block's ``heading`` is the title of the heading it sits under.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict

from .schema import Decision

SplitMode = Literal["section", "paragraph", "document"]
SPLIT_MODES: tuple[str, ...] = ("section", "paragraph", "document")

# The files an editor should hand to devroute by default: Markdown and plain text, and the
# prompt files of coding agents, named explicitly so a user who narrows the Markdown globs
# still keeps them. Patterns without a "/" match a file name in any folder.
DEFAULT_GLOBS: tuple[str, ...] = (
    "*.md",
    "*.markdown",
    "*.txt",
    "*.prompt.md",
    ".claude/commands/*.md",
    "AGENTS.md",
    "CLAUDE.md",
    ".cursor/rules/*.mdc",
)

CHECKLIST_TITLE = "Missing context:"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_THEMATIC_BREAK = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER_END = ("---", "...")


class PromptBlock(BaseModel):
    """One prompt in a document: the lines it spans and the text devroute triages."""

    model_config = ConfigDict(frozen=True)

    start_line: int
    end_line: int
    end_character: int
    text: str
    heading: str | None = None

    def contains_line(self, line: int) -> bool:
        return self.start_line <= line <= self.end_line

    def overlaps_lines(self, first: int, last: int) -> bool:
        return self.start_line <= last and first <= self.end_line


def split_lines(text: str) -> list[str]:
    """Lines as LSP counts them (``\\n``, ``\\r\\n`` and ``\\r`` end a line), without the breaks."""
    return _LINE_BREAK.split(text)


def _front_matter_end(lines: Sequence[str]) -> int:
    """Index of the first line after the front matter (0 when there is none)."""
    if not lines or lines[0].rstrip() != "---":
        return 0
    for index in range(1, len(lines)):
        if lines[index].rstrip() in _FRONT_MATTER_END:
            return index + 1
    return 0  # an unclosed "---" is a thematic break, not front matter


class _Paragraph:
    """Consecutive non-blank lines (fenced code may hold blank lines) inside one section."""

    __slots__ = ("start", "end", "heading", "code_only")

    def __init__(self, start: int, heading: str | None, code_only: bool) -> None:
        self.start = start
        self.end = start
        self.heading = heading
        self.code_only = code_only


def _heading_title(raw: str | None) -> str:
    return (raw or "").strip()


def _paragraphs(lines: Sequence[str], first: int, keep_headings: bool) -> list[list[_Paragraph]]:
    """Paragraphs grouped by section. With keep_headings, headings are content (document mode)."""
    sections: list[list[_Paragraph]] = [[]]
    heading: str | None = None
    current: _Paragraph | None = None
    fence: str | None = None  # the opening fence's characters while inside fenced code
    index = first
    while index < len(lines):
        line = lines[index]
        if fence is not None:
            if current is not None and line.strip():
                current.end = index  # blank lines count only once later code follows (an unclosed fence ends on text)
            closing = _FENCE.match(line)
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence) and not line.strip(" `~"):
                fence = None
            index += 1
            continue
        opening = _FENCE.match(line)
        if opening:
            fence = opening.group(1)
            if current is None:
                current = _Paragraph(index, heading, code_only=True)
                sections[-1].append(current)
            current.end = index
            index += 1
            continue
        if not line.strip():
            current = None
            index += 1
            continue
        if not keep_headings:
            atx = _ATX_HEADING.match(line)
            setext = current is None and index + 1 < len(lines) and _SETEXT_UNDERLINE.match(lines[index + 1])
            if atx or setext:
                heading = _heading_title(atx.group(2) if atx else line)
                sections.append([])
                current = None
                index += 1 if atx else 2
                continue
            # A rule line ends the section; right under paragraph text it is a setext underline,
            # which ends it too (the paragraph stays a block, as a multi-line heading is rare in prompts).
            if _THEMATIC_BREAK.match(line) or (current is not None and _SETEXT_UNDERLINE.match(line)):
                sections.append([])
                current = None
                index += 1
                continue
        if current is None:
            current = _Paragraph(index, heading, code_only=False)
            sections[-1].append(current)
        else:
            current.code_only = False
        current.end = index
        index += 1
    return [section for section in sections if section]


def is_checklist(text: str) -> bool:
    """True when the text starts with a devroute missing-context checklist."""
    return text.lstrip().startswith(CHECKLIST_TITLE)


def has_checklist(text: str) -> bool:
    """True when a block already carries a devroute missing-context checklist."""
    return any(line.strip() == CHECKLIST_TITLE for line in split_lines(text))


def _joins_previous(previous_text: str, paragraph: _Paragraph, text: str) -> bool:
    return paragraph.code_only or previous_text.rstrip().endswith(":") or is_checklist(text)


def _block(lines: Sequence[str], start: int, end: int, heading: str | None) -> PromptBlock:
    return PromptBlock(
        start_line=start,
        end_line=end,
        end_character=len(lines[end]),
        text="\n".join(lines[start : end + 1]),
        heading=heading,
    )


def split_blocks(text: str, mode: SplitMode = "section") -> list[PromptBlock]:
    """Cut a document into prompt blocks; see the module docstring for the rules."""
    if mode not in SPLIT_MODES:
        raise ValueError(f"unknown split mode '{mode}' (expected one of: {', '.join(SPLIT_MODES)})")
    lines = split_lines(text)
    first = _front_matter_end(lines)
    sections = _paragraphs(lines, first, keep_headings=mode == "document")
    blocks: list[PromptBlock] = []
    for section in sections:
        heading = section[0].heading
        if mode != "paragraph":
            blocks.append(_block(lines, section[0].start, section[-1].end, heading))
            continue
        start, end = section[0].start, section[0].end
        for paragraph in section[1:]:
            previous_text = "\n".join(lines[start : end + 1])
            paragraph_text = "\n".join(lines[paragraph.start : paragraph.end + 1])
            if _joins_previous(previous_text, paragraph, paragraph_text):
                end = paragraph.end
                continue
            blocks.append(_block(lines, start, end, heading))
            start, end = paragraph.start, paragraph.end
        blocks.append(_block(lines, start, end, heading))
    if mode == "document" and len(blocks) > 1:
        blocks = [_block(lines, blocks[0].start_line, blocks[-1].end_line, blocks[0].heading)]
    return blocks


def block_at_line(blocks: Iterable[PromptBlock], line: int) -> PromptBlock | None:
    return next((block for block in blocks if block.contains_line(line)), None)


# -- what devroute adds to a document ---------------------------------------------------------


def missing_checklist(items: Sequence[str]) -> str:
    """The Markdown task list the "Add missing-context checklist" action inserts."""
    return "\n".join([CHECKLIST_TITLE, *(f"- [ ] {item}" for item in items)])


def checklist_insertion(block: PromptBlock, items: Sequence[str]) -> tuple[int, int, str]:
    """Where (line, character) and what to insert so the checklist follows the block, one blank line apart."""
    return block.end_line, block.end_character, "\n\n" + missing_checklist(items)


def missing_message(item: str) -> str:
    """The diagnostic message for one missing-context item, e.g. "missing: Flask version"."""
    return f"missing: {item}"


# -- how a decision reads in an editor --------------------------------------------------------


def format_usd(amount: float) -> str:
    if amount == 0:
        return "$0"
    if abs(amount) < 0.0001:
        return "<$0.0001" if amount > 0 else "-<$0.0001"
    return f"${amount:.4f}" if amount > 0 else f"-${-amount:.4f}"


def saving_against_fallback(decision: Decision) -> float:
    """Expected cost of the fallback model minus that of the recommended one (negative: it costs more)."""
    return round(decision.fallback_cost_usd - decision.expected_cost_usd, 6)


def saving_text(decision: Decision) -> str:
    if decision.selected_model == decision.fallback_model:
        return f"the fallback model itself ({decision.fallback_model})"
    saving = saving_against_fallback(decision)
    verb = "saves" if saving >= 0 else "costs"
    return f"{verb} {format_usd(abs(saving))} against the fallback {decision.fallback_model} ({format_usd(decision.fallback_cost_usd)})"


def hover_markdown(decision: Decision, block: PromptBlock | None = None) -> str:
    """The hover card for a block: triage labels, the recommendation, its cost and saving."""
    triage = decision.triage
    title = f"**devroute** · {block.heading}" if block is not None and block.heading else "**devroute**"
    lines = [
        title,
        "",
        f"- intent: **{triage.intent.value}** · complexity: **{triage.complexity.value}** · route: **{triage.route.value}**",
        f"- recommended model: **{decision.selected_model}** · P(success) {decision.confidence:.2f} (rule: {decision.rule_fired.value})",
        f"- expected cost: {format_usd(decision.expected_cost_usd)} · {saving_text(decision)}",
    ]
    if triage.missing_items:
        lines.append("- missing: " + "; ".join(item.text for item in triage.missing_items))
    return "\n".join(lines)


def lens_title(decision: Decision) -> str:
    """The one-line code lens above a block."""
    return f"devroute: {decision.selected_model} · {format_usd(decision.expected_cost_usd)} · P(success) {decision.confidence:.2f}"


def route_summary(decision: Decision) -> str:
    """The message shown after "route and log": what was chosen and under which decision id."""
    return (
        f"devroute: {decision.selected_model} (P(success) {decision.confidence:.2f}, {format_usd(decision.expected_cost_usd)}; "
        f"{saving_text(decision)}); logged as decision {decision.id}"
    )


# -- which files are prompt files -------------------------------------------------------------


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Translate an LSP/VS Code style glob: ``*``, ``?``, ``**``, ``[...]`` and ``{a,b}``."""
    # "/x" and "C:/x" are anchored at the root; anything else may start at any folder boundary.
    anchored = pattern.startswith("/") or (len(pattern) > 1 and pattern[1] == ":")
    body = pattern
    out: list[str] = []
    index, depth = 0, 0
    while index < len(body):
        char = body[index]
        if body.startswith("**/", index):
            out.append("(?:[^/]*/)*")
            index += 3
            continue
        if body.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            close = body.find("]", index + 1)
            if close == -1:
                raise ValueError(f"glob '{pattern}': '[' without a closing ']'")
            inner = body[index + 1 : close]
            if inner.startswith(("!", "^")):
                inner = "^" + inner[1:]
            out.append("[" + inner.replace("\\", "\\\\") + "]")
            index = close
        elif char == "{":
            depth += 1
            out.append("(?:")
        elif char == "}":
            if depth == 0:
                raise ValueError(f"glob '{pattern}': '}}' without an opening '{{'")
            depth -= 1
            out.append(")")
        elif char == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(char))
        index += 1
    if depth:
        raise ValueError(f"glob '{pattern}': '{{' without a closing '}}'")
    prefix = "" if anchored else "(?:^|.*/)"
    return re.compile(prefix + "".join(out) + "$")


def check_glob(pattern: str) -> None:
    """Raise ValueError naming the problem when a glob cannot be used."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError("a glob must be a non-empty string")
    _glob_regex(pattern)


def path_matches(path: str, globs: Iterable[str]) -> bool:
    """True when the file path matches any glob.

    A glob without a leading ``/`` or ``**/`` may match at any folder boundary, so
    ``AGENTS.md``, ``*.prompt.md`` and ``.claude/commands/*.md`` work wherever the project lives.
    Back-slashes in Windows paths are read as ``/``.
    """
    normalised = path.replace("\\", "/")
    return any(_glob_regex(glob).match(normalised) for glob in globs)
