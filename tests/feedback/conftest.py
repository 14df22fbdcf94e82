"""Feedback fixtures: a real metadata store (SQLite file, or PostgreSQL when configured) with two projects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from opsloop.feedback.inbox import FeedbackInbox
from opsloop.feedback.theming import ThemeService
from opsloop.projects import ProjectService
from opsloop.store.metadata import MetadataStore


@dataclass
class FeedbackWorld:
    """The services under test and two projects of the same store."""

    metadata: MetadataStore
    inbox: FeedbackInbox
    themes: ThemeService
    project: int
    other: int


@pytest.fixture
def world(metadata_url: str) -> Iterator[FeedbackWorld]:
    metadata = MetadataStore(metadata_url)
    projects = ProjectService(metadata)
    project = projects.create("voice", timezone="Asia/Shanghai").project.id
    other = projects.create("other").project.id
    yield FeedbackWorld(metadata, FeedbackInbox(metadata, max_text_chars=1000), ThemeService(metadata), project, other)
    metadata.close()
