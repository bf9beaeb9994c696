"""Every text a person can see has a Dutch translation."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

REPO = Path(__file__).resolve().parents[2]
NL = REPO / "chalicelib" / "locales" / "nl" / "LC_MESSAGES"

# (babel configuration, catalog) as `make i18n` extracts them.
# The mail catalog is written on main; until its mail.po exists this case is
# an expected failure, and it becomes an ordinary test as soon as it does.
CATALOGS = [
    pytest.param(cfg, domain, marks=pytest.mark.xfail(
        not (NL / f"{domain}.po").exists(), reason=f"{domain}.po is not in the repository yet", strict=True))
    for cfg, domain in (("babel.cfg", "messages"), ("babel-mail.cfg", "mail"))
    if (REPO / cfg).exists()
]


def extract(cfg: str, target: Path):
    """Extract the texts of the source as `make i18n` does, into ``target``."""
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(REPO / cfg), "--no-location",
                                "-o", str(target), str(REPO)])
    with target.open("rb") as handle:
        return read_po(handle)


@pytest.mark.parametrize("cfg, domain", CATALOGS)
def test_every_extracted_text_has_a_dutch_translation(tmp_path, cfg, domain):
    template = extract(cfg, tmp_path / f"{domain}.pot")
    if not any(m.id for m in template):
        return  # nothing to translate in this catalog (yet)
    po = NL / f"{domain}.po"
    assert po.exists(), f"{po} is missing: run make i18n"
    with po.open("rb") as handle:
        dutch = read_po(handle, locale="nl")
    untranslated = [m.id for m in template if m.id and not (dutch.get(m.id) and dutch.get(m.id).string)]
    assert untranslated == [], f"run `make i18n` and translate these in {po.name}"


@pytest.mark.parametrize("po", sorted(NL.glob("*.po")), ids=lambda p: p.name)
def test_dutch_translations_keep_their_placeholders(po):
    with po.open("rb") as handle:
        dutch = read_po(handle, locale="nl")
    problems = [(message.id, [str(e) for e in errors]) for message, errors in dutch.check()]
    assert problems == []


def test_page_texts_were_extracted(tmp_path):
    template = extract("babel.cfg", tmp_path / "messages.pot")
    ids = {m.id for m in template}
    assert "Skip to main content" in ids  # a template
    assert "Tick the box to agree with the privacy notice." in ids  # chalicelib/web.py
    assert "Too much text" in ids  # app.py


def _texts(domain: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) of a Dutch catalog, plural forms each on their own."""
    with (NL / f"{domain}.po").open("rb") as handle:
        catalog = read_po(handle)
    pairs = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        pairs += [(ids[0], s) for s in strings] + [(i, "") for i in ids]
    return pairs


@pytest.mark.parametrize("domain", ["messages", "mail"])
def test_the_dutch_texts_speak_in_one_voice(domain):
    """"je kunt", never "kan je" or "kun je"; "klik", never "druk (op)"; "begint morgen"; the comma closing
    "waarvoor je bent ingeschreven"; "inschrijving" singular where one registration is meant ("zodra ze
    opengaat", never "zodra ze openen"); "Iemand, wellicht jij", never "waarschijnlijk jij" beside it."""
    import re

    problems = []
    for msgid, text in _texts(domain):
        for pattern in (r"\b[Kk](?:an|un) je\b(?! evenementen)", r"\b[Dd]ruk(?:t)?\b", r"over 1 dag",
                        r"waarvoor je bent ingeschreven (?!\w*,)[a-z]", r"[Dd]e inschrijvingen (?:zijn|openen)",
                        r"\bze openen\b", r"waarschijnlijk jij"):
            if re.search(pattern, text):
                problems.append((pattern, text))
        if re.search(r"Can you not|Cannot make it", msgid):
            problems.append(("English", msgid))
    assert problems == []


def test_the_english_asks_cant_make_it_any_more():
    assert any(msgid.startswith("Can't make it any more?") for msgid, _ in _texts("mail"))
