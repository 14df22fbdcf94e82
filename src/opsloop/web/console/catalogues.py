"""Message catalogues of the console: extract every translatable string, and refresh the `.po` files.

Run `python -m opsloop.web.console.catalogues` after changing texts: new messages are added to every
catalogue with an empty translation (the catalogue test then fails until someone translates them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.pofile import read_po, write_po
from jinja2.ext import babel_extract

from opsloop.web.console.languages import LANGUAGES, catalogue_path

WEB_DIR = Path(__file__).resolve().parents[1]
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2)}


def _sources() -> Iterator[tuple[Path, str]]:
    """Files holding console texts and the extraction method for each."""
    for path in sorted((WEB_DIR / "templates").rglob("*.html")):
        yield path, "jinja2"
    for path in sorted((WEB_DIR / "console").rglob("*.py")):
        yield path, "python"


def extract_messages() -> dict[str, list[str]]:
    """Every translatable message id, with the files (relative to `web/`) it appears in."""
    found: dict[str, list[str]] = {}
    for path, method in _sources():
        extractor = babel_extract if method == "jinja2" else "python"
        with path.open("rb") as fh:
            # Jinja's extractor predates Babel's type hints; it follows Babel's extractor protocol.
            for _line, message, _comments, _context in extract(extractor, fh, keywords=KEYWORDS):  # type: ignore[arg-type]
                ids = message if isinstance(message, tuple) else (message,)
                for msgid in ids:
                    if msgid:
                        found.setdefault(msgid, []).append(str(path.relative_to(WEB_DIR)))
    return found


def template_catalog() -> Catalog:
    """A catalogue template holding every extracted message."""
    catalog = Catalog(project="opsloop", domain="messages")
    for msgid, where in sorted(extract_messages().items()):
        catalog.add(msgid, locations=[(w, 0) for w in sorted(set(where))])
    return catalog


def update_catalogues() -> list[Path]:
    """Bring every language's `.po` file up to date with the extracted messages; returns the files written."""
    template = template_catalog()
    written = []
    for language in LANGUAGES:
        path = catalogue_path(language.code)
        if path.is_file():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=language.code)
        else:
            catalog = Catalog(locale=language.code, project="opsloop", domain="messages")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.fuzzy = False
        catalog.copyright_holder = "the opsloop authors"
        catalog.msgid_bugs_address = ""
        catalog.last_translator = "opsloop authors"
        catalog.language_team = language.name
        if language.code == "en":
            for message in catalog:
                if message.id and not message.string:
                    message.string = message.id  # English is the source language
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, omit_header=False, sort_output=True, ignore_obsolete=True, width=120)
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in update_catalogues():
        print(f"updated {written_path}")
