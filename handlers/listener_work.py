"""A thread pool of its own for the work that listeners do besides ack().

Bolt runs each listener in its listener executor and holds the HTTP response until the listener
calls ack(). When a burst of clicks fills that executor with decisions, the ack() of the next
click waits in its queue, and Slack waits for the response. Listeners therefore hand their work
to this pool and ack(), so that Bolt's executor only ever runs short functions.

NOTE: work waiting here is in memory only, as it was in Bolt's executor. A process that dies
before a decision commits loses that click, and the rep clicks again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

log = logging.getLogger(__name__)


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
