"""The feedback inbox on a real metadata store: create, limits, duplicates, person link, search, triage, CSV."""

from __future__ import annotations

import datetime as dt
import io
import uuid

import pytest

from opsloop.feedback.errors import FeedbackInvalid
from opsloop.feedback.schemas import FeedbackFilter, FeedbackIn, FeedbackUpdate
from opsloop.store.models import Person, PersonDistinctId
from tests.feedback.conftest import FeedbackWorld


def test_create_detects_language_and_sentiment_and_keeps_html_as_is(world: FeedbackWorld) -> None:
    text = "<script>alert('x')</script> The app crashes on login"
    item = world.inbox.create(world.project, FeedbackIn(text=text, tags=["ios", "ios", " beta "]))
    assert item.text == text  # stored exactly; escaping is the job of whatever renders it
    assert (item.language, item.sentiment, item.status, item.source) == ("en", "negative", "new", "api")
    assert item.tags == ["beta", "ios"]
    assert world.inbox.get(world.project, item.id) == item
    assert world.inbox.get(world.other, item.id) is None  # another project's id is not found


def test_limits_and_bad_items_name_the_field(world: FeedbackWorld) -> None:
    with pytest.raises(FeedbackInvalid) as too_long:
        world.inbox.validate({"text": "x" * 1001})
    assert too_long.value.status == 413 and "1,001 characters; the limit is 1,000" in too_long.value.reason
    cases = [
        ({"text": "   "}, "text", "empty"),
        ({"text": "ok", "source": "fax"}, "source", "Input should be"),
        ({"text": "ok", "colour": "red"}, "colour", "Extra inputs"),
        ({"text": "ok", "tags": ["x" * 101]}, "tags", "1 to 100 characters"),
        ({"text": "ok", "created_at": "yesterday"}, "created_at", "datetime"),
        (["not", "an", "object"], "body", "JSON object"),
    ]
    for raw, field, words in cases:
        with pytest.raises(FeedbackInvalid) as caught:
            world.inbox.validate(raw)
        assert caught.value.field == field and words in caught.value.reason, (raw, caught.value)
    with pytest.raises(FeedbackInvalid) as missing:
        world.inbox.create(424242, FeedbackIn(text="hello"))
    assert missing.value.status == 404


def test_batch_keeps_good_items_and_reports_bad_ones_by_index(world: FeedbackWorld) -> None:
    result = world.inbox.create_batch(world.project, [{"text": "fine"}, {"text": ""}, {"text": "y" * 5000}, 7])
    assert result.accepted == 1 and [i.text for i in result.items] == ["fine"]
    assert [(e.index, e.field) for e in result.errors] == [(1, "text"), (2, "text"), (3, "body")]
    assert world.inbox.search(world.project, FeedbackFilter()).total == 1


def test_near_duplicates_point_at_the_first_item(world: FeedbackWorld) -> None:
    first = world.inbox.create(world.project, FeedbackIn(text="The app crashes as soon as I open it on my iPhone."))
    # Same text, other case and punctuation: shingles identical (Jaccard 1).
    again = world.inbox.create(world.project, FeedbackIn(text="the app crashes as soon as i open it on my iphone!!"))
    # One extra word: Jaccard of 3-gram sets still above 0.7; it points at the first, not at `again`.
    third = world.inbox.create(world.project, FeedbackIn(text="The app crashes as soon as I open it on my new iPhone."))
    other = world.inbox.create(world.project, FeedbackIn(text="Please add a dark mode."))
    elsewhere = world.inbox.create(world.other, FeedbackIn(text="The app crashes as soon as I open it on my iPhone."))
    assert first.duplicate_of is None
    assert again.duplicate_of == first.id and third.duplicate_of == first.id
    assert other.duplicate_of is None and elsewhere.duplicate_of is None  # never across projects
    unique = world.inbox.search(world.project, FeedbackFilter(include_duplicates=False))
    assert {i.id for i in unique.items} == {first.id, other.id}


