"""A thread pool of its own for the work that listeners do besides ack().

The Bolt app runs with process_before_response, so each listener runs in the HTTP request
thread and Slack gets its response when the listener returns. Listeners hand their work to this
pool and return, so the response to a click waits for neither the decision nor a call to Slack.
A burst of clicks waits here instead, and the queued work waits while requests are in flight
(`request_in_flight`), for at most `YIELD_MAX_SECONDS`, so that the work of earlier clicks does not
slow the responses to later ones. Modal submissions are the exception: they decide before
they respond, because the response carries the field errors. Without process_before_response,
Bolt keeps the response until ack() and checks for it every 10 ms, and a burst of listeners
fills its five listener threads, so the next click's ack() waits in their queue.

NOTE: work waiting here is in memory only. A process that dies before a decision commits loses
that click, and the rep clicks again.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

log = logging.getLogger(__name__)

Listener = TypeVar("Listener", bound=Callable[..., Any])

# How long queued work waits for the requests in flight to get their responses before it runs anyway.
# Slack needs a response within 3 s; the card update of a click may come this much later.
YIELD_MAX_SECONDS = 0.1


class ListenerWork:
    """Run listener work on a bounded pool apart from Bolt's, and let tests and shutdown wait for it."""

    def __init__(self, threads: int, *, yield_max_seconds: float = YIELD_MAX_SECONDS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="handoff-work")
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._yield_max_seconds = yield_max_seconds
        self._requests = 0
        self._quiet = threading.Condition()

    @contextmanager
    def request_in_flight(self) -> Iterator[None]:
        """Mark an HTTP request as in flight, so that queued work waits until it has its response."""
        with self._quiet:
            self._requests += 1
        try:
            yield
        finally:
            with self._quiet:
                self._requests -= 1
                if self._requests == 0:
                    self._quiet.notify_all()

    def submit(self, name: str, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue `work(*args, **kwargs)`; an exception it raises is logged under `name`, without its arguments."""
        future = self._pool.submit(self._run_when_quiet, work, *args, **kwargs)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(lambda done: self._finished(name, done))
        return future

    def after_ack(self, name: str) -> Callable[[Listener], Listener]:
        """Decorate a Bolt listener so that it acks at once and its body runs on this pool.

        The body gets an `ack` that does nothing, because the response has gone by the time it
        runs. Bolt reads the body's parameter names through functools.wraps and passes them
        as keyword arguments, so the body keeps asking for what it needs (body, action, client ...).
        A listener whose ack depends on its work, such as a modal submission that can return
        field errors, must not use this.
        """

        def decorate(listener: Listener) -> Listener:
            @functools.wraps(listener)
            def run(**kwargs: Any) -> None:
                ack = kwargs.get("ack")
                if ack is not None:
                    kwargs["ack"] = _acked_already
                # Queued before the ack, so that the work is in the pool by the time Slack has its response.
                self.submit(name, listener, **kwargs)
                if ack is not None:
                    ack()

            return run  # type: ignore[return-value]

        return decorate

    def _run_when_quiet(self, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `work` once no request is in flight, or after `yield_max_seconds` at most.

        The decisions and their database work take the CPU that the responses need. In the
        `concurrent_clicks` benchmark on a 2-core host, the p99 response to a burst of 50 clicks
        on PostgreSQL fell from 108-171 ms to 78-84 ms with this wait (benchmarks/RESULTS.md).
        """
        deadline = time.monotonic() + self._yield_max_seconds
        with self._quiet:
            while self._requests > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._quiet.wait(remaining)
        return work(*args, **kwargs)

    def _finished(self, name: str, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
        error = future.exception()
        if error is not None:
            # The arguments and the message can hold lead data, so only the type is logged.
            log.error("listener.work_failed work=%s error=%s", name, type(error).__name__)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until the work queued so far has finished; return False if some is still running after `timeout`."""
        with self._lock:
            pending = list(self._pending)
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)


def _acked_already(*_args: Any, **_kwargs: Any) -> None:
    """Stand in for Bolt's ack() in work that runs after the listener has acked."""
