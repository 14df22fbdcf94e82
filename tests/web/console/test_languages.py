"""Languages: every console string is translated into Simplified Chinese and Spanish; choosing a language."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from opsloop.web.console.catalogues import extract_messages
from opsloop.web.console.languages import LANGUAGES, catalogue_path, choose_language, negotiate
from tests.web.console.conftest import ConsoleHarness

_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


@pytest.mark.parametrize("code", [lang.code for lang in LANGUAGES])
def test_catalogues_translate_every_message(code: str) -> None:
    messages = extract_messages()
    assert len(messages) > 80  # templates and code together; a broken extractor finds nothing
    with catalogue_path(code).open("rb") as fh:
        catalog = read_po(fh, locale=code)
    missing = [m for m in messages if m not in catalog or not catalog[m].string]
    assert not missing, f"{code}: untranslated (run python -m opsloop.web.console.catalogues): {missing}"
    for msgid in messages:
        translated = catalog[msgid].string
        assert isinstance(translated, str)
        assert sorted(_PLACEHOLDER.findall(translated)) == sorted(_PLACEHOLDER.findall(msgid)), (code, msgid)
        if code != "en" and any(c.isalpha() for c in msgid) and msgid not in {"opsloop", "General", "Error", "Token"}:
            assert translated != msgid, f"{code}: {msgid!r} is not translated"
    stale = [m.id for m in catalog if m.id and m.id not in messages]
    assert not stale, f"{code}: messages no longer used: {stale}"


def test_accept_language_and_choice() -> None:
    assert negotiate("zh-CN,zh;q=0.9,en;q=0.8") == "zh_Hans"
    assert negotiate("fr-FR, es-419;q=0.7, en;q=0.5") == "es"  # French is not offered; Spanish ranks higher
    assert negotiate("de-DE") == "en" and negotiate("") == "en"
    assert choose_language(cookie="es", user_language="zh_Hans", accept_language="en") == "es"
    assert choose_language(cookie="klingon", user_language="zh_Hans", accept_language="en") == "zh_Hans"
    assert choose_language(cookie=None, user_language="", accept_language="es-ES") == "es"


def test_pages_follow_the_browser_then_the_switcher(console: ConsoleHarness) -> None:
    browser = console.browser(headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    html = browser.get("/login").text
    assert '<html lang="zh-Hans">' in html and "登录 opsloop" in html
    csrf = console.csrf(browser)
    r = browser.post("/language", data={"language": "es", "next": "/login", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "Inicia sesión en opsloop" in browser.get("/login").text
    # Signed in, the choice is saved on the user and follows them to another browser.
    console.user("ana@example.com")
    console.sign_in(browser, "ana@example.com")
    csrf = console.csrf(browser, "/projects")
    browser.post("/language", data={"language": "zh_Hans", "next": "/projects", "csrf_token": csrf})
    assert "全部项目" in browser.get("/projects").text
    other = console.browser()
    console.sign_in(other, "ana@example.com")
    assert "全部项目" in other.get("/projects").text
