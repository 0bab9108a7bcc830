"""What Slack knows of the configured people: their time zones."""

from __future__ import annotations

import logging
from zoneinfo import available_timezones

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.runtime import Runtime

log = logging.getLogger(__name__)


def load_slack_timezones(rt: Runtime, client: WebClient) -> int:
    """Read each configured person's time zone from `users.info`, once at start.

    A time zone set in the configuration wins; a failed lookup leaves the team
    calendar's zone in place and is logged, so a missing user never stops the bot.
    Returns how many zones were read.
    """
    known = available_timezones()
    loaded = 0
    for person in [*rt.config.reps, *rt.config.managers]:
        if person.timezone:
            continue
        try:
            response = client.users_info(user=person.slack_user_id)
        except SlackApiError as error:
            log.warning("people.timezone_unavailable user=%s error=%s", person.slack_user_id, error.response.get("error"))
            continue
        zone = (response.get("user") or {}).get("tz")
        if isinstance(zone, str) and zone in known:
            rt.slack_timezones[person.slack_user_id] = zone
            loaded += 1
    return loaded
