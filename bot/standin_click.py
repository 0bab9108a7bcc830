"""`handoff click`: press a card's Accept button as Slack would, to try the bot with its stand-in.

The command signs a block_actions request with SLACK_SIGNING_SECRET, exactly as Slack sends it
for a click on the lead's card, and posts it to the local web process. It works only while
SLACK_API_URL names a server on this machine (the stand-in), so it cannot act in a real workspace.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.ids import ActionId, LeadRef
from bot.runtime import Runtime
from bot.slack_standin.interactions import block_action_body, button_action, signed_headers
from storage.models import Lead

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class ClickError(Exception):
    """The click cannot be sent; the message names the value and what to do."""


@dataclass(frozen=True)
class ClickResult:
    status: int
    body: str
    user_id: str
    response_url: str


def send_accept_click(rt: Runtime, lead_id: int, *, user_id: str | None = None,
                      events_url: str | None = None) -> ClickResult:
    """Post a signed Accept click on the card of `lead_id`, by its rep unless `user_id` is given."""
    settings = rt.settings
    api_url = settings.slack_api_url
    if not api_url or urlsplit(api_url).hostname not in LOOPBACK_HOSTS:
        raise ClickError(f"SLACK_API_URL is {api_url or 'not set'}; handoff click works only against the "
                         "stand-in on this machine: start `handoff standin` and set SLACK_API_URL as it prints")
    if settings.slack_signing_secret is None:
        raise ClickError("SLACK_SIGNING_SECRET is not set; use the value you started `handoff web` with")
    url = events_url or f"http://127.0.0.1:{settings.port}/slack/events"
    if urlsplit(url).hostname not in LOOPBACK_HOSTS:
        raise ClickError(f"--url {url} is not on this machine; give the local web process's /slack/events")

    with rt.db.transaction() as session:
        lead = session.get(Lead, lead_id)
        if lead is None:
            raise ClickError(f"no lead with id {lead_id}; the webhook's response and `handoff export history` give lead ids")
        if lead.card_channel is None or lead.card_ts is None:
            raise ClickError(f"lead {lead_id} has no card in Slack yet (stage {lead.stage}); a card is posted "
                             "when a lead becomes an MQL and the outbox has sent it")
        channel, ts, version, rep_email = lead.card_channel, lead.card_ts, lead.version, lead.rep_email
    if user_id is None:
        rep = rt.config.rep(rep_email)
        if rep is None:
            raise ClickError(f"lead {lead_id} has no rep in the configuration; name the clicking user with --user")
        user_id = rep.slack_user_id

    # The stand-in's address for replies, beside its Web API: http://127.0.0.1:PORT/response/click.
    response_url = api_url.rstrip("/").removesuffix("/api") + "/response/click"
    action = button_action(ActionId.ACCEPT.value, LeadRef(lead=lead_id, v=version).encode())
    body = block_action_body(user_id=user_id, action=action, channel_id=channel, message_ts=ts,
                             response_url=response_url)
    headers = signed_headers(settings.slack_signing_secret.get_secret_value(), body)
    request = urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return ClickResult(response.status, response.read().decode(errors="replace"), user_id, response_url)
    except urllib.error.HTTPError as error:
        return ClickResult(error.code, error.read().decode(errors="replace"), user_id, response_url)
    except OSError as error:
        raise ClickError(f"could not connect to a web process at {url} ({error}); start `handoff web` as "
                         "`handoff standin` prints, or give its address with --url") from None
