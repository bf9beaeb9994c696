"""The docs a newcomer reads: every link leads somewhere inside the repository, and the README stays short.

Checks README.md, CHANGELOG.md and every Markdown file under docs/. A relative
link must name a file or folder of this repository (a clone has nothing
beside it); a link with a #fragment into a Markdown file must name one of its
headings, as GitHub makes their anchors. Links with a scheme (https:, mailto:)
are not followed.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[2]
README_MAX_LINES = 200

_FENCE = re.compile(r"^(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+).*?\1")
# [text](target "title") and ![alt](target); the target may be <...>.
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def doc_files() -> list[Path]:
    files = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").rglob("*.md"))]
    return [f for f in files if f.is_file()]


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """Lines outside fenced code blocks."""
    lines, fence = [], ""
    for number, line in enumerate(text.splitlines(), 1):
        match = _FENCE.match(line.lstrip())
        if match:
            if not fence:
                fence = match.group(1)[0] * 3
            elif line.lstrip().startswith(fence):
                fence = ""
            continue
        if not fence:
            lines.append((number, line))
    return lines


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every link in a Markdown file."""
    found = []
    for number, line in _prose_lines(path.read_text(encoding="utf-8")):
        line = _INLINE_CODE.sub("", line)
        targets = [m.group(1) for m in _INLINE_LINK.finditer(line)]
        reference = _REFERENCE.match(line)
        if reference:
            targets.append(reference.group(1))
        found += [(number, t[1:-1] if t.startswith("<") else t) for t in targets]
    return found


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, a repeated heading's with -1, -2, ..."""
    seen: dict[str, int] = {}
    result = set()
    for _, line in _prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def broken_links(path: Path, repo: Path = REPO) -> list[str]:
    """What is wrong with each relative link of ``path``, as readable lines."""
    problems = []
    for number, target in links(path):
        if _SCHEME.match(target):
            continue
        where = f"{path.relative_to(repo)}:{number}: {target}"
        file_part, _, fragment = target.partition("#")
        file_part = unquote(file_part.split("?", 1)[0])
        if not file_part:
            destination = path
        elif file_part.startswith("/"):
            destination = (repo / file_part.lstrip("/")).resolve()
        else:
            destination = (path.parent / file_part).resolve()
        if destination != repo and repo not in destination.parents:
            problems.append(f"{where}: points outside the repository")
            continue
        if not destination.exists():
            problems.append(f"{where}: no such file in the repository")
            continue
        if fragment and destination.suffix == ".md" and destination.is_file():
            if unquote(fragment).lower() not in anchors(destination):
                problems.append(f"{where}: {destination.relative_to(repo)} has no heading #{fragment}")
    return problems


def test_the_readme_the_changelog_and_the_docs_folder_are_there():
    names = {str(f.relative_to(REPO)) for f in doc_files()}
    assert {"README.md", "CHANGELOG.md", "docs/api.md", "docs/architecture.md"} <= names


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_in_the_docs_resolves_inside_the_repository(path):
    assert broken_links(path) == []


def test_no_doc_links_to_the_shared_folder_beside_the_repository():
    offenders = [f"{f.relative_to(REPO)}: {t}" for f in doc_files() for _, t in links(f) if "shared/" in t]
    assert offenders == []


def test_the_docs_name_no_path_of_a_developers_machine():
    offenders = [f"{f.relative_to(REPO)}:{n}" for f in doc_files()
                 for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"(?<![\w.])/(work|home|Users)/", line)]
    assert offenders == []


def test_the_readme_has_at_most_200_lines():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES


def test_a_broken_link_a_missing_heading_and_a_link_outside_are_each_reported(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "there.md").write_text("# A heading: with `code`\n\n## Twice\n\n## Twice\n", encoding="utf-8")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "[fine](there.md#a-heading-with-code) [fine too](there.md#twice-1) [web](https://example.org/x)\n"
        "[gone](missing.md) [no heading](there.md#nowhere) [outside](../../shared/API.md)\n"
        "```\n[in code](ignored.md)\n```\n"
        "[ref]: ./also-missing.md\n",
        encoding="utf-8")
    problems = broken_links(page, repo=tmp_path)
    assert len(problems) == 4
    assert "missing.md: no such file" in problems[0]
    assert "has no heading #nowhere" in problems[1]
    assert "points outside the repository" in problems[2]
    assert "also-missing.md: no such file" in problems[3]


def test_github_slugs_drop_punctuation_and_keep_hyphens():
    assert github_slug('"Add to calendar" links') == "add-to-calendar-links"
    assert github_slug("Caching: one read per poll") == "caching-one-read-per-poll"
    assert github_slug("4. Deploy") == "4-deploy"
    assert github_slug("The `due` index, step-by-step") == "the-due-index-step-by-step"
