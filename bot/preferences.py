"""Language per user and per workspace; Slack has no Dutch locale, so the bot keeps its own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ScalarSelect, bindparam, select
from sqlalchemy.orm import Session

from bot.config import HandoffConfig
from bot.i18n import LANGUAGES
from storage.models import UserSetting, WorkspaceSetting


def user_language(session: Session, config: HandoffConfig, default: str, user_id: str | None, team_id: str | None = None) -> str:
    """Return the user's own choice, else the configured person's, else the workspace's, else `default`."""
    chosen = None
    if user_id:
        session.flush()  # a Core query does not autoflush, and the setting may have just changed
        chosen = session.scalar(_USER_LANGUAGE, {"user": user_id})
    return language_with_choice(session, config, default, user_id, chosen, team_id)


def language_with_choice(session: Session, config: HandoffConfig, default: str, user_id: str | None,
                         chosen: str | None, team_id: str | None = None) -> str:
    """Return the language as `user_language` does, for a caller that has read the user's own choice.

    `chosen` is what `user_language_column` selected for `user_id`.
    """
    if chosen:
        return chosen
    if user_id:
        person = config.person_by_slack_id(user_id)
        if person is not None and person.language:
            return person.language
    if team_id:
        workspace = session.scalar(select(WorkspaceSetting.language).where(WorkspaceSetting.slack_team_id == team_id))
        if workspace:
            return workspace
    return default


def user_language_column(user_parameter: str) -> ScalarSelect[str | None]:
    """Build a scalar subquery of the language chosen by the Slack user bound to `user_parameter`.

    A click adds it to the query that loads the lead, which saves one statement.
    """
    settings = UserSetting.__table__
    return select(settings.c.language).where(settings.c.slack_user_id == bindparam(user_parameter)).scalar_subquery()


# Built once, because every click reads it and building a statement costs more than running it.
_USER_SETTINGS = UserSetting.__table__
_USER_LANGUAGE = select(_USER_SETTINGS.c.language).where(_USER_SETTINGS.c.slack_user_id == bindparam("user"))


def set_user_language(session: Session, user_id: str, language: str, now: datetime) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; use one of: {', '.join(LANGUAGES)}")
    setting = session.get(UserSetting, user_id)
    if setting is None:
        session.add(UserSetting(slack_user_id=user_id, language=language, updated_at=now))
    else:
        setting.language = language
        setting.updated_at = now
