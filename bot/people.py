"""Time zones of the configured people, read from Slack."""

from __future__ import annotations

import logging
from zoneinfo import available_timezones

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.runtime import Runtime

log = logging.getLogger(__name__)


def load_slack_timezones(rt: Runtime, client: WebClient) -> int:
    """Read each configured person's time zone from `users.info`, once at start, and count them.

    A time zone set in the configuration wins. A failed lookup is logged and
    leaves the team calendar's zone in place, so a missing user never stops the bot.
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
        except OSError as error:
            # Slack is unreachable: every other lookup would wait for its own timeout as well.
            log.warning("people.timezones_skipped error=%s: Slack unreachable; team calendars' zones apply",
                        type(error).__name__)
            break
        zone = (response.get("user") or {}).get("tz")
        if isinstance(zone, str) and zone in known:
            rt.slack_timezones[person.slack_user_id] = zone
            loaded += 1
    return loaded
