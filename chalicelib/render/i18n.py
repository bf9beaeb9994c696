"""Languages: picking one, gettext catalogs, and the jinja2 environment that uses them.

Texts are written in English in the templates and code, and translated to
Dutch in ``locales/nl/LC_MESSAGES/``: ``messages.po`` for pages, ``mail.po``
for mails (Babel and jinja2's i18n extension; ``make i18n`` extracts both). Dutch is the default.

The catalogs are read compiled (``.mo``), with the standard library's
gettext: Babel's catalog reader (``babel.messages``) is a build tool and is
not in the Lambda zip. ``make`` compiles the ``.mo`` files next to the
``.po`` files for local runs and tests (they are not in git), and
``scripts/package.py`` compiles them into deployment.zip. A ``.po`` without
its ``.mo`` is an error, not a silent English page; tests/deploy/test_package.py
fails on a ``.mo`` older than its ``.po``'s entries.
"""

from __future__ import annotations

import gettext as _gettext
import threading
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from chalicelib import times

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
HERE = Path(__file__).resolve().parent.parent  # chalicelib/
LOCALES = HERE / "locales"
TEMPLATES = HERE / "templates"
_lock = threading.Lock()


def pick_language(requested: str | None, accept_language: str | None = None) -> str:
    """Choose nl or en: an explicit ``?lang=`` first, then Accept-Language, else Dutch."""
    if isinstance(requested, str) and requested.lower() in LANGUAGES:
        return requested.lower()
    if accept_language:
        ranked: list[tuple[float, int, str]] = []
        for position, part in enumerate(accept_language.split(",")[:20]):
            tag, _, params = part.strip().partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            primary = tag.strip().lower().split("-")[0]
            if primary in LANGUAGES and quality > 0:
                ranked.append((-quality, position, primary))
        if ranked:
            return min(ranked)[2]
    return DEFAULT_LANGUAGE


def translations(lang: str):
    """Return the gettext translations for ``lang`` (English is the source text)."""
    return _translations(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)


@lru_cache(maxsize=None)
def _translations(lang: str):
    folder = LOCALES / lang / "LC_MESSAGES"
    domains = sorted({path.stem for pattern in ("*.po", "*.mo") for path in folder.glob(pattern)})
    merged: _gettext.NullTranslations = _gettext.NullTranslations()
    # Later domains win over earlier ones for a text both translate (as Babel's merge did): the last
    # is asked first, the others are its fallbacks in reverse order.
    for domain in reversed(domains):
        mo = folder / f"{domain}.mo"
        try:
            with mo.open("rb") as handle:
                catalog = _gettext.GNUTranslations(handle)
        except FileNotFoundError:
            raise FileNotFoundError(f"{mo} is missing: compile the catalogs with `make catalogs`") from None
        if isinstance(merged, _gettext.GNUTranslations):
            merged.add_fallback(catalog)
        else:
            merged = catalog
    return merged


def gettext(text: str, lang: str) -> str:
    """Translate one message from Python code."""
    return translations(lang).gettext(text)


@lru_cache(maxsize=None)
def _environment(lang: str):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True, default=False),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)
    env.globals["lang"] = lang
    env.filters["when"] = lambda instant, tz=times.DEFAULT_ZONE, style="long": format_when(instant, tz, lang, style)
    env.filters["day"] = lambda instant, tz=times.DEFAULT_ZONE: format_day(instant, tz, lang)
    env.filters["hour"] = lambda instant, tz=times.DEFAULT_ZONE: format_hour(instant, tz, lang)
    env.filters["until"] = lambda end, start, tz=times.DEFAULT_ZONE: format_until(end, start, tz, lang)
    env.filters["paragraphs"] = paragraphs
    # An instant as a report gives it (ISO text, or None), as people read it.
    env.filters["instant"] = lambda text: format_instant_text(text, lang)
    env.filters["summary"] = summary
    env.filters["dated"] = lambda event: dated_title(event, lang)
    env.globals["ics_name"] = lambda method="REQUEST", event_id=None: attachment_name(method, lang, event_id)
    return env


# An attached calendar file is named in the reader's language: uitnodiging.ics, not invite.ics, in Dutch.
ATTACHMENT_NAMES = {"nl": {"REQUEST": "uitnodiging", "CANCEL": "geannuleerd"},
                    "en": {"REQUEST": "invite", "CANCEL": "cancelled"}}


