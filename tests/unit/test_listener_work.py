"""ListenerWork: queued work waits while requests are in flight, for a bounded time."""

from __future__ import annotations

import threading
import time

from handlers.listener_work import ListenerWork


def _hold_request(work: ListenerWork) -> tuple[threading.Event, threading.Thread]:
    """Start a thread that keeps one request in flight until the returned event is set."""
    release = threading.Event()
    in_flight = threading.Event()

    def answer_request() -> None:
        with work.request_in_flight():
            in_flight.set()
            release.wait(5)

    request = threading.Thread(target=answer_request)
    request.start()
    assert in_flight.wait(5)
    return release, request


def test_work_waits_for_request_in_flight() -> None:
    work = ListenerWork(1, yield_max_seconds=5.0)
    started = threading.Event()
    release, request = _hold_request(work)
    future = work.submit("probe", started.set)

    assert not started.wait(0.2), "the work ran while a request was still being answered"

    release.set()
    request.join(5)
    future.result(timeout=5)
    assert started.is_set()
    work.shutdown()


def test_work_runs_after_yield_limit() -> None:
    work = ListenerWork(1, yield_max_seconds=0.1)
    release, request = _hold_request(work)
    queued_at = time.monotonic()
    ran_at = work.submit("probe", time.monotonic).result(timeout=5)

    assert not release.is_set(), "the request was still in flight when the work ran"
    assert ran_at - queued_at >= 0.1
    release.set()
    request.join(5)
    work.shutdown()


def test_work_runs_at_once_without_requests() -> None:
    work = ListenerWork(1, yield_max_seconds=5.0)
    queued_at = time.monotonic()
    ran_at = work.submit("probe", time.monotonic).result(timeout=5)

    assert ran_at - queued_at < 1.0
    work.shutdown()
