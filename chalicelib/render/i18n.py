"""Languages: picking one, gettext catalogs, and the jinja2 environment that uses them.

Texts are written in English in the templates and code, and translated to
Dutch in ``locales/nl/LC_MESSAGES/``: ``messages.po`` for pages, ``mail.po``
for mails (Babel and jinja2's i18n extension; ``make i18n`` extracts both). Dutch is the default. The catalogs are read from the ``.po``
files on first use, so there is no compiled ``.mo`` to forget to rebuild.
"""

from __future__ import annotations

import io
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
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import NullTranslations, Translations

    merged = NullTranslations()
    for po in sorted((LOCALES / lang / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=lang)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        domain = Translations(buffer)
        merged = domain if isinstance(merged, NullTranslations) and not isinstance(merged, Translations) else merged.merge(domain)
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
    return env


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


def format_hour(instant: datetime, tz: str, lang: str) -> str:
    """A time of day: "09:00"."""
    return instant.astimezone(times.stored_zone(tz)).strftime("%H:%M")


def format_until(end: datetime, start: datetime, tz: str, lang: str) -> str:
    """An end after ``start``: its time of day on the same day, else its date and time (events last up to 31 days)."""
    zone = times.stored_zone(tz)
    if end.astimezone(zone).date() == start.astimezone(zone).date():
        return format_hour(end, tz, lang)
    return format_when(end, tz, lang)