def attachment_name(method: str, lang: str, event_id: str | None = None) -> str:
    """The file name of an invitation (REQUEST) or cancellation (CANCEL) in ``lang``; with ``event_id`` when a
    mail carries one per event: ``uitnodiging.ics``, ``invite-webinar-2027-01-14.ics``."""
    names = ATTACHMENT_NAMES.get(lang, ATTACHMENT_NAMES["en"])
    stem = names.get(method, names["REQUEST"])
    return f"{stem}-{event_id}.ics" if event_id else f"{stem}.ics"


SUMMARY_LENGTH = 180


def summary(text: str, limit: int = SUMMARY_LENGTH) -> str:
    """The start of a description for a card: its first paragraph, within ``limit`` characters cut after its
    last whole sentence, or else after a word with "…" (the event's page has the whole text)."""
    first = " ".join(text.replace("\r\n", "\n").strip().split("\n\n", 1)[0].split())
    if len(first) <= limit:
        return first
    sentence_end = first[:limit + 1].rfind(". ")
    if sentence_end >= limit // 3:  # whole sentences, when they say enough
        return first[:sentence_end + 1]
    cut = first[:limit + 1].rsplit(" ", 1)[0].rstrip(" ,;:.-–")
    return cut + "…"


def paragraphs(text: str) -> Any:
    """Plain text as HTML paragraphs: a blank line starts a new one, a single line break stays one; all escaped."""
    from markupsafe import Markup, escape

    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n")]
    return Markup("\n").join(Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in b.split("\n")))
                              for b in blocks if b)


def environment(lang: str):
    """Return the jinja2 environment for ``lang``, made once per language."""
    with _lock:
        return _environment(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)


def render(template: str, lang: str, **context: Any) -> str:
    """Render ``template`` in ``lang``."""
    return environment(lang).get_template(template).render(**context)


def _babel_locale(lang: str) -> str:
    return "nl_BE" if lang == "nl" else "en_GB"


def format_when(instant: datetime, tz: str, lang: str, style: str = "long") -> str:
    """A date and time as people read it, in the event's zone: "donderdag 3 juni 2027 om 09:00"."""
    from babel.dates import format_datetime

    local = instant.astimezone(times.stored_zone(tz))
    pattern = {"long": "EEEE d MMMM y, HH:mm", "short": "EEE d MMM y, HH:mm"}[style]
    return format_datetime(local, pattern, locale=_babel_locale(lang))


def format_day(instant: datetime, tz: str, lang: str) -> str:
    """A date in words: "donderdag 3 juni 2027"."""
    from babel.dates import format_datetime

    return format_datetime(instant.astimezone(times.stored_zone(tz)), "EEEE d MMMM y", locale=_babel_locale(lang))


def format_instant_text(text: str | None, lang: str) -> str:
    """An instant as a report gives it (ISO text, or None), as people read it, in Brussels time; "–" for none."""
    return format_when(times.parse_instant(text, "at"), times.DEFAULT_ZONE, lang, "short") if text else "–"


def dated_title(event: Any, lang: str) -> str:
    """An event's title with its day, as subjects and the console name it: a monthly webinar keeps its title."""
    return f"{event.title_in(lang)} ({format_short_day(event.starts_at, event.timezone, lang)})"


def format_short_day(instant: datetime, tz: str, lang: str) -> str:
    """A day, short: "14 jan." / "14 Jan"."""
    from babel.dates import format_datetime

    return format_datetime(instant.astimezone(times.stored_zone(tz)), "d MMM", locale=_babel_locale(lang))


def format_hour(instant: datetime, tz: str, lang: str) -> str:
    """A time of day: "09:00"."""
    return instant.astimezone(times.stored_zone(tz)).strftime("%H:%M")


def format_until(end: datetime, start: datetime, tz: str, lang: str) -> str:
    """An end after ``start``: its time of day on the same day, else its date and time (events last up to 31 days)."""
    zone = times.stored_zone(tz)
    if end.astimezone(zone).date() == start.astimezone(zone).date():
        return format_hour(end, tz, lang)
    return format_when(end, tz, lang)
