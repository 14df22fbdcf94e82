"""Projects and their credentials: public capture tokens and hashed secret API keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import select

from opsloop.store.metadata import MetadataStore
from opsloop.store.models import ApiKey, Project, ProjectToken, utcnow

TOKEN_PREFIX = "olp_"
API_KEY_PREFIX = "olk_"


class ProjectError(ValueError):
    """A project request that cannot be carried out (bad timezone, unknown project...)."""


@dataclass(frozen=True)
class ProjectInfo:
    """A project as the rest of opsloop sees it."""

    id: int
    name: str
    timezone: str
    week_start: str


@dataclass(frozen=True)
class NewProject:
    """A freshly created project with its token and the only copy of its first API key."""

    project: ProjectInfo
    token: str
    api_key: str


def hash_api_key(key: str) -> str:
    """SHA-256 of an API key: keys are 240-bit random, so a fast hash is enough to make them unrecoverable."""
    return hashlib.sha256(key.encode()).hexdigest()


def _info(project: Project) -> ProjectInfo:
    return ProjectInfo(project.id, project.name, project.timezone, project.week_start)


class ProjectService:
    """Create projects and check credentials, with a short cache for the capture hot path."""

    def __init__(self, metadata: MetadataStore, *, cache_seconds: float = 30.0) -> None:
        self.metadata = metadata
        self._cache_seconds = cache_seconds
        self._token_cache: dict[str, tuple[int | None, float]] = {}
        self._lock = threading.Lock()

    def create(self, name: str, *, timezone: str = "UTC", week_start: str = "monday") -> NewProject:
        """Create a project with one capture token and one API key."""
        name = name.strip()
        if not name or len(name) > 200:
            raise ProjectError("project name must be 1 to 200 characters")
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ProjectError(f"unknown timezone {timezone!r} (use an IANA name like Asia/Shanghai)") from exc
        if week_start not in ("monday", "sunday"):
            raise ProjectError("week_start must be 'monday' or 'sunday'")
        token = TOKEN_PREFIX + secrets.token_urlsafe(24)
        with self.metadata.session() as session, session.begin():
            project = Project(name=name, timezone=timezone, week_start=week_start)
            session.add(project)
            session.flush()
            session.add(ProjectToken(project_id=project.id, token=token))
            info = _info(project)
        api_key = self.create_api_key(info.id, name="default")
        return NewProject(project=info, token=token, api_key=api_key)

    def create_api_key(self, project_id: int, *, name: str = "") -> str:
        """Create an API key and return it; this is the only time the key itself is visible."""
        key = API_KEY_PREFIX + secrets.token_urlsafe(30)
        with self.metadata.session() as session, session.begin():
            if session.get(Project, project_id) is None:
                raise ProjectError(f"project {project_id} does not exist")
            session.add(ApiKey(project_id=project_id, name=name, prefix=key[:10], key_hash=hash_api_key(key)))
        return key

    def get(self, project_id: int) -> ProjectInfo | None:
        """The project with this id, if any."""
        with self.metadata.session() as session:
            project = session.get(Project, project_id)
            return _info(project) if project else None

    def list(self) -> list[ProjectInfo]:
        """All projects, oldest first."""
        with self.metadata.session() as session:
            return [_info(p) for p in session.scalars(select(Project).order_by(Project.id))]

    def project_for_token(self, token: str) -> int | None:
        """The project a capture token writes to (None if unknown or revoked); cached briefly."""
        now = time.monotonic()
        cached = self._token_cache.get(token)
        if cached and cached[1] > now:
            return cached[0]
        with self.metadata.session() as session:
            project_id = session.scalar(
                select(ProjectToken.project_id).where(ProjectToken.token == token, ProjectToken.revoked_at.is_(None))
            )
        with self._lock:
            if len(self._token_cache) > 10_000:
                self._token_cache.clear()
            self._token_cache[token] = (project_id, now + self._cache_seconds)
        return project_id

    def project_for_api_key(self, key: str) -> int | None:
        """The project an API key administers (None if unknown or revoked)."""
        if not key.startswith(API_KEY_PREFIX):
            return None
        with self.metadata.session() as session, session.begin():
            api_key = session.scalar(
                select(ApiKey).where(ApiKey.key_hash == hash_api_key(key), ApiKey.revoked_at.is_(None))
            )
            if api_key is None:
                return None
            api_key.last_used_at = utcnow()
            return api_key.project_id


@dataclass(frozen=True)
class CredentialInfo:
    """A capture token or API key as listed in the console (an API key's secret is never listed)."""

    id: int
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None = None
    name: str = ""


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive date-times; they were written in UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _utc_or_none(value: dt.datetime | None) -> dt.datetime | None:
    return _utc(value) if value is not None else None


def update_project_settings(
    projects: ProjectService, project_id: int, *, timezone: str, week_start: str
) -> ProjectInfo:
    """Change a project's timezone and week start (validated like at creation)."""
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ProjectError(f"timezone: unknown timezone {timezone!r} (use an IANA name like Asia/Shanghai)") from exc
    if week_start not in ("monday", "sunday"):
        raise ProjectError("week_start must be 'monday' or 'sunday'")
    with projects.metadata.session() as session, session.begin():
        project = session.get(Project, project_id)
        if project is None:
            raise ProjectError(f"project {project_id} does not exist")
        project.timezone = timezone
        project.week_start = week_start
        return _info(project)


def list_api_keys(projects: ProjectService, project_id: int) -> list[CredentialInfo]:
    """The project's API keys (prefix only), newest first."""
    with projects.metadata.session() as session:
        keys = session.scalars(select(ApiKey).where(ApiKey.project_id == project_id).order_by(ApiKey.id.desc()))
        return [
            CredentialInfo(
                k.id,
                k.prefix + "…",
                _utc(k.created_at),
                _utc_or_none(k.revoked_at),
                _utc_or_none(k.last_used_at),
                k.name,
            )
            for k in keys
        ]


def revoke_api_key(projects: ProjectService, project_id: int, key_id: int) -> CredentialInfo:
    """Revoke one of the project's API keys (a key of another project is 'not found')."""
    with projects.metadata.session() as session, session.begin():
        key = session.get(ApiKey, key_id)
        if key is None or key.project_id != project_id:
            raise ProjectError(f"API key {key_id} not found in project {project_id}")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
        return CredentialInfo(
            key.id, key.prefix + "…", _utc(key.created_at), _utc_or_none(key.revoked_at), name=key.name
        )


def list_tokens(projects: ProjectService, project_id: int) -> list[CredentialInfo]:
    """The project's capture tokens (public: shown in full), newest first."""
    with projects.metadata.session() as session:
        tokens = session.scalars(
            select(ProjectToken).where(ProjectToken.project_id == project_id).order_by(ProjectToken.id.desc())
        )
        return [CredentialInfo(t.id, t.token, _utc(t.created_at), _utc_or_none(t.revoked_at)) for t in tokens]


def create_token(projects: ProjectService, project_id: int) -> str:
    """Add a capture token to the project and return it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    with projects.metadata.session() as session, session.begin():
        if session.get(Project, project_id) is None:
            raise ProjectError(f"project {project_id} does not exist")
        session.add(ProjectToken(project_id=project_id, token=token))
    return token


def revoke_token(projects: ProjectService, project_id: int, token_id: int) -> CredentialInfo:
    """Revoke one of the project's capture tokens; capture with it stops within the token cache's lifetime."""
    with projects.metadata.session() as session, session.begin():
        token = session.get(ProjectToken, token_id)
        if token is None or token.project_id != project_id:
            raise ProjectError(f"token {token_id} not found in project {project_id}")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
        info = CredentialInfo(token.id, token.token, _utc(token.created_at), _utc_or_none(token.revoked_at))
    with projects._lock:
        projects._token_cache.pop(info.label, None)
    return info
