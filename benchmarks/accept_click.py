"""Accept click in process: the real WSGI router and Bolt app against a bare Bolt app.

Both send the HTTP response before the decision is done: the floor's Bolt runs its
listener in Bolt's thread pool, the app's listener queues the decision on its
listener work pool. So each click is timed from the WSGI call until the
resulting chat.update request had reached the stand-in, for the real app and for the floor
alike. The time the stand-in then takes to parse and check the blocks is left out, because
that work is Slack's. It takes longer for the app's full card than for the floor's one section.

The floor is a bare `slack_bolt.App` with the same signing secret whose
listener acks, runs one transaction (one UPDATE of a one-row table) and calls
chat.update. It runs on the same kind of database, opened through the bot's
own `storage.db.Database`, and against a `SlackStandin` of its own that contains
as many messages as the real app's, so both wait on call lists of equal length.
"""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from benchmarks.common import (
    BOT_TOKEN,
    SANNE,
    SIGNING_SECRET,
    Options,
    Row,
    Skipped,
    add_example_users,
    make_runtime,
    median,
    ms,
    percentile,
    scratch_database,
)
from benchmarks.slack_drive import (
    Card,
    accept_body,
    add_leads,
    count_outbox,
    count_stages,
    deliver_cards,
    signed,
    wsgi_post,
)
from bot.runtime import freeze_startup_objects
from bot.slack_standin import SlackStandin
from handlers.app import build_app
from handlers.web import WebApp
from storage.db import Database

NAME = "accept_click"
# Pause after each click, unmeasured, so that the listener's work after chat.update
# (the outbox marks the item sent) ends before the next click starts.
SETTLE_SECONDS = 0.01
WAIT_TIMEOUT_SECONDS = 5.0

Dispatch = Callable[[str, dict[str, str]], int]


class _ProfilingExecutor(ThreadPoolExecutor):
    """A one-thread pool that runs every listener under one cProfile profiler, for --profile."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.profiler = cProfile.Profile()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        return super().submit(self.profiler.runcall, fn, *args, **kwargs)


class _StatementCounter:
    """Count the SQL statements an engine sends, BEGIN IMMEDIATE on SQLite included."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


def _print_profile(label: str, profiler: cProfile.Profile, top: int = 30) -> None:
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(top)
    print(f"\n---- cProfile: {label} (top {top} by cumulative time) ----")
    print(buffer.getvalue())


def _click(dispatch: Dispatch, standin: SlackStandin, card: Card, expected_updates: int) -> tuple[float, float]:
    """Send one signed Accept; return the seconds until the ack and until chat.update reached the stand-in."""
    body = accept_body(card)
    headers = signed(body)
    # The stand-in stamps each request's arrival with time.time(), so the click is timed on that clock too.
    started = time.time()
    status = dispatch(body, headers)
    acked = time.time()
    update = standin.wait_for("chat.update", lambda call: call.params.get("ts") == card.ts, timeout=WAIT_TIMEOUT_SECONDS)
    if status != 200:
        raise RuntimeError(f"the click on lead {card.lead_id} returned HTTP {status}")
    if len(standin.calls("chat.update")) != expected_updates:
        raise RuntimeError(f"expected {expected_updates} chat.update calls after the click on lead {card.lead_id}")
    return acked - started, update.received_at - started


def _measure(dispatch: Dispatch, standin: SlackStandin, cards: list[Card], warmup: int) -> dict[str, Any]:
    acks: list[float] = []
    totals: list[float] = []
    # The bot's processes freeze their start-up objects once the app is built. The floor and the
    # app are measured alike, each after the objects of its own set-up are frozen.
    freeze_startup_objects()
    try:
        for index, card in enumerate(cards):
            ack, total = _click(dispatch, standin, card, index + 1)
            if index >= warmup:
                acks.append(ack)
                totals.append(total)
            time.sleep(SETTLE_SECONDS)
    finally:
        gc.unfreeze()
    return {"p50": median(totals), "p99": percentile(totals, 0.99), "max": max(totals),
            "ack_p50": median(acks), "ack_p99": percentile(acks, 0.99), "samples": len(totals)}


