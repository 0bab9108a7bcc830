"""Accept click in process: the real WSGI router and Bolt app against a bare Bolt app.

Both send the HTTP response before the decision is done: the floor's Bolt runs its
listener in Bolt's thread pool, and the app's listener leaves the decision to its listener work,
which runs it in the request thread once the response has been sent (the WSGI body's close(),
called as gunicorn calls it). So each click is timed from the WSGI call until the
resulting chat.update request had reached the stand-in, for the real app and for the floor
alike. The time the stand-in then takes to parse and check the blocks is left out, because
that work is Slack's. It takes longer for the app's full card than for the floor's one section.

The floor is a bare `slack_bolt.App` with the same signing secret whose
listener acks, runs one transaction (one UPDATE of a one-row table) and calls
chat.update. It runs on the same kind of database, opened through the bot's
own `storage.db.Database`, and against a `SlackStandin` of its own that contains
as many messages as the real app's, so both wait on call lists of equal length.

The clicks on the floor and on the app take turns, one every CLICK_INTERVAL_SECONDS, and each
click starts once the work of the one before it has ended. On the 2-core test machine the
same code ran several times slower after 10 ms without work than in a tight loop, and the
load of the machine changed from minute to minute. Taking turns gives the floor and the app
the same pauses and the same minutes. The app's clock moves on by CLOCK_STEP between
clicks, as a real clock would, so every click computes its SLA schedules anew.
"""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
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
from bot.clock import FixedClock
from bot.runtime import freeze_startup_objects
from bot.slack_http import PooledWebClient
from bot.slack_standin import SlackStandin
from handlers.app import build_app, slack_client
from handlers.web import WebApp
from storage.db import Database

NAME = "accept_click"
# One click every 25 ms, alternating between floor and app, so that both pause alike between clicks.
CLICK_INTERVAL_SECONDS = 0.025
# How far the app's clock moves between its clicks. All 530 clicks stay within working hours.
CLOCK_STEP = timedelta(seconds=7)
WAIT_TIMEOUT_SECONDS = 5.0

# Send one signed request; return its HTTP status and the time.time() at which its response was complete.
Dispatch = Callable[[str, dict[str, str]], tuple[int, float]]


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
    if not profiler.getstats():
        # pstats cannot read an empty profile, e.g. of the pool when every click's work ran after its response.
        print(f"\n---- cProfile: {label}: nothing ran here ----")
        return
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(top)
    print(f"\n---- cProfile: {label} (top {top} by cumulative time) ----")
    print(buffer.getvalue())


@dataclass
class _Subject:
    """The floor or the app: how to click, what the clicks should reach, and what was measured."""

    dispatch: Dispatch
    standin: SlackStandin
    cards: list[Card]
    # Returns once the work of the last click has ended (the app's outbox has marked its item sent).
    settle: Callable[[], None]
    statements: _StatementCounter
    after_click: Callable[[], None] = lambda: None
    acks: list[float] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)

    def result(self, clicks: int) -> dict[str, Any]:
        return {"p50": median(self.totals), "p99": percentile(self.totals, 0.99), "max": max(self.totals),
                "ack_p50": median(self.acks), "ack_p99": percentile(self.acks, 0.99), "samples": len(self.totals),
                "statements_per_click": self.statements.count / clicks}


def _click(subject: _Subject, card: Card, expected_updates: int) -> tuple[float, float]:
    """Send one signed Accept; return the seconds until the ack and until chat.update reached the stand-in."""
    body = accept_body(card)
    headers = signed(body)
    # The stand-in stamps each request's arrival with time.time(), so the click is timed on that clock too.
    started = time.time()
    status, acked = subject.dispatch(body, headers)
    update = subject.standin.wait_for("chat.update", lambda call: call.params.get("ts") == card.ts,
                                      timeout=WAIT_TIMEOUT_SECONDS)
    if status != 200:
        raise RuntimeError(f"the click on lead {card.lead_id} returned HTTP {status}")
    if len(subject.standin.calls("chat.update")) != expected_updates:
        raise RuntimeError(f"expected {expected_updates} chat.update calls after the click on lead {card.lead_id}")
    return acked - started, update.received_at - started


