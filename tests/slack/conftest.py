"""The real Bolt app behind the real WSGI router, talking to the local Slack stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.runtime import Runtime
from bot.slack_standin import SlackStandin
from harness import Harness

@pytest.fixture
def slack() -> Iterator[SlackStandin]:
    with SlackStandin() as standin:
        for user_id, email in (("U0SANNEDV1", "sanne.devries@handoff-demo.nl"), ("U0DAANBKR1", "daan.bakker@handoff-demo.nl"),
                               ("U0EVAVSR01", "eva.visser@handoff-demo.nl"), ("U0PIETERJ1", "pieter.janssens@handoff-demo.be")):
            standin.add_user(user_id, email=email, real_name=email.split("@")[0])
        standin.add_channel("C0SALES001", "sales")
        yield standin


@pytest.fixture
def harness(runtime: Runtime, slack: SlackStandin) -> Iterator[Harness]:
    runtime.settings.slack_api_url = slack.base_url
    harness = Harness(runtime, slack)
    yield harness
    # Work still queued on the listener pool would otherwise run in the next test, against its
    # database (the PostgreSQL schema is shared) but with this test's stand-in, which is gone.
    harness.web.bolt.listener_work.wait_idle(10)
