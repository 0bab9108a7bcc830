"""The /funnel response, shared by the slash command, the CLI and the demo."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from bot import messages
from bot.config import HandoffConfig, Person
from bot.i18n import format_number, format_percentage, t
from bot.messages import Message, escape_mrkdwn
from bot.metrics import FunnelFilter, PeriodError, compute_funnel, parse_period, previous_period, traffic_light
from bot.preferences import user_language
from bot.runtime import Runtime

FILTER_KEYS = {"source": "source", "bron": "source", "team": "team", "rep": "rep"}
MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


class FunnelArgumentError(ValueError):
    """A /funnel argument that is not a period or a known filter; `key` and `values` fill the user's message."""

    def __init__(self, key: str, **values: str) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class FunnelArguments:
    period_text: str
    filters: FunnelFilter
    help: bool = False


def _rep_email(config: HandoffConfig, value: str) -> str:
    mention = MENTION.match(value)
    user_id = mention.group(1) if mention else value.lstrip("@")
    person = config.person_by_slack_id(user_id) or config.person(value)
    if person is None:
        person = next((p for p in config.reps if p.name.casefold().replace(" ", ".") == value.lstrip("@").casefold()), None)
    if person is None:
        raise FunnelArgumentError("funnel.unknown_rep", value=value)
    return person.email


def parse_arguments(text: str, config: HandoffConfig) -> FunnelArguments:
    """Split `/funnel` text into one period word or range and key=value filters."""
    period_words: list[str] = []
    source = team = rep = None
    for word in text.split():
        if word.lower() in {"help", "hulp", "?"}:
            return FunnelArguments("", FunnelFilter(), help=True)
        key, sep, value = word.partition("=")
        if not sep:
            period_words.append(word)
            continue
        kind = FILTER_KEYS.get(key.lower())
        if kind is None or not value:
            raise FunnelArgumentError("funnel.bad_filter", value=word)
        if kind == "source":
            source = value
        elif kind == "team":
            if value not in {t.id for t in config.teams}:
                raise FunnelArgumentError("funnel.unknown_team", value=value, teams=", ".join(t.id for t in config.teams))
            team = value
        else:
            rep = _rep_email(config, value)
    if len(period_words) > 1:
        raise PeriodError(" ".join(period_words))
    return FunnelArguments(period_words[0] if period_words else "", FunnelFilter(source=source, team_id=team, rep_email=rep))


def _change(current: int, previous: int, language: str) -> str:
    difference = current - previous
    if difference == 0:
        return t(language, "funnel.no_change")
    return ("+" if difference > 0 else "−") + format_number(abs(difference), language)


def _points(current: Decimal | None, previous: Decimal | None, language: str) -> str:
    if current is None or previous is None:
        return t(language, "funnel.no_rate")
    points = (current - previous) * 100
    if points == 0:
        return t(language, "funnel.no_change")
    sign = "+" if points > 0 else "−"
    return t(language, "funnel.points", sign=sign, points=format_number(abs(points).quantize(Decimal("0.1")), language))


def funnel_report(rt: Runtime, *, text: str, user_id: str | None, team_id: str | None = None,
                  language: str | None = None) -> tuple[Message, bool]:
    """Return the funnel message and whether it is fit to post in the channel (False for help or a bad argument)."""
    person: Person | None = rt.config.person_by_slack_id(user_id) if user_id else None
    timezone = rt.timezone_of(person)
    with rt.db.transaction() as session:
        language = language or user_language(session, rt.config, rt.settings.default_language, user_id, team_id)
        try:
            arguments = parse_arguments(text, rt.config)
            if arguments.help:
                return messages.ephemeral(t(language, "funnel.help")), False
            period = parse_period(arguments.period_text, rt.clock.now(), timezone)
        except PeriodError as error:
            return messages.ephemeral(t(language, "funnel.bad_period", value=escape_mrkdwn(error.value[:100]))), False
        except FunnelArgumentError as error:
            values = {key: escape_mrkdwn(value[:100]) for key, value in error.values.items()}
            return messages.ephemeral(t(language, error.key, **values)), False
        funnel = compute_funnel(session, period, arguments.filters)
        before = compute_funnel(session, previous_period(period), arguments.filters)
    target = rt.config.targets.acceptance_rate
    light = traffic_light(funnel.acceptance_rate, target)
    comparison = t(language, "funnel.previous", mqls=format_number(before.mqls, language),
                   mql_change=_change(funnel.mqls, before.mqls, language),
                   rate=format_percentage(before.acceptance_rate, language),
                   rate_change=_points(funnel.acceptance_rate, before.acceptance_rate, language))
    filters = _describe_filters(rt, arguments.filters)
    message = messages.funnel_message(funnel, light, target, language, comparison=comparison, filters=filters,
                                      conversion_target=rt.config.targets.sal_to_sql_rate)
    return message, True


def _describe_filters(rt: Runtime, filters: FunnelFilter) -> str | None:
    if filters.is_empty():
        return None
    parts = []
    if filters.source:
        parts.append(f"source={escape_mrkdwn(filters.source)}")
    if filters.team_id:
        parts.append(f"team={escape_mrkdwn(filters.team_id)}")
    if filters.rep_email:
        rep = rt.config.person(filters.rep_email)
        parts.append(f"rep=<@{rep.slack_user_id}>" if rep else "rep=?")
    return " · ".join(parts)
