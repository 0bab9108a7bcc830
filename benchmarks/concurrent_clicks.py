"""50 reps clicking at once: signed Accept requests over HTTP to `handoff web` (gunicorn).

Each round starts 50 threads behind a barrier; each sends one signed Accept on a
lead of its own and times the HTTP response. The round then waits, bounded,
until the stand-in recorded the chat.update of every lead. An error is a
non-200 response, a failed or timed-out request, a chat.update that never
arrived, or afterwards a lead not in `sal` or an outbox item not sent.
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import (
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
from benchmarks.processes import HOST, bot_environment, bot_processes, free_port, tree_cpu_seconds
from benchmarks.slack_drive import (
    Card,
    accept_body,
    add_leads,
    count_outbox,
    count_stages,
    deliver_cards,
    signed,
)
from bot.slack_standin import SlackStandin

NAME = "concurrent_clicks"
THREADS = 50
REQUEST_TIMEOUT_SECONDS = 10.0
UPDATE_TIMEOUT_SECONDS = 20.0
WARMUP_CLICKS = 10


@dataclass
class BurstResult:
    """Timings and errors of one or more rounds of simultaneous clicks."""

    response_s: list[float] = field(default_factory=list)
    update_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    web_cpu_s: float = 0.0  # CPU time of the gunicorn master and workers during the measured rounds


def post_click(port: int, card: Card) -> tuple[int, float, float]:
    """Send one signed Accept to the server; return the status, the wall-clock start and the seconds taken."""
    body = accept_body(card)
    headers = signed(body)
    started_wall = time.time()
    started = time.perf_counter()
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        connection.request("POST", "/slack/events", body=body.encode(), headers=headers)
        response = connection.getresponse()
        response.read()
        status = response.status
    finally:
        connection.close()
    return status, started_wall, time.perf_counter() - started


def click_burst(port: int, standin: SlackStandin, cards: list[Card], result: BurstResult) -> None:
    """Click every card at once, one thread each, and add the timings and errors to `result`."""
    barrier = threading.Barrier(len(cards))
    outcomes: dict[int, tuple[int, float, float] | str] = {}

    def click(card: Card) -> None:
        try:
            barrier.wait(timeout=REQUEST_TIMEOUT_SECONDS)
            outcomes[card.lead_id] = post_click(port, card)
        except Exception as error:  # noqa: BLE001 - every failure counts as an error of this click
            outcomes[card.lead_id] = f"lead {card.lead_id}: {type(error).__name__}: {error}"

    threads = [threading.Thread(target=click, args=(card,), name=f"click-{card.lead_id}") for card in cards]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT_SECONDS * 2)

    deadline = time.monotonic() + UPDATE_TIMEOUT_SECONDS
    for card in cards:
        outcome = outcomes.get(card.lead_id, f"lead {card.lead_id}: no answer")
        if isinstance(outcome, str):
            result.errors.append(outcome)
            continue
        status, started_wall, seconds = outcome
        result.response_s.append(seconds)
        if status != 200:
            result.errors.append(f"lead {card.lead_id}: HTTP {status}")
            continue
        try:
            update = standin.wait_for("chat.update", lambda call, ts=card.ts: call.params.get("ts") == ts,
                                      timeout=max(0.01, deadline - time.monotonic()))
        except AssertionError:
            result.errors.append(f"lead {card.lead_id}: no chat.update within {UPDATE_TIMEOUT_SECONDS:.0f} s")
            continue
        result.update_s.append(update.received_at - started_wall)


def check_after(rt: Any, lead_ids: list[int], result: BurstResult) -> None:
    """Count as errors leads that did not move to sal and outbox items that were not sent."""
    deadline = time.monotonic() + UPDATE_TIMEOUT_SECONDS
    while True:
        stages = count_stages(rt, lead_ids)
        outbox = count_outbox(rt, lead_ids)
        if (stages == {"sal": len(lead_ids)} and set(outbox) == {"sent"}) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if stages != {"sal": len(lead_ids)}:
        result.errors.append(f"lead stages after the clicks: {stages}")
    if set(outbox) != {"sent"}:
        result.errors.append(f"outbox after the clicks: {outbox}")


def _measure(kind: str, options: Options, rounds: int) -> BurstResult:
    result = BurstResult()
    with scratch_database(kind, options, name="http") as url, SlackStandin() as standin:
        add_example_users(standin)
        rt = make_runtime(url, slack_api_url=standin.base_url)
        lead_ids = add_leads(rt, WARMUP_CLICKS + rounds * THREADS)
        cards = deliver_cards(rt, standin.base_url, lead_ids)
        port = free_port()
        env = bot_environment(database_url=url, slack_api_url=standin.base_url, port=port)
        with bot_processes(env, options.workdir, clock=False) as started:
            web_pid = started["web"].process.pid
            warmup = BurstResult()
            for card in cards[:WARMUP_CLICKS]:
                click_burst(port, standin, [card], warmup)
            if warmup.errors:
                raise RuntimeError(f"warm-up clicks failed: {warmup.errors[:3]}")
            cpu_before = tree_cpu_seconds(web_pid)
            for number in range(rounds):
                first = WARMUP_CLICKS + number * THREADS
                click_burst(port, standin, cards[first:first + THREADS], result)
            result.web_cpu_s = tree_cpu_seconds(web_pid) - cpu_before
            check_after(rt, lead_ids, result)
        rt.db.dispose()
    return result


def run(options: Options) -> list[Row]:
    rounds = 2 if options.quick else 6
    rows: list[Row] = []
    for kind in options.databases:
        try:
            print(f"  concurrent_clicks: {kind}, {rounds} rounds of {THREADS} ...", flush=True)
            result = _measure(kind, options, rounds)
        except Skipped as reason:
            rows.append(Row(NAME, f"{THREADS} at once", kind, "skipped", notes=str(reason)))
            continue
        p99 = percentile(result.response_s, 0.99)
        errors = len(result.errors)
        rows.append(Row(
            NAME, f"{THREADS} at once, HTTP response p99", kind, ms(p99),
            target="p99 < 100 ms, no errors", met=p99 < 0.100 and errors == 0,
            notes=(f"{rounds} rounds, {len(result.response_s)} clicks, {errors} errors; response p50 "
                   f"{ms(median(result.response_s))}; click to chat.update p50 {ms(median(result.update_s))}, "
                   f"p99 {ms(percentile(result.update_s, 0.99))}; CPU time of the web processes per click "
                   f"{ms(result.web_cpu_s / max(1, len(result.response_s)))}"
                   + (f"; first errors: {'; '.join(result.errors[:3])}" if errors else "")),
            data={"response_s": result.response_s, "update_s": result.update_s, "errors": result.errors},
        ))
    return rows
