"""Adding feedback from the console over HTTP: one item, a CSV import with bad rows reported by line; roles,
CSRF, project isolation, escaping."""

from __future__ import annotations

from opsloop.accounts.roles import Role
from opsloop.feedback.schemas import FeedbackFilter
from tests.web.console.conftest import ConsoleHarness

EVIL = "<script>window.pwned=1</script> the export button <b>breaks</b>"
CSV = (
    "text,distinct_id,tags,plan\n"
    "The search is slow,user-1,search;speed,pro\n"
    ",user-2,,free\n"  # line 3: no text
    "搜索太慢了,user-3,,pro\n"
    '"' + EVIL.replace('"', '""') + '",user-4,,free\n'
    "Fine,user-5,,pro,extra-cell\n"  # line 6: one cell more than the header
    "Export works well,user-6,,pro\n"
)


def test_operator_adds_one_item(console: ConsoleHarness) -> None:
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/feedback"
    assert f'href="{base}/new"' in client.get(base).text
    token = console.csrf(client, f"{base}/new")
    added = client.post(
        f"{base}/new", data={"csrf_token": token, "text": EVIL, "distinct_id": "u-1", "tags": "phone, vip"}
    )
    assert added.status_code == 303 and "done=added" in added.headers["location"]
    inbox = client.get(added.headers["location"]).text
    assert "Feedback added to the inbox." in inbox
    assert EVIL not in inbox and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in inbox
    [item] = console.runtime.feedback.search(console.pid, FeedbackFilter()).items
    assert (item.text, item.distinct_id, item.tags, item.source) == (EVIL, "u-1", ["phone", "vip"], "import")

    empty = client.post(f"{base}/new", data={"csrf_token": token, "text": "   ", "distinct_id": "<b>x</b>"})
    assert empty.status_code == 400 and "text: the text is empty" in empty.text
    assert 'value="&lt;b&gt;x&lt;/b&gt;"' in empty.text  # what was typed comes back, escaped
    limit = console.runtime.settings.feedback_max_text_chars
    long = client.post(f"{base}/new", data={"csrf_token": token, "text": "x" * (limit + 10)})
    assert long.status_code == 413 and "the limit is" in long.text
    bad_tags = client.post(f"{base}/new", data={"csrf_token": token, "text": "ok", "tags": "a" * 101})
    assert bad_tags.status_code == 400 and "tags" in bad_tags.text
    assert console.runtime.feedback.search(console.pid, FeedbackFilter()).total == 1


def test_csv_import_keeps_good_rows_and_reports_bad_ones(console: ConsoleHarness) -> None:
    client = console.signed_in("op@example.com", Role.operator)
    base = f"/projects/{console.pid}/feedback"
    token = console.csrf(client, f"{base}/new")
    files = {"file": ("feedback.csv", CSV.encode("utf-8"), "text/csv")}
    report = client.post(f"{base}/import", data={"csrf_token": token}, files=files)
    assert report.status_code == 200, report.text
    # Six data rows: line 3 has no text, line 6 more cells than the header; the other four are stored.
    assert "Rows read: 6. Stored: 4" in report.text and "Refused: 2." in report.text
    assert '<td class="num">3</td><td>text</td><td>the text is empty</td>' in report.text
    assert '<td class="num">6</td><td>row</td>' in report.text
    texts = {i.text for i in console.runtime.feedback.search(console.pid, FeedbackFilter(limit=50)).items}
    assert {"The search is slow", "搜索太慢了", EVIL} <= texts and len(texts) == 4

    no_text = client.post(
        f"{base}/import", data={"csrf_token": token}, files={"file": ("x.csv", b"body\nhello\n", "text/csv")}
    )
    assert no_text.status_code == 400 and "needs a header row with a `text` column" in no_text.text
    latin = client.post(
        f"{base}/import",
        data={"csrf_token": token},
        files={"file": ("x.csv", "text\ncafé\n".encode("latin-1"), "text/csv")},
    )
    assert latin.status_code == 400 and "must be UTF-8" in latin.text
    none = client.post(f"{base}/import", data={"csrf_token": token})
    assert none.status_code == 400 and "choose a CSV file" in none.text
    assert console.runtime.feedback.search(console.pid, FeedbackFilter()).total == 4


def test_viewers_forged_forms_and_other_projects_are_refused(console: ConsoleHarness) -> None:
    base = f"/projects/{console.pid}/feedback"
    viewer = console.signed_in("viewer@example.com", Role.viewer)
    assert f'href="{base}/new"' not in viewer.get(base).text
    assert viewer.get(f"{base}/new").status_code == 403
    token = console.csrf(viewer, base)
    assert viewer.post(f"{base}/new", data={"csrf_token": token, "text": "hi"}).status_code == 403
    files = {"file": ("f.csv", b"text\nhi\n", "text/csv")}
    assert viewer.post(f"{base}/import", data={"csrf_token": token}, files=files).status_code == 403
    operator = console.signed_in("op@example.com", Role.operator)
    assert operator.post(f"{base}/new", data={"csrf_token": "forged", "text": "hi"}).status_code == 403
    assert operator.post(f"{base}/import", data={"csrf_token": "forged"}, files=files).status_code == 403
    other = console.runtime.projects.create("Other shop")
    outsider = console.signed_in("out@example.com", Role.admin, project=other)
    token = console.csrf(outsider, f"/projects/{other.project.id}/feedback")
    assert outsider.post(f"{base}/new", data={"csrf_token": token, "text": "hi"}).status_code == 404
    assert outsider.post(f"{base}/import", data={"csrf_token": token}, files=files).status_code == 404
    assert console.runtime.feedback.search(console.pid, FeedbackFilter()).total == 0
