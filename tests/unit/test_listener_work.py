"""ListenerWork: work runs after the response, and queued work waits while requests are in flight."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

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


def test_work_runs_in_closing_thread_after_response() -> None:
    work = ListenerWork(1, yield_max_seconds=5.0)
    ran_in: list[str] = []
    with work.request_in_flight() as after_response:
        work.submit("probe", lambda: ran_in.append(threading.current_thread().name))
    body = after_response.wrap([b"{}"])

    assert ran_in == [], "the work ran before the response body was closed"
    assert b"".join(body) == b"{}"
    closer = threading.Thread(target=body.close, name="server-thread")  # type: ignore[attr-defined]
    closer.start()
    closer.join(5)
    assert ran_in == ["server-thread"]
    assert work.wait_idle(1)
    work.shutdown()


def test_body_without_work_is_unchanged() -> None:
    work = ListenerWork(1)
    body = [b"{}"]
    with work.request_in_flight() as after_response:
        pass

    assert after_response.wrap(body) is body
    work.shutdown()


def test_work_goes_to_pool_while_other_work_runs() -> None:
    work = ListenerWork(1, yield_max_seconds=5.0)
    release = threading.Event()
    busy = work.submit("busy", release.wait, 5)
    ran_in: list[str] = []
    with work.request_in_flight() as after_response:
        queued = work.submit("probe", lambda: ran_in.append(threading.current_thread().name))
    body = after_response.wrap([b"{}"])
    body.close()  # type: ignore[attr-defined]

    assert ran_in == [], "close() ran the work although other work was busy"
    assert not work.wait_idle(0.1)
    release.set()
    busy.result(timeout=5)
    queued.result(timeout=5)
    assert ran_in[0].startswith("handoff-work")
    work.shutdown()


def test_wait_idle_covers_work_until_close() -> None:
    work = ListenerWork(1)
    with work.request_in_flight() as after_response:
        work.submit("probe", lambda: None)
    body = after_response.wrap([b"{}"])

    assert not work.wait_idle(0.1), "wait_idle returned before the response's work had run"
    body.close()  # type: ignore[attr-defined]
    assert work.wait_idle(1)
    work.shutdown()


def test_failed_request_queues_its_work() -> None:
    work = ListenerWork(1)
    started = threading.Event()
    try:
        with work.request_in_flight():
            work.submit("probe", started.set)
            raise RuntimeError("the response could not be built")
    except RuntimeError:
        pass

    assert started.wait(5), "the work of a failed request was lost"
    work.shutdown()


def test_failing_work_is_logged_not_raised(caplog: Any) -> None:
    work = ListenerWork(1)

    def fail() -> None:
        raise ValueError("lead data that must not be logged")

    with work.request_in_flight() as after_response:
        future = work.submit("probe", fail)
    after_response.wrap([b"{}"]).close()  # type: ignore[attr-defined]

    assert isinstance(future.exception(timeout=5), ValueError)
    assert "listener.work_failed work=probe error=ValueError" in caplog.text
    assert "lead data" not in caplog.text
    work.shutdown()


def test_change_before_ack_requires_ack() -> None:
    work = ListenerWork(threads=1)
    try:
        def on_click(body: dict[str, Any]) -> None:
            return None

        with pytest.raises(TypeError, match="on_click must take ack"):
            work.change_before_ack("click")(on_click)
    finally:
        work.shutdown()


def test_change_before_ack_order() -> None:
    work = ListenerWork(threads=1)
    events: list[str] = []
    try:
        @work.change_before_ack("click")
        def on_click(ack: Any, body: dict[str, Any]) -> Any:
            ack()  # does nothing: the decorator acks after the change
            events.append("change")
            return lambda: events.append("reply")

        on_click(ack=lambda: events.append("ack"), body={})
        assert work.wait_idle(5)
    finally:
        work.shutdown()
    assert events == ["change", "ack", "reply"]