def test_person_link_follows_the_identity_map(world: FeedbackWorld) -> None:
    item = world.inbox.create(world.project, FeedbackIn(text="Love it", distinct_id="anon-1"))
    assert item.person_id is None  # not known yet
    person = str(uuid.uuid4())
    with world.metadata.session() as session, session.begin():
        session.add(Person(id=person, project_id=world.project))
        session.flush()
        session.add(PersonDistinctId(project_id=world.project, distinct_id="anon-1", person_id=person))
    found = world.inbox.get(world.project, item.id)
    assert found is not None and found.person_id == person  # known now: linked at read time


def test_search_filters_combine(world: FeedbackWorld) -> None:
    day = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
    rows = [
        ("Login is broken", ["ios"], day),
        ("LOGIN works, thanks", [], day + dt.timedelta(days=1)),
        ("50% off? 100_percent spam", ["ios"], day + dt.timedelta(days=2)),
    ]
    ids = [world.inbox.create(world.project, FeedbackIn(text=t, tags=g, created_at=c)).id for t, g, c in rows]
    world.inbox.create(world.other, FeedbackIn(text="login elsewhere"))

    def found(**conditions: object) -> list[int]:
        return [i.id for i in world.inbox.search(world.project, FeedbackFilter(**conditions)).items]

    assert found(q="login") == [ids[1], ids[0]]  # case-insensitive, newest first, this project only
    assert found(q="50%") == [ids[2]] and found(q="_percent") == [ids[2]]  # % and _ are literal
    assert found(tag="ios") == [ids[2], ids[0]]
    assert found(sentiment="positive") == [ids[1]]
    assert found(date_from=dt.date(2026, 11, 3), date_to=dt.date(2026, 11, 3)) == [ids[1]]
    assert found(q="login", tag="ios") == [ids[0]]
    page = world.inbox.search(world.project, FeedbackFilter(limit=1, offset=1))
    assert page.total == 3 and [i.id for i in page.items] == [ids[1]]


def test_triage_updates_only_given_fields(world: FeedbackWorld) -> None:
    item = world.inbox.create(world.project, FeedbackIn(text="Export to CSV please", tags=["request"]))
    changed = world.inbox.update(world.project, item.id, FeedbackUpdate(status="triaged", assignee="ana"))
    assert (changed.status, changed.assignee, changed.tags) == ("triaged", "ana", ["request"])
    changed = world.inbox.update(world.project, item.id, FeedbackUpdate(assignee="", tags=["export"]))
    assert (changed.status, changed.assignee, changed.tags) == ("triaged", None, ["export"])
    assert world.inbox.search(world.project, FeedbackFilter(status="triaged", tag="export")).total == 1
    with pytest.raises(FeedbackInvalid) as other:
        world.inbox.update(world.other, item.id, FeedbackUpdate(status="closed"))
    assert other.value.status == 404
    with pytest.raises(FeedbackInvalid) as theme:
        world.inbox.update(world.project, item.id, FeedbackUpdate(theme_id=999))
    assert theme.value.field == "theme_id"


def test_csv_import_reports_bad_rows_by_line_and_keeps_good_ones(world: FeedbackWorld) -> None:
    csv_text = (
        "text,distinct_id,created_at,tags,plan\n"  # line 1
        "Payment failed twice,u1,2026-11-01T10:00:00Z,billing;urgent,pro\n"  # line 2
        ",u2,,,\n"  # line 3: empty text
        '"A quoted text\nover two lines",u3,,,free\n'  # lines 4-5
        "Dark mode please,u4,not a date,,\n"  # line 6: bad date
        "Payment failed twice!,u5,,,\n"  # line 7: near-duplicate of line 2
    )
    report = world.inbox.import_csv(world.project, io.StringIO(csv_text, newline=""))
    assert (report.rows, report.stored, report.duplicates) == (5, 3, 1)
    assert [(e.line, e.field) for e in report.errors] == [(3, "text"), (6, "created_at")]
    items = world.inbox.search(world.project, FeedbackFilter(source="import")).items
    first = next(i for i in items if i.distinct_id == "u1")
    assert first.tags == ["billing", "urgent"] and first.properties == {"plan": "pro"}
    assert first.created_at == dt.datetime(2026, 11, 1, 10, tzinfo=dt.UTC)
    assert any(i.text == "A quoted text\nover two lines" for i in items)
    with pytest.raises(FeedbackInvalid):
        world.inbox.import_csv(world.project, io.StringIO("body\nhello\n"))
