"""The /funnel answer, shared by the slash command, the CLI and the demo."""

from __future__ import annotations

from bot import messages
from bot.config import Person
from bot.i18n import t
from bot.messages import Message
from bot.metrics import PeriodError, compute_funnel, parse_period, traffic_light
from bot.preferences import user_language
from bot.runtime import Runtime


def funnel_report(rt: Runtime, *, text: str, user_id: str | None, team_id: str | None = None,
                  language: str | None = None) -> tuple[Message, bool]:
    """Return the funnel message and whether it is fit to post in the channel (False for a bad argument)."""
    person: Person | None = rt.config.person_by_slack_id(user_id) if user_id else None
    timezone = rt.timezone_of(person)
    with rt.db.transaction() as session:
        language = language or user_language(session, rt.config, rt.settings.default_language, user_id, team_id)
        try:
            period = parse_period(text, rt.clock.now(), timezone)
        except PeriodError as error:
            return messages.ephemeral(t(language, "funnel.bad_period", value=messages.escape_mrkdwn(error.value))), False
        funnel = compute_funnel(session, period)
    target = rt.config.targets.acceptance_rate
    light = traffic_light(funnel.acceptance_rate, target)
    return messages.funnel_message(funnel, light, target, language), True
