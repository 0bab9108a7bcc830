"""The /funnel response, shared by the slash command, the CLI and the demo."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, MarkdownTextObject, PlainTextObject, SectionBlock

from bot import messages
from bot.config import HandoffConfig, Person, RateTarget
from bot.i18n import format_day, format_number, format_percentage, t
from bot.messages import HEADER_TEXT_LIMIT, SECTION_TEXT_LIMIT, Message, clip, escape_mrkdwn
from bot.metrics import (
    LIGHT_EMOJI,
    Funnel,
    FunnelFilter,
    Period,
    PeriodError,
    compute_funnel,
    light_at_least,
    light_at_most,
    parse_period,
    previous_period,
    traffic_light,
)
from bot.preferences import user_language
from bot.runtime import Runtime

FILTER_KEYS = {"source": "source", "bron": "source", "team": "team", "rep": "rep"}
ONE_DECIMAL = Decimal("0.1")
# Sources and rejection reasons listed at most, so the sections stay under Slack's 3,000 characters.
MAX_LISTED = 40
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


def _hours(value: Decimal | None, language: str) -> str:
    if value is None:
        return t(language, "funnel.no_rate")
    return t(language, "funnel.hours", count=value.quantize(ONE_DECIMAL))


def _decimal(value: Decimal | None, language: str) -> str:
    return t(language, "funnel.no_rate") if value is None else format_number(value.quantize(ONE_DECIMAL), language)


def _difference(current: Decimal | None, previous: Decimal | None, language: str, *, hours: bool = False) -> str:
    """Write current - previous with one decimal, in working hours when `hours` is set."""
    if current is None or previous is None:
        return t(language, "funnel.no_rate")
    difference = (current - previous).quantize(ONE_DECIMAL)
    if difference == 0:
        return t(language, "funnel.no_change")
    sign = "+" if difference > 0 else "−"
    if hours:
        return t(language, "funnel.hours_change", sign=sign, count=abs(difference))
    return sign + format_number(abs(difference), language)


def _previous_rate(current: Decimal | None, previous: Decimal | None, language: str) -> str:
    return t(language, "funnel.line.previous", value=format_percentage(previous, language),
             change=_points(current, previous, language))


@dataclass(frozen=True)
class ResolvedTargets:
    """The /funnel targets with the defaults that come from other settings filled in."""

    rates: dict[str, RateTarget]
    first_contact_hours: Decimal
    first_contact_band: Decimal
    attempts: Decimal
    attempts_band: Decimal


def resolve_targets(config: HandoffConfig) -> ResolvedTargets:
    """Fill an empty first-contact target from the SLA and an empty attempts target from the cadence."""
    targets = config.targets
    return ResolvedTargets(
        rates={"acceptance": targets.acceptance_rate, "sal_to_sql": targets.sal_to_sql_rate,
               "mql_to_sql": targets.mql_to_sql_rate, "mql_to_won": targets.mql_to_won_rate,
               "reengagement": targets.reengagement_rate},
        first_contact_hours=targets.first_contact.working_hours or Decimal(config.sla.first_contact_working_hours),
        first_contact_band=targets.first_contact.amber_band,
        attempts=targets.contact_attempts.attempts or Decimal(config.sales.cadence.touches),
        attempts_band=targets.contact_attempts.amber_band,
    )


def _period_label(period: Period, language: str) -> str:
    if period.name == "range":
        return t(language, "funnel.period.range", start=format_day(period.start, language),
                 end=format_day(period.end - timedelta(seconds=1), language))
    return t(language, f"funnel.period.{period.name}")


def _section(text: str, language: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_TEXT_LIMIT, language)))


def _volume_lines(funnel: Funnel, before: Funnel, language: str) -> list[str]:
    lines = [t(language, "funnel.volume", total=format_number(funnel.mqls, language))]
    for source, count in list(funnel.mqls_by_source.items())[:MAX_LISTED]:
        change = _change(count, before.mqls_by_source.get(source, 0), language)
        lines.append(f"• {escape_mrkdwn(source)}: {format_number(count, language)} ({change})")
    return lines


def _marketing_lines(funnel: Funnel, before: Funnel, targets: ResolvedTargets, language: str) -> list[str]:
    target = targets.rates["acceptance"]
    lines = [t(language, "funnel.section.marketing"), t(
        language, "funnel.line.acceptance", light=LIGHT_EMOJI[traffic_light(funnel.acceptance_rate, target)],
        rate=format_percentage(funnel.acceptance_rate, language), target=format_percentage(target.target, language),
        accepted=format_number(funnel.accepted, language), rejected=format_number(funnel.rejected, language),
        pending=format_number(funnel.pending, language),
        previous=_previous_rate(funnel.acceptance_rate, before.acceptance_rate, language))]
    if funnel.rejection_reasons:
        lines.append(t(language, "funnel.reasons"))
        for reason, count in list(funnel.rejection_reasons.items())[:MAX_LISTED]:
            change = _change(count, before.rejection_reasons.get(reason, 0), language)
            lines.append(f"• {t(language, 'reason.' + reason)}: {format_number(count, language)} ({change})")
    else:
        lines.append(t(language, "funnel.no_rejections"))
    return lines


def _sales_lines(funnel: Funnel, before: Funnel, targets: ResolvedTargets, language: str) -> list[str]:
    average = funnel.first_contact_average_hours
    contact_light = light_at_most(average, targets.first_contact_hours, targets.first_contact_band)
    attempts_light = light_at_least(funnel.attempts_per_lead, targets.attempts, targets.attempts_band)
    sal_target = targets.rates["sal_to_sql"]
    return [
        t(language, "funnel.section.sales"),
        t(language, "funnel.line.first_contact", light=LIGHT_EMOJI[contact_light], average=_hours(average, language),
          median=_hours(funnel.first_contact_median_hours, language),
          target=_hours(targets.first_contact_hours, language), contacted=format_number(funnel.contacted, language),
          count=funnel.mqls,
          previous=t(language, "funnel.line.previous", value=_hours(before.first_contact_average_hours, language),
                     change=_difference(average, before.first_contact_average_hours, language, hours=True))),
        t(language, "funnel.line.attempts", light=LIGHT_EMOJI[attempts_light],
          value=_decimal(funnel.attempts_per_lead, language), target=_decimal(targets.attempts, language),
          attempts=t(language, "count.contact_attempts", count=funnel.contact_attempts),
          accepted=t(language, "count.accepted_leads", count=funnel.accepted),
          previous=t(language, "funnel.line.previous", value=_decimal(before.attempts_per_lead, language),
                     change=_difference(funnel.attempts_per_lead, before.attempts_per_lead, language))),
        t(language, "funnel.line.sal_to_sql", light=LIGHT_EMOJI[traffic_light(funnel.sal_to_sql_rate, sal_target)],
          rate=format_percentage(funnel.sal_to_sql_rate, language), target=format_percentage(sal_target.target, language),
          count=funnel.sqls,
          previous=_previous_rate(funnel.sal_to_sql_rate, before.sal_to_sql_rate, language)),
    ]


def _joint_lines(funnel: Funnel, before: Funnel, targets: ResolvedTargets, language: str) -> list[str]:
    def light(rate: Decimal | None, name: str) -> str:
        return LIGHT_EMOJI[traffic_light(rate, targets.rates[name])]

    def target(name: str) -> str:
        return format_percentage(targets.rates[name].target, language)

    return [
        t(language, "funnel.section.joint"),
        t(language, "funnel.line.mql_to_sql", light=light(funnel.mql_to_sql_rate, "mql_to_sql"),
          rate=format_percentage(funnel.mql_to_sql_rate, language), target=target("mql_to_sql"),
          previous=_previous_rate(funnel.mql_to_sql_rate, before.mql_to_sql_rate, language)),
        t(language, "funnel.line.mql_to_won", light=light(funnel.mql_to_won_rate, "mql_to_won"),
          rate=format_percentage(funnel.mql_to_won_rate, language), won=format_number(funnel.won, language),
          target=target("mql_to_won"),
          previous=_previous_rate(funnel.mql_to_won_rate, before.mql_to_won_rate, language)),
        t(language, "funnel.line.reengagement", light=light(funnel.reengagement_rate, "reengagement"),
          rate=format_percentage(funnel.reengagement_rate, language),
          reengaged=format_number(funnel.reengaged, language), rescored=format_number(funnel.rescored, language),
          target=target("reengagement"),
          previous=_previous_rate(funnel.reengagement_rate, before.reengagement_rate, language)),
    ]


def funnel_blocks(funnel: Funnel, before: Funnel, targets: ResolvedTargets, language: str, *,
                  filters: str | None = None) -> Message:
    """Draw /funnel at full depth: every metric with its traffic light and the change against `before`."""
    label = _period_label(funnel.period, language)
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(
        text=clip(t(language, "funnel.title", period=label), HEADER_TEXT_LIMIT, language)))]
    if filters:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(
            text=clip(t(language, "funnel.filters", filters=filters), 2000, language))]))
    if funnel.mqls:
        blocks.append(_section("\n".join(_volume_lines(funnel, before, language)), language))
    else:
        blocks.append(_section(t(language, "funnel.no_mqls"), language))
    blocks.append(_section("\n".join(_marketing_lines(funnel, before, targets, language)), language))
    blocks.append(_section("\n".join(_sales_lines(funnel, before, targets, language)), language))
    blocks.append(_section("\n".join(_joint_lines(funnel, before, targets, language)), language))
    comparison = t(language, "funnel.previous", count=before.mqls,
                   mql_change=_change(funnel.mqls, before.mqls, language),
                   rate=format_percentage(before.acceptance_rate, language),
                   rate_change=_points(funnel.acceptance_rate, before.acceptance_rate, language))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=comparison)]))
    text = t(language, "funnel.fallback", period=label, count=funnel.mqls,
             rate=format_percentage(funnel.acceptance_rate, language))
    return Message(text=text, blocks=[block.to_dict() for block in blocks])


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
            key = "funnel.bad_period" if error.reason == "unknown" else f"funnel.bad_period.{error.reason}"
            return messages.ephemeral(t(language, key, value=escape_mrkdwn(error.value[:100]))), False
        except FunnelArgumentError as error:
            values = {key: escape_mrkdwn(value[:100]) for key, value in error.values.items()}
            return messages.ephemeral(t(language, error.key, **values)), False
        funnel = compute_funnel(session, period, arguments.filters)
        before = compute_funnel(session, previous_period(period), arguments.filters)
    message = funnel_blocks(funnel, before, resolve_targets(rt.config), language,
                            filters=_describe_filters(rt, arguments.filters))
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
