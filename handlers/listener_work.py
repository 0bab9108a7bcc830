"""A thread pool of its own for the work that listeners do besides ack().

The Bolt app runs with process_before_response, so each listener runs in the HTTP request
thread and Slack gets its response when the listener returns. Listeners hand their work to this
pool and return, so the response to a click waits for neither the decision nor a call to Slack.
A burst of clicks waits here instead. Modal submissions are the exception: they decide before
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
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

log = logging.getLogger(__name__)

Listener = TypeVar("Listener", bound=Callable[..., Any])


class ListenerWork:
    """Run listener work on a bounded pool apart from Bolt's, and let tests and shutdown wait for it."""

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="handoff-work")
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def submit(self, name: str, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue `work(*args, **kwargs)`; an exception it raises is logged under `name`, without its arguments."""
        future = self._pool.submit(work, *args, **kwargs)
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
