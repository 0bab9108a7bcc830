"""Language per user and per workspace; Slack has no Dutch locale, so the bot keeps its own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import HandoffConfig
from bot.i18n import LANGUAGES
from storage.models import UserSetting, WorkspaceSetting


def user_language(session: Session, config: HandoffConfig, default: str, user_id: str | None, team_id: str | None = None) -> str:
    """Return the user's own choice, else the configured person's, else the workspace's, else `default`."""
    if user_id:
        chosen = session.scalar(select(UserSetting.language).where(UserSetting.slack_user_id == user_id))
        if chosen:
            return chosen
        person = config.person_by_slack_id(user_id)
        if person is not None and person.language:
            return person.language
    if team_id:
        workspace = session.scalar(select(WorkspaceSetting.language).where(WorkspaceSetting.slack_team_id == team_id))
        if workspace:
            return workspace
    return default


def set_user_language(session: Session, user_id: str, language: str, now: datetime) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; use one of: {', '.join(LANGUAGES)}")
    setting = session.get(UserSetting, user_id)
    if setting is None:
        session.add(UserSetting(slack_user_id=user_id, language=language, updated_at=now))
    else:
        setting.language = language
        setting.updated_at = now
