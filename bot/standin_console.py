"""`handoff standin`: the bundled Slack stand-in as a process of its own, to try HTTP mode without Slack.

It registers the configured people and channels, then prints each message the bot
posts or updates as a Slack user would read it, until Ctrl-C.
"""

from __future__ import annotations

import re
import threading

from bot.config import HandoffConfig
from bot.slack_standin import RESPONSE_URL_METHOD, SlackStandin, render_text

CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
SHOWN_METHODS = {"chat.postMessage": "new message", "chat.update": "message updated",
                 "chat.postEphemeral": "only visible to the user", "views.publish": "Home tab published",
                 RESPONSE_URL_METHOD: "reply to a slash command or action"}
TOKEN = "xoxb-standin"


def configured_channels(config: HandoffConfig) -> set[str]:
    """Return every channel id or #name the configuration posts to."""
    digests = config.digests
    candidates = [config.marketing_channel, *(team.channel for team in config.teams), *config.sla.escalation.chain]
    candidates += [getattr(getattr(digests, name, None), "channel", None) for name in ("weekly", "monthly", "quarterly")]
    return {value for value in candidates if value and (value.startswith("#") or CHANNEL_ID.match(value))}


def register(standin: SlackStandin, config: HandoffConfig) -> None:
    for person in [*config.reps, *config.managers]:
        standin.add_user(person.slack_user_id, email=person.email, real_name=person.name)
    for number, channel in enumerate(sorted(configured_channels(config)), start=1):
        if channel.startswith("#"):
            standin.add_channel(f"C0STANDIN{number:02d}", channel[1:])
        else:
            standin.add_channel(channel, channel.lower())


def serve(config: HandoffConfig, port: int, stop: threading.Event | None = None) -> None:
    """Serve on 127.0.0.1:`port` and print what the bot sends until `stop` is set or Ctrl-C."""
    stop = stop or threading.Event()
    standin = SlackStandin(tokens=[TOKEN], port=port)
    register(standin, config)
    standin.start()
    print(f"Slack stand-in listening at {standin.base_url}\n"
          f"Start the bot against it, in another terminal:\n"
          f"  SLACK_API_URL={standin.base_url} SLACK_BOT_TOKEN={TOKEN} SLACK_SIGNING_SECRET=any-secret \\\n"
          f"  HANDOFF_WEBHOOK_SECRET=any-webhook-secret HOST=127.0.0.1 .venv/bin/handoff web\n"
          f"A slash command or action you send yourself can name {standin.root_url}response/any-name "
          f"as its response_url.\n"
          f"Messages the bot sends appear below. Ctrl-C stops.", flush=True)
    seen = 0
    try:
        while not stop.is_set():
            calls = standin.calls()
            for call in calls[seen:]:
                label = SHOWN_METHODS.get(call.method)
                if label is None:
                    continue
                params = call.params
                if call.method == RESPONSE_URL_METHOD:
                    where = f"response/{params.get('response_token', '?')}"
                else:
                    where = params.get("user_id") or params.get("user") or params.get("channel", "?")
                if not call.response.get("ok"):
                    print(f"\n▶ {where}: {call.method} failed: {call.response.get('error', '?')}", flush=True)
                    continue
                content = params.get("view") if call.method == "views.publish" else params
                text = render_text({"text": content.get("text", ""), "blocks": content.get("blocks") or []})
                print(f"\n▶ {where}: {label}\n  " + text.replace("\n", "\n  "), flush=True)
            seen = len(calls)
            stop.wait(0.3)
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()
