"""Events API: the App Home tab, and the deduplication of Slack's event retries."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from bot.events import first_delivery
from bot.home import home_view
from bot.runtime import Runtime
from handlers.listener_work import ListenerWork

log = logging.getLogger(__name__)


class SkipRepeatedEvents(Middleware):
    """Middleware that responds 200 to an Events API delivery seen before, without running its listeners.

    A class, because Bolt calls a function middleware with keyword arguments that it builds for
    every request, each click included.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:  # noqa: A002
        body = req.body
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and not first_delivery(self.rt, event_id):
            log.info("events.duplicate event_id=%s", event_id)
            return BoltResponse(status=200, body="")
        return next()


def register(app: App, rt: Runtime, listener_work: ListenerWork) -> None:
    app.use(SkipRepeatedEvents(rt))

    @app.event("app_home_opened")
    @listener_work.after_ack("home_opened")
    def on_home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") != "home":
            return
        user_id = event.get("user")
        if isinstance(user_id, str):
            publish_home(rt, client, user_id)


def publish_home(rt: Runtime, client: WebClient, user_id: str) -> None:
    """Draw a user's Home tab and publish it; a failure is logged, and the tab shows its old content."""
    with rt.db.transaction() as session:
        view = home_view(session, rt, user_id)
    try:
        client.views_publish(user_id=user_id, view=view)
    except SlackApiError as error:
        log.warning("home.publish_failed user=%s error=%s", user_id, error.response.get("error"))
