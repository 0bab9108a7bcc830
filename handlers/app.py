"""The Bolt app with every listener registered."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.clicks import user_text
from bot.outbox import OutboxSender
from bot.people import load_slack_timezones
from bot.runtime import Runtime
from bot.slack_http import PooledWebClient
from handlers import actions, commands, contests, events, sales, sla
from handlers.listener_work import ListenerWork, acting_user

log = logging.getLogger(__name__)

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
# Threads that run decisions and other listener work, per process. A burst of clicks waits
# here instead of in the HTTP response. More threads compete with the request threads for the
# GIL: with 4, the responses to 50 simultaneous clicks took about twice as long as with 1 or 2
# (benchmarks/concurrent_clicks.py, 2 cores).
WORK_THREADS = 2


class _ClientTokenWarning(logging.Filter):
    """Drop Bolt's warning that SLACK_BOT_TOKEN "will be unused": the client given to App carries that token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


BOLT_LOGGER = logging.getLogger("slack_bolt")
BOLT_LOGGER.addFilter(_ClientTokenWarning())


class UseProcessClient(Middleware):
    """Middleware that gives listeners the process's Web API client instead of one built per request.

    Bolt builds a new WebClient for every request, so that a listener may change its token
    without touching other requests. These listeners never change it. The process's client keeps
    its connections to Slack open, so a modal or an ephemeral reply needs no new TLS handshake.
    """

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:  # noqa: A002
        req.context["client"] = self.client
        return next()


class HandoffApp(App):
    """The Bolt app, with the pool that runs its listeners' work apart from their ack()."""

    listener_work: ListenerWork


def slack_client(rt: Runtime) -> WebClient:
    """Return the process's Web API client, which keeps its connections to Slack open between calls."""
    token = rt.settings.slack_bot_token.get_secret_value() if rt.settings.slack_bot_token else None
    return PooledWebClient(token=token, base_url=rt.settings.slack_api_url or DEFAULT_SLACK_API_URL, timeout=10)


def slack_reachable(client: WebClient) -> bool:
    """Return False when the Web API cannot be reached at all; Slack's own errors count as reachable."""
    try:
        client.auth_test()
    except SlackApiError:
        return True
    except OSError as error:
        log.warning("slack.unreachable_at_start error=%s: starting anyway; messages wait in the outbox",
                    type(error).__name__)
        return False
    return True


def build_app(rt: Runtime, client: WebClient | None = None, *, verify_token: bool = True) -> tuple[HandoffApp, OutboxSender]:
    """Create the Bolt app and the outbox sender that shares its Web API client."""
    missing = rt.settings.missing_slack_settings()
    if missing:
        raise ValueError(f"missing Slack settings: {', '.join(missing)}")
    client = client or slack_client(rt)
    assert rt.settings.slack_signing_secret is not None
    if verify_token and not slack_reachable(client):
        # Bolt would call auth.test now and fail the start. The process serves /leads and
        # /healthz meanwhile, and the outbox sends once Slack responds. A wrong token then
        # shows as invalid_auth on the first call.
        verify_token = False
    app = HandoffApp(
        client=client,
        signing_secret=rt.settings.slack_signing_secret.get_secret_value(),
        token_verification_enabled=verify_token,
        logger=BOLT_LOGGER,
        # Listeners run in the request thread and respond as soon as they return. Their work goes to
        # ListenerWork, so the response waits neither for it nor for Bolt's 10 ms poll of ack().
        process_before_response=True,
    )
    app.listener_work = ListenerWork(WORK_THREADS, failure_reply=functools.partial(_tell_failure, rt))
    app.use(UseProcessClient(client))
    load_slack_timezones(rt, client)
    sender = OutboxSender(rt.db, client, rt.clock, runtime=rt)
    events.register(app, rt, app.listener_work)
    actions.register(app, rt, sender, app.listener_work)
    sales.register(app, rt, sender, app.listener_work)
    contests.register(app, rt, sender, app.listener_work)
    sla.register(app, rt, sender, app.listener_work)
    commands.register(app, rt, app.listener_work)

    @app.error
    def on_error(error: Exception) -> None:
        log.error("bolt.listener_error error=%s", type(error).__name__)

    return app, sender


def _tell_failure(rt: Runtime, arguments: dict[str, Any], reference: str) -> None:
    """Tell the user of a failed click or command that nothing changed, with the reference in the log."""
    body = arguments.get("body") or {}
    command = arguments.get("command") or {}
    user_id = acting_user(arguments)
    if user_id is None:
        return
    team_id = (body.get("team") or {}).get("id") or command.get("team_id")
    text = user_text(rt, user_id, team_id if isinstance(team_id, str) else None, "action.failed", ref=reference)
    respond = arguments.get("respond")
    client = arguments.get("client")
    if respond is not None and command:
        respond(text=text, response_type="ephemeral")
    elif isinstance(client, WebClient):
        sales._tell(client, body, text)