def _real_app(kind: str, options: Options, count: int, warmup: int) -> dict[str, Any]:
    with scratch_database(kind, options, name="click") as url, SlackStandin() as standin:
        add_example_users(standin)
        rt = make_runtime(url, slack_api_url=standin.base_url)
        # As in `handoff web`: on SQLite, WAL checkpoints run on a thread of their own.
        rt.db.checkpoint_in_background()
        lead_ids = add_leads(rt, count)
        cards = deliver_cards(rt, standin.base_url, lead_ids)
        bolt, sender = build_app(rt, WebClient(token=BOT_TOKEN, base_url=standin.base_url))
        web = WebApp(rt, bolt, sender)
        listener_profile: _ProfilingExecutor | None = None
        if options.profile:
            # Bolt keeps its listener pool in a private attribute; only the profile run replaces it.
            listener_profile = _ProfilingExecutor()
            bolt._listener_runner.listener_executor = listener_profile

        def dispatch(body: str, headers: dict[str, str]) -> int:
            return wsgi_post(web, "/slack/events", body.encode(), headers)[0]

        statements = _StatementCounter(rt.db.engine)
        request_profile = cProfile.Profile() if options.profile else None
        if request_profile is not None:
            request_profile.enable()
        result = _measure(dispatch, standin, cards, warmup)
        if request_profile is not None:
            request_profile.disable()
            _print_profile(f"accept click, {kind}, request thread (signature check, parse, ack)", request_profile)
        if listener_profile is not None:
            _print_profile(f"accept click, {kind}, listener thread (decide, outbox, chat.update)", listener_profile.profiler)
        time.sleep(0.2)
        result["statements_per_click"] = statements.count / count
        stages = count_stages(rt, lead_ids)
        outbox = count_outbox(rt, lead_ids)
        rt.db.dispose()
    if stages != {"sal": count} or set(outbox) != {"sent"}:
        raise RuntimeError(f"after the clicks: stages {stages}, outbox {outbox}; expected every lead in sal, every item sent")
    return result


def _floor_app(kind: str, options: Options, count: int, warmup: int) -> dict[str, Any]:
    with scratch_database(kind, options, name="floor") as url, SlackStandin() as standin:
        add_example_users(standin)
        db = Database(url)
        db.checkpoint_in_background()
        with db.transaction() as session:
            session.execute(text("CREATE TABLE bench_counter (id INTEGER PRIMARY KEY, clicks INTEGER NOT NULL)"))
            session.execute(text("INSERT INTO bench_counter (id, clicks) VALUES (1, 0)"))
        client = WebClient(token=BOT_TOKEN, base_url=standin.base_url)
        cards = []
        for number in range(1, count + 1):
            posted = client.chat_postMessage(channel=SANNE, text=f"Lead {number}")
            cards.append(Card(lead_id=number, channel=posted["channel"], ts=posted["ts"], version=2))

        app = App(signing_secret=SIGNING_SECRET, client=client, token_verification_enabled=False)

        @app.action("lead_accept")
        def on_accept(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
            ack()
            with db.transaction() as session:
                session.execute(text("UPDATE bench_counter SET clicks = clicks + 1 WHERE id = 1"))
            container = body["container"]
            client.chat_update(channel=container["channel_id"], ts=container["message_ts"], text="Accepted",
                               blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*Accepted*"}}])

        def dispatch(body: str, headers: dict[str, str]) -> int:
            request = BoltRequest(body=body, headers={name: [value] for name, value in headers.items()})
            return app.dispatch(request).status

        statements = _StatementCounter(db.engine)
        result = _measure(dispatch, standin, cards, warmup)
        time.sleep(0.2)
        result["statements_per_click"] = statements.count / count
        with db.transaction() as session:
            clicks = session.execute(text("SELECT clicks FROM bench_counter WHERE id = 1")).scalar()
        db.dispose()
    if clicks != count:
        raise RuntimeError(f"the floor listener counted {clicks} clicks; expected {count}")
    return result


def run(options: Options) -> list[Row]:
    clicks, warmup = (150, 20) if options.quick else (500, 30)
    rows: list[Row] = []
    for kind in options.databases:
        try:
            print(f"  accept_click: {kind}, floor ...", flush=True)
            floor = _floor_app(kind, options, clicks + warmup, warmup)
            print(f"  accept_click: {kind}, real app ...", flush=True)
            real = _real_app(kind, options, clicks + warmup, warmup)
        except Skipped as reason:
            rows.append(Row(NAME, "signed Accept", kind, "skipped", notes=str(reason)))
            continue
        for label, fraction in (("p50", "p50"), ("p99", "p99")):
            ratio = real[fraction] / floor[fraction]
            target = "ratio <= 2" if label == "p50" else "ratio <= 2, p99 < 10 ms"
            met = ratio <= 2 and (label == "p50" or real["p99"] < 0.010)
            rows.append(Row(
                NAME, f"click to chat.update, {label}", kind, ms(real[fraction]), floor=ms(floor[fraction]),
                ratio=ratio, target=target, met=met,
                notes=(f"{real['samples']} clicks after {warmup} unmeasured; ack alone: app p50 {ms(real['ack_p50'])}, "
                       f"floor p50 {ms(floor['ack_p50'])}") if label == "p50" else
                      (f"max: app {ms(real['max'])}, floor {ms(floor['max'])}; SQL statements per click: "
                       f"app {real['statements_per_click']:.0f}, floor {floor['statements_per_click']:.0f}"),
                data={"app": real, "floor": floor},
            ))
    return rows