def _measure(subjects: list[_Subject], warmup: int) -> None:
    """Click the cards of every subject in turn, each round starting with the next subject."""
    # The bot's processes freeze their start-up objects once the app is built. The floor's set-up is frozen alike.
    freeze_startup_objects()
    try:
        next_start = time.monotonic()
        for index in range(len(subjects[0].cards)):
            shift = index % len(subjects)
            for subject in subjects[shift:] + subjects[:shift]:
                ack, total = _click(subject, subject.cards[index], index + 1)
                if index >= warmup:
                    subject.acks.append(ack)
                    subject.totals.append(total)
                subject.settle()
                subject.after_click()
                next_start += CLICK_INTERVAL_SECONDS
                time.sleep(max(0.0, next_start - time.monotonic()))
    finally:
        gc.unfreeze()


def _real_app(stack: ExitStack, kind: str, options: Options, count: int) -> tuple[_Subject, Callable[[], None]]:
    """Set up the app with `count` delivered cards, and return it with the check to run after the clicks."""
    url = stack.enter_context(scratch_database(kind, options, name="click"))
    standin = stack.enter_context(SlackStandin())
    add_example_users(standin)
    rt = make_runtime(url, slack_api_url=standin.base_url)
    stack.callback(rt.db.dispose)
    # As in `handoff web`: on SQLite, WAL checkpoints run on a thread of their own.
    rt.db.checkpoint_in_background()
    lead_ids = add_leads(rt, count)
    cards = deliver_cards(rt, standin.base_url, lead_ids)
    # The web process's own Web API client, which keeps its connection to Slack open between calls.
    bolt, sender = build_app(rt, slack_client(rt))
    web = WebApp(rt, bolt, sender)
    listener_profile: _ProfilingExecutor | None = None
    request_profile: cProfile.Profile | None = None
    if options.profile:
        # The listeners hand their work to the app's listener work pool, a private attribute
        # that only the profile run replaces.
        listener_profile = _ProfilingExecutor()
        bolt.listener_work._pool = listener_profile
        request_profile = cProfile.Profile()

    def dispatch(body: str, headers: dict[str, str]) -> tuple[int, float]:
        responded: list[float] = []

        def stamp() -> None:
            responded.append(time.time())

        if request_profile is not None:
            status = request_profile.runcall(wsgi_post, web, "/slack/events", body.encode(), headers, stamp)[0]
        else:
            status = wsgi_post(web, "/slack/events", body.encode(), headers, stamp)[0]
        return status, responded[0]

    assert isinstance(rt.clock, FixedClock)
    clock = rt.clock
    subject = _Subject(dispatch, standin, cards, settle=lambda: bolt.listener_work.wait_idle(WAIT_TIMEOUT_SECONDS),
                       statements=_StatementCounter(rt.db.engine), after_click=lambda: clock.advance(CLOCK_STEP))

    def check() -> None:
        if request_profile is not None:
            _print_profile(f"accept click, {kind}, request thread (signature check, parse, ack, then the work "
                           "that runs after the response)", request_profile)
        if listener_profile is not None:
            _print_profile(f"accept click, {kind}, listener work pool (work queued while other work ran)",
                           listener_profile.profiler)
        stages = count_stages(rt, lead_ids)
        outbox = count_outbox(rt, lead_ids)
        if stages != {"sal": count} or set(outbox) != {"sent"}:
            raise RuntimeError(f"after the clicks: stages {stages}, outbox {outbox}; "
                               "expected every lead in sal and every item sent")

    return subject, check


