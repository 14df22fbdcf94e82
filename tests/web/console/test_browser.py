"""The console in a real headless Chromium: sign in, move around with the keyboard, switch language, sign out."""

from __future__ import annotations

from typing import Any

from tests.web.console.conftest import SCREENSHOTS, LiveConsole, sign_in_with_browser


def test_sign_in_settings_language_and_sign_out(live_console: LiveConsole, page: Any) -> None:
    pid = live_console.project.project.id
    page.goto(f"{live_console.url}/projects/{pid}/settings")
    assert page.url.endswith(f"/login?next=/projects/{pid}/settings")
    page.fill("#email", live_console.email)
    page.fill("#password", "correct horse battery")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # the form submits from the keyboard
    assert page.url == f"{live_console.url}/projects/{pid}/settings"
    assert page.locator("h1").inner_text() == "Project settings"
    assert "Asia/Shanghai" in page.locator(".timezone").inner_text()
    assert page.locator("nav.sidebar a[aria-current=page]").inner_text() == "Settings"
    page.fill("#key-name", "reporting")
    page.click("text=Create API key")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-secret]").inner_text().startswith("olk_")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "console-settings-en.png"), full_page=False)

    # The language switcher submits on change (JavaScript) and the page comes back in Chinese.
    with page.expect_navigation():
        page.select_option("#language-select", "zh_Hans")
    assert page.locator("h1").inner_text() == "项目设置"
    page.goto(f"{live_console.url}/projects/{pid}/audit")
    assert page.locator("h1").inner_text() == "审计日志"
    assert page.locator("td", has_text="创建 API 密钥").count() == 1
    page.screenshot(path=str(SCREENSHOTS / "console-audit-zh.png"), full_page=False)

    page.click("details.user-menu summary")
    page.click("text=退出登录")
    page.wait_for_url("**/login")
    page.goto(f"{live_console.url}/projects")
    assert "/login" in page.url


def test_pages_do_not_run_injected_script(live_console: LiveConsole, page: Any) -> None:
    runtime = live_console.runtime
    evil = runtime.projects.create('<img src=x onerror="window.pwned=1">')
    user = runtime.accounts.users.find(live_console.email)
    assert user is not None
    from opsloop.accounts.roles import Role

    runtime.accounts.users.set_role(evil.project.id, user.id, Role.viewer)
    sign_in_with_browser(page, live_console.url, live_console.email)
    page.goto(f"{live_console.url}/projects/{evil.project.id}")
    assert page.evaluate("window.pwned === undefined")
    assert page.locator("h1").inner_text() == '<img src=x onerror="window.pwned=1">'


def test_plotly_draws_under_the_console_policy(live_console: LiveConsole, page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(f"{live_console.url}/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Insight pages load Plotly.js from /static/vendor and draw from their own script files: allowed.
    page.add_script_tag(url="/static/vendor/plotly.min.js")
    page.evaluate("() => { const d = document.createElement('div'); d.id = 'chart'; document.body.prepend(d); }")
    traces = [
        "{type: 'bar', x: ['a', 'b'], y: [1, 2]}",
        "{type: 'heatmap', z: [[1, 0.5], [0.4, null]]}",
        "{type: 'sankey', node: {label: ['a', 'b', 'c']}, link: {source: [0, 0], target: [1, 2], value: [3, 4]}}",
    ]
    for trace in traces:
        drawn = page.evaluate(
            f"() => Plotly.newPlot('chart', [{trace}]).then(() => !!document.querySelector('#chart svg'))"
        )
        assert drawn, trace
    # An inline script, had one ever slipped through escaping, would not run.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = 1'; document.body.append(s); }"
    )
    assert page.evaluate("() => window.ran === undefined")
    assert not errors


def test_keyboard_only_navigation(live_console: LiveConsole, page: Any) -> None:
    sign_in_with_browser(page, live_console.url, live_console.email)
    page.goto(f"{live_console.url}/projects/{live_console.project.project.id}")
    page.keyboard.press("Tab")  # the first stop is the skip link...
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")  # ...which moves focus to the page's content
    assert page.evaluate("document.activeElement.id") == "main"
    # Menus open with Enter and close with Escape, giving focus back to their button.
    page.focus("details.user-menu summary")
    page.keyboard.press("Enter")
    assert page.evaluate("document.querySelector('details.user-menu').open")
    page.keyboard.press("Escape")
    assert not page.evaluate("document.querySelector('details.user-menu').open")
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    # Every form control of every page has a label a screen reader can announce.
    pid = live_console.project.project.id
    for path in [f"/projects/{pid}", f"/projects/{pid}/settings", f"/projects/{pid}/audit", "/account", "/projects"]:
        page.goto(f"{live_console.url}{path}")
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select')]
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.name)"""
        )
        assert unlabelled == [], path
