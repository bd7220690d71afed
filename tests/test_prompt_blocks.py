"""Unit tests of devroute.core.prompt_blocks: block splitting, checklists, wording and glob matching."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from devroute.core.prompt_blocks import (
    CHECKLIST_TITLE,
    DEFAULT_GLOBS,
    PromptBlock,
    block_at_line,
    check_glob,
    checklist_insertion,
    format_usd,
    has_checklist,
    hover_markdown,
    lens_title,
    missing_checklist,
    missing_message,
    path_matches,
    route_summary,
    saving_against_fallback,
    split_blocks,
    split_lines,
)
from devroute.core.schema import CandidateScore, Decision, MissingItem, MissingKind, Policy, RuleFired, Triage


def spans(text: str, mode: str = "section") -> list[tuple[int, int, str | None]]:
    return [(b.start_line, b.end_line, b.heading) for b in split_blocks(text, mode)]  # type: ignore[arg-type]


# -- lines ----------------------------------------------------------------------------------


def test_lines_end_as_in_lsp() -> None:
    assert split_lines("a\nb\r\nc\rd") == ["a", "b", "c", "d"]
    assert split_lines("a\n") == ["a", ""]
    # Form feed and U+2028 are not line breaks in LSP, unlike str.splitlines().
    assert split_lines("a\x0cb\u2028c") == ["a\x0cb\u2028c"]


# -- section mode ---------------------------------------------------------------------------


def test_a_file_without_headings_is_one_block() -> None:
    text = "My Flask app returns 500.\n\nHere is the traceback:\n\nTraceback (most recent call last):\n\nHow do I fix it?\n"
    [block] = split_blocks(text)
    assert (block.start_line, block.end_line, block.heading) == (0, 6, None)
    assert block.text == text.rstrip("\n")
    assert block.end_character == len("How do I fix it?")


def test_headings_cut_sections_and_stay_out_of_blocks() -> None:
    text = "Intro line.\n\n# First\n\nbody one\nmore\n\n## Second ##\nbody two\n\n# Empty\n\n# Last\n\nbody three\n"
    assert spans(text) == [(0, 0, None), (4, 5, "First"), (8, 8, "Second"), (14, 14, "Last")]
    blocks = split_blocks(text)
    assert blocks[1].text == "body one\nmore"
    assert all("#" not in b.text for b in blocks)


def test_setext_headings_and_thematic_breaks_cut_sections() -> None:
    text = "Title\n=====\nunder the title\n\n***\n\nafter the rule\nSub\n---\nlast"
    assert spans(text) == [(2, 2, "Title"), (6, 7, "Title"), (9, 9, "Title")]


def test_front_matter_is_skipped() -> None:
    text = "---\ndescription: Fix an upload bug\nargument-hint: [file]\n---\n\nFix $ARGUMENTS\n"
    [block] = split_blocks(text)
    assert (block.start_line, block.text) == (5, "Fix $ARGUMENTS")


def test_an_unclosed_front_matter_fence_is_a_rule() -> None:
    assert spans("---\nnot front matter\n") == [(1, 1, None)]


def test_code_fences_are_never_cut() -> None:
    text = "# Bug\n\nThis fails:\n\n```python\n# not a heading\n\n---\nx = 1\n```\n\nWhy?\n~~~\n# also code\n~~~\n"
    [block] = split_blocks(text)
    assert (block.start_line, block.end_line, block.heading) == (2, 14, "Bug")
    assert "# not a heading" in block.text and block.text.endswith("~~~")


def test_an_unclosed_fence_runs_to_the_end() -> None:
    text = "Look:\n```\ncode\n\n# comment in code\n"
    [block] = split_blocks(text)
    assert (block.start_line, block.end_line) == (0, 4)


def test_crlf_documents_split_the_same() -> None:
    lf = "# A\n\nfirst\n\n# B\n\nsecond\n"
    assert spans(lf.replace("\n", "\r\n")) == spans(lf)
    assert [b.text for b in split_blocks(lf.replace("\n", "\r\n"))] == ["first", "second"]


def test_blank_and_empty_documents_have_no_blocks() -> None:
    assert split_blocks("") == []
    assert split_blocks("\n  \n\t\n") == []
    assert split_blocks("# Only a heading\n") == []


# -- paragraph and document modes ----------------------------------------------------------------


def test_paragraph_mode_cuts_at_blank_lines() -> None:
    text = "First prompt.\n\nSecond prompt\nstill second.\n\n# H\n\nThird."
    assert spans(text, "paragraph") == [(0, 0, None), (2, 3, None), (7, 7, "H")]


def test_paragraph_mode_keeps_code_lists_and_checklists_with_their_paragraph() -> None:
    text = (
        "Here is the code:\n\n```\ncode\n```\n\n"  # code after a colon
        "Steps:\n\n1. run\n2. boom\n\n"  # list after a colon
        "A prompt.\n\n```\nonly code\n```\n\n"  # a code-only paragraph
        "Another prompt.\n\n" + missing_checklist(["Flask version"]) + "\n\nLast prompt."
    )
    assert [b.text.splitlines()[0] for b in split_blocks(text, "paragraph")] == [
        "Here is the code:",
        "Steps:",
        "A prompt.",
        "Another prompt.",
        "Last prompt.",
    ]


def test_document_mode_is_one_block_with_its_headings() -> None:
    text = "---\nx: 1\n---\n# Task\n\nDo it.\n\n# Context\n\nIt is Flask.\n"
    [block] = split_blocks(text, "document")
    assert (block.start_line, block.end_line) == (3, 9)
    assert block.text.startswith("# Task") and block.text.endswith("It is Flask.")


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown split mode 'lines'"):
        split_blocks("x", "lines")  # type: ignore[arg-type]


def test_block_lookup_by_line() -> None:
    blocks = split_blocks("# A\n\none\ntwo\n\n# B\n\nthree\n")
    assert block_at_line(blocks, 3) is blocks[0]
    assert block_at_line(blocks, 7) is blocks[1]
    assert block_at_line(blocks, 0) is None
    assert blocks[0].overlaps_lines(0, 2) and not blocks[0].overlaps_lines(4, 6)


def test_block_text_is_exactly_its_lines() -> None:
    text = "# T\n\n  indented line\nünïcödé 😋 line\n"
    [block] = split_blocks(text)
    lines = split_lines(text)
    assert block.text == "\n".join(lines[block.start_line : block.end_line + 1])
    assert block.end_character == len("ünïcödé 😋 line")


# -- checklist -----------------------------------------------------------------------------


def test_checklist_shape_and_insertion_point() -> None:
    assert missing_checklist(["Flask version", "the full error message"]) == (
        "Missing context:\n- [ ] Flask version\n- [ ] the full error message"
    )
    block = PromptBlock(start_line=2, end_line=4, end_character=9, text="a\nb\nlast line")
    line, character, text = checklist_insertion(block, ["Flask version"])
    assert (line, character) == (4, 9)
    assert text == "\n\nMissing context:\n- [ ] Flask version"


def test_a_block_with_a_checklist_is_recognised() -> None:
    text = "Fix the upload.\n\n" + missing_checklist(["Flask version"])
    [block] = split_blocks(text)
    assert has_checklist(block.text)
    assert not has_checklist("Fix the upload. Missing context: none")
    assert CHECKLIST_TITLE == "Missing context:"


def test_missing_message() -> None:
    assert missing_message("Flask version") == "missing: Flask version"


# -- how a decision reads --------------------------------------------------------------------------


def decision(selected: str = "small", cost: float = 0.0008, fallback: str = "big", fallback_cost: float = 0.0151) -> Decision:
    triage = Triage(
        rewrite="r",
        intent="debug",
        complexity="medium",
        route="medium_api",
        missing=["Flask version"],
        missing_items=[MissingItem(kind=MissingKind.versions, text="Flask version")],
    )
    scores = [
        CandidateScore(model=selected, p_success=0.912, expected_input_tokens=1, expected_output_tokens=1, expected_cost_usd=cost),
        CandidateScore(model=fallback, p_success=0.99, expected_input_tokens=1, expected_output_tokens=1, expected_cost_usd=fallback_cost),
    ]
    return Decision(
        id="abc123",
        timestamp=datetime.now(UTC),
        selected_model=selected,
        confidence=0.912,
        rule_fired=RuleFired.threshold,
        expected_cost_usd=cost,
        cost_saved_usd=fallback_cost - cost,
        fallback_model=fallback,
        fallback_cost_usd=fallback_cost,
        candidates=scores,
        triage=triage,
        policy=Policy(),
        latency_ms=1.0,
    )


def test_usd_formatting() -> None:
    assert format_usd(0) == "$0"
    assert format_usd(0.0031234) == "$0.0031"
    assert format_usd(0.00004) == "<$0.0001"
    assert format_usd(-0.002) == "-$0.0020"


def test_hover_names_everything_the_editor_shows() -> None:
    block = PromptBlock(start_line=0, end_line=0, end_character=1, text="x", heading="Upload bug")
    text = hover_markdown(decision(), block)
    assert text.splitlines()[0] == "**devroute** · Upload bug"
    for part in ("intent: **debug**", "complexity: **medium**", "route: **medium_api**", "recommended model: **small**",
                 "P(success) 0.91", "expected cost: $0.0008", "saves $0.0143 against the fallback big ($0.0151)",
                 "missing: Flask version"):
        assert part in text


def test_saving_against_the_fallback_can_be_a_cost() -> None:
    assert saving_against_fallback(decision()) == pytest.approx(0.0143)
    pricier = decision(cost=0.02, fallback_cost=0.01)
    assert saving_against_fallback(pricier) == pytest.approx(-0.01)
    assert "costs $0.0100 against the fallback big" in hover_markdown(pricier)
    assert "the fallback model itself (big)" in hover_markdown(decision(selected="big", fallback="big"))


def test_lens_and_route_summary() -> None:
    assert lens_title(decision()) == "devroute: small · $0.0008 · P(success) 0.91"
    summary = route_summary(decision())
    assert summary.startswith("devroute: small (P(success) 0.91, $0.0008;") and summary.endswith("logged as decision abc123")


# -- globs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/home/me/notes/todo.md",
        "/p/README.markdown",
        "/p/prompt.txt",
        "/p/prompts/fix.prompt.md",
        "/p/.claude/commands/review.md",
        "/p/AGENTS.md",
        "/p/sub/CLAUDE.md",
        "/p/.cursor/rules/python.mdc",
        "C:\\Users\\me\\proj\\.cursor\\rules\\style.mdc",
    ],
)
def test_default_globs_cover_markdown_text_and_agent_files(path: str) -> None:
    assert path_matches(path, DEFAULT_GLOBS)


@pytest.mark.parametrize("path", ["/p/app.py", "/p/notes.mdc", "/p/.cursor/rules/sub/x.txt.bak", "/p/AGENTS.md.orig"])
def test_default_globs_leave_other_files_alone(path: str) -> None:
    assert not path_matches(path, DEFAULT_GLOBS)


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("*.prompt.md", "/p/a/b/x.prompt.md", True),
        ("*.prompt.md", "/p/x.md", False),
        (".claude/commands/*.md", "/p/.claude/commands/x.md", True),
        (".claude/commands/*.md", "/p/.claude/commands/sub/x.md", False),
        (".claude/commands/*.md", "/p/claude/commands/x.md", False),
        (".claude/commands/**/*.md", "/p/.claude/commands/sub/x.md", True),
        ("**/*.{md,txt}", "/p/x.txt", True),
        ("**/*.{md,txt}", "/p/x.rst", False),
        ("/abs/*.md", "/abs/x.md", True),
        ("/abs/*.md", "/other/abs/x.md", False),
        ("prompt?.md", "/p/prompt1.md", True),
        ("prompt?.md", "/p/prompt12.md", False),
        ("[ab].md", "/p/a.md", True),
        ("[!ab].md", "/p/a.md", False),
        ("AGENTS.md", "/p/MY_AGENTS.md", False),
        ("docs/**", "/p/docs/a/b.md", True),
    ],
)
def test_glob_semantics(glob: str, path: str, matches: bool) -> None:
    assert path_matches(path, [glob]) is matches


@pytest.mark.parametrize(("glob", "message"), [("{a,b", "without a closing"), ("a}", "without an opening"), ("[ab", "closing ']'"), ("  ", "non-empty")])
def test_bad_globs_are_refused_with_a_reason(glob: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_glob(glob)


def test_no_globs_match_nothing() -> None:
    assert not path_matches("/p/a.md", [])