def _floor_app(stack: ExitStack, kind: str, options: Options, count: int, *,
               pooled: bool = False) -> tuple[_Subject, Callable[[], None]]:
    """Set up the bare Bolt app with `count` posted messages, and return it with the check to run after the clicks.

    With `pooled`, the floor sends chat.update through the app's client, which keeps its connection
    open, instead of slack_sdk's WebClient, which opens one per call.
    """
    url = stack.enter_context(scratch_database(kind, options, name="floor_pooled" if pooled else "floor"))
    standin = stack.enter_context(SlackStandin())
    add_example_users(standin)
    db = Database(url)
    stack.callback(db.dispose)
    db.checkpoint_in_background()
    with db.transaction() as session:
        session.execute(text("CREATE TABLE bench_counter (id INTEGER PRIMARY KEY, clicks INTEGER NOT NULL)"))
        session.execute(text("INSERT INTO bench_counter (id, clicks) VALUES (1, 0)"))
    client_class = PooledWebClient if pooled else WebClient
    client = client_class(token=BOT_TOKEN, base_url=standin.base_url)
    cards = []
    for number in range(1, count + 1):
        posted = client.chat_postMessage(channel=SANNE, text=f"Lead {number}")
        cards.append(Card(lead_id=number, channel=posted["channel"], ts=posted["ts"], version=2))

    app = App(signing_secret=SIGNING_SECRET, client=client, token_verification_enabled=False)
    finished = threading.Semaphore(0)

    @app.action("lead_accept")
    def on_accept(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        with db.transaction() as session:
            session.execute(text("UPDATE bench_counter SET clicks = clicks + 1 WHERE id = 1"))
        container = body["container"]
        # Bolt passes a WebClient that it builds per request. The pooled floor uses its own client, as
        # the bot's listeners do (handlers.app.UseProcessClient).
        (app.client if pooled else client).chat_update(channel=container["channel_id"], ts=container["message_ts"], text="Accepted",
                                                       blocks=[{"type": "section", "text": {"type": "mrkdwn",
                                                                                            "text": "*Accepted*"}}])
        finished.release()

    def dispatch(body: str, headers: dict[str, str]) -> tuple[int, float]:
        request = BoltRequest(body=body, headers={name: [value] for name, value in headers.items()})
        status = app.dispatch(request).status
        return status, time.time()

    def settle() -> None:
        if not finished.acquire(timeout=WAIT_TIMEOUT_SECONDS):
            raise RuntimeError("the floor's listener did not finish")

    subject = _Subject(dispatch, standin, cards, settle=settle, statements=_StatementCounter(db.engine))

    def check() -> None:
        with db.transaction() as session:
            clicks = session.execute(text("SELECT clicks FROM bench_counter WHERE id = 1")).scalar()
        if clicks != count:
            raise RuntimeError(f"the floor listener counted {clicks} clicks; expected {count}")

    return subject, check


def run(options: Options) -> list[Row]:
    clicks, warmup = (150, 20) if options.quick else (500, 30)
    count = clicks + warmup
    rows: list[Row] = []
    for kind in options.databases:
        try:
            with ExitStack() as stack:
                print(f"  accept_click: {kind}, setting up the floors and the app ...", flush=True)
                floor_subject, floor_check = _floor_app(stack, kind, options, count)
                pooled_subject, pooled_check = _floor_app(stack, kind, options, count, pooled=True)
                app_subject, app_check = _real_app(stack, kind, options, count)
                print(f"  accept_click: {kind}, {count} clicks on each, in turn ...", flush=True)
                _measure([floor_subject, app_subject, pooled_subject], warmup)
                time.sleep(0.2)
                floor_check()
                pooled_check()
                app_check()
                floor, pooled, real = floor_subject.result(count), pooled_subject.result(count), app_subject.result(count)
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
                notes=(f"{real['samples']} clicks on each after {warmup} unmeasured, in turn, one every "
                       f"{CLICK_INTERVAL_SECONDS * 1000:.0f} ms; ack alone: app p50 {ms(real['ack_p50'])}, "
                       f"floor p50 {ms(floor['ack_p50'])}") if label == "p50" else
                      (f"max: app {ms(real['max'])}, floor {ms(floor['max'])}; SQL statements per click, "
                       f"those after chat.update included: app {real['statements_per_click']:.0f}, "
                       f"floor {floor['statements_per_click']:.0f}"),
                data={"app": real, "floor": floor},
            ))
        # The same clicks against a floor whose chat.update also goes out on a kept-open connection, as
        # the app's does: what the app costs beyond the floor apart from its Slack transport. No target.
        rows.append(Row(
            NAME, "click to chat.update, p50, floor with kept-open connection", kind, ms(real["p50"]),
            floor=ms(pooled["p50"]), ratio=real["p50"] / pooled["p50"],
            notes=(f"the bare Bolt app sending through PooledWebClient; its p99 {ms(pooled['p99'])}, "
                   f"ratio of the p99s {real['p99'] / pooled['p99']:.2f}"),
            data={"app": real, "floor": pooled},
        ))
    return rows
