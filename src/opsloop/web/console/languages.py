"""Console languages: gettext catalogues (.po, compiled in memory on first use) and language negotiation."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "opsloop_lang"


@dataclass(frozen=True)
class Language:
    """A console language: its code (catalogue folder), its name in itself, and its HTML `lang`."""

    code: str
    name: str
    html_lang: str


LANGUAGES = (
    Language("en", "English", "en"),
    Language("zh_Hans", "简体中文", "zh-Hans"),
    Language("es", "Español", "es"),
)
LANGUAGE_CODES = frozenset(lang.code for lang in LANGUAGES)


def catalogue_path(code: str) -> Path:
    """Where the `.po` catalogue of a language lives."""
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(code: str) -> NullTranslations:
    """The language's translations, read from its `.po` file and compiled in memory once per process.

    Reading the `.po` directly means `pip install` needs no build step and a catalogue edit needs no compile.
    """
    path = catalogue_path(code)
    if code not in LANGUAGE_CODES or not path.is_file():
        return NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=code)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def html_lang(code: str) -> str:
    """The HTML `lang` attribute of a language code."""
    return next((lang.html_lang for lang in LANGUAGES if lang.code == code), DEFAULT_LANGUAGE)


def language_from_tag(tag: str) -> str | None:
    """The console language for a BCP 47 tag (`zh-CN`, `es-419`, `en-GB`), or None if none fits."""
    parts = tag.strip().replace("_", "-").lower().split("-")
    if not parts or not parts[0]:
        return None
    if parts[0] == "zh":
        return "zh_Hans"  # the only Chinese catalogue; closer for zh-TW readers than English
    if parts[0] in ("en", "es"):
        return parts[0]
    return None


def negotiate(accept_language: str) -> str:
    """The best console language for an `Accept-Language` header (quality values honoured)."""
    choices: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")[:20]):
        tag, _, params = item.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        code = language_from_tag(tag)
        if code and quality > 0:
            choices.append((-quality, position, code))
    return min(choices)[2] if choices else DEFAULT_LANGUAGE


def choose_language(*, cookie: str | None, user_language: str | None, accept_language: str) -> str:
    """The language of a page: the switcher's cookie, then the user's saved choice, then the browser's."""
    for candidate in (cookie, user_language):
        if candidate in LANGUAGE_CODES:
            return candidate  # type: ignore[return-value]
    return negotiate(accept_language)
