"""A thread pool of its own for the work that listeners do besides ack().

The Bolt app runs with process_before_response, so each listener runs in the HTTP request
thread and Slack gets its response when the listener returns. Listeners hand their work to this
class and return, so the response to a click waits for no call to Slack.

Work queued while the WSGI app handles a request runs after the response has been sent: the
server calls the response's close() then (PEP 3333), and close() runs the work in that same
thread when no other request is in flight and no other work is queued or running. That saves
waking a pool thread, about 0.4 ms of a click on the 2-core test machine (benchmarks/RESULTS.md).
Otherwise the work goes to the pool. A burst of clicks waits there instead, and the queued work
waits while requests are in flight (`request_in_flight`), for at most `YIELD_MAX_SECONDS`, so that
the work of earlier clicks does not slow the responses to later ones. Modal submissions decide
before they respond, because the response carries the field errors. Without
process_before_response, Bolt keeps the response until ack() and checks for it every 10 ms, and a
burst of listeners fills its five listener threads, so the next click's ack() waits in their queue.

Work waiting here is in memory only, so no change to a lead, a clock or a setting may wait here. An Accept
click is decided before the ack, or stored first and decided after it (bot/clicks.py). The other
listeners that change a lead, a clock or a setting commit their change before the ack
(`change_before_ack`), and leave only their Slack calls for after the response.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)

Listener = TypeVar("Listener", bound=Callable[..., Any])
# Sends the user of a failed change a reply, given the listener's arguments and the reference in the log.
FailureReply = Callable[[dict[str, Any], str], None]
# The Slack calls that a `change_before_ack` listener leaves for after the response, or None.
Reply = Callable[[], None] | None

# How long queued work waits for the requests in flight to get their responses before it runs anyway.
# Slack needs a response within 3 s; the card update of a click may come this much later.
YIELD_MAX_SECONDS = 0.1


@dataclass
class _Work:
    """One piece of listener work and the future that reports its end."""

    name: str
    run: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)


class AfterResponse:
    """The work that the listeners of one request queued, to start once its response has been sent."""

    def __init__(self, owner: ListenerWork) -> None:
        self._owner = owner
        self.work: list[_Work] = []

    def wrap(self, body: Iterable[bytes]) -> Iterable[bytes]:
        """Return the WSGI response body, with a close() that starts the work when there is any."""
        if not self.work:
            return body
        return _BodyThenWork(body, self.start)

    def start(self) -> None:
        """Run the work in this thread when nothing else runs or waits, or queue it on the pool."""
        work, self.work = self.work, []
        for item in work:
            self._owner.start(item)


class _BodyThenWork:
    """A WSGI response body whose close() starts the request's listener work."""

    def __init__(self, body: Iterable[bytes], start: Callable[[], None]) -> None:
        self._body = body
        self._start = start

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        self._start()


class ListenerWork:
    """Run listener work after the response or on a bounded pool, and let tests and shutdown wait for it."""

    def __init__(self, threads: int, *, yield_max_seconds: float = YIELD_MAX_SECONDS,
                 failure_reply: FailureReply | None = None) -> None:
        self._failure_reply = failure_reply
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="handoff-work")
        self._pending: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._yield_max_seconds = yield_max_seconds
        self._requests = 0
        # Work queued on the pool or running, in the pool or after a response.
        self._busy = 0
        self._quiet = threading.Condition()
        self._request = threading.local()

    @contextmanager
    def request_in_flight(self) -> Iterator[AfterResponse]:
        """Mark an HTTP request as in flight, and collect the work its listeners queue.

        Queued work waits until the request has its response. The caller passes its response
        body through `AfterResponse.wrap`, so that the collected work starts when the server
        closes the body. If the request fails with an exception, the collected work goes to the
        pool instead, so that it is not lost.
        """
        after = AfterResponse(self)
        outer = getattr(self._request, "after", None)
        self._request.after = after
        with self._quiet:
            self._requests += 1
        try:
            yield after
        except BaseException:
            after.start()
            raise
        finally:
            self._request.after = outer
            with self._quiet:
                self._requests -= 1
                if self._requests == 0:
                    self._quiet.notify_all()

    def quiet(self) -> bool:
        """Return whether no other request is in flight and no work is queued or running.

        A listener may then do its work before it acks without delaying anything else.
        """
        with self._quiet:
            return self._requests <= 1 and self._busy == 0

    def submit(self, name: str, work: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue `work(*args, **kwargs)`, and log an exception it raises under `name`, without its arguments.

        Within `request_in_flight`, the work waits for the request's response. Otherwise it goes to the pool.
        """
        item = _Work(name, functools.partial(work, *args, **kwargs))
        with self._lock:
            self._pending.add(item.future)
        item.future.add_done_callback(lambda done: self._finished(name, done))
        after: AfterResponse | None = getattr(self._request, "after", None)
        if after is not None:
            after.work.append(item)
        else:
            self._queue(item)
        return item.future

    def start(self, item: _Work) -> None:
        """Run `item` in this thread when no request is in flight and no work is busy, or queue it."""
        with self._quiet:
            inline = self._requests == 0 and self._busy == 0
            if inline:
                self._busy += 1
        if inline:
            self._execute(item)
        else:
            self._queue(item)

    def after_ack(self, name: str) -> Callable[[Listener], Listener]:
        """Decorate a Bolt listener so that it acks at once and its body runs after the response.

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
                self.submit(name, listener, **kwargs)
                if ack is not None:
                    ack()

            return run  # type: ignore[return-value]

        return decorate

    def change_before_ack(self, name: str) -> Callable[[Listener], Listener]:
        """Decorate a Bolt listener that changes a lead, a clock or a setting at once, so that the change commits before the ack.

        The body commits its change and returns the work to run after the response, such as its
        Slack calls, or None. Slack then gets its response only once the change is stored, and a
        process that stops after the response loses no click: the outbox items that the change
        wrote go out from the clock process. Only the Slack calls wait in memory, and an
        ephemeral reply lost with its process is transient anyway. The body must take `ack`,
        because Bolt passes only the arguments that the body names. The body's `ack` does
        nothing; the decorator acks after the body returns or raises. An exception is logged
        with its type and a reference only, as for `submit`, because its message can contain
        lead data. After the response, `failure_reply` then tells the user that nothing changed.
        """

        def decorate(listener: Listener) -> Listener:
            if "ack" not in inspect.signature(listener).parameters:
                raise TypeError(f"{listener.__name__} must take ack, so that Bolt passes it to change_before_ack")

            @functools.wraps(listener)
            def run(**kwargs: Any) -> None:
                ack = kwargs["ack"]
                kwargs["ack"] = _acked_already
                after: Callable[[], Any] | None = None
                try:
                    after = listener(**kwargs)
                except Exception as error:  # noqa: BLE001 - logged without its message, and the user is told
                    reference = uuid.uuid4().hex[:8]
                    log.error("listener.change_failed ref=%s work=%s user=%s error=%s", reference, name,
                              acting_user(kwargs), type(error).__name__)
                    if self._failure_reply is not None:
                        after = functools.partial(self._failure_reply, kwargs, reference)
                finally:
                    ack()
                if after is not None:
                    self.submit(name, after)

            return run  # type: ignore[return-value]

        return decorate

    def _queue(self, item: _Work) -> None:
        with self._quiet:
            self._busy += 1
        try:
            self._pool.submit(self._run_when_quiet, item)
        except RuntimeError as error:
            # The pool has shut down, so the process is stopping and the work cannot run.
            self._end(item, None, error)

    def _run_when_quiet(self, item: _Work) -> None:
        """Run `item` once no request is in flight, or after `yield_max_seconds` at most.

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
        self._execute(item)

    def _execute(self, item: _Work) -> None:
        """Run `item`, which counts as busy, and report its end on its future."""
        if not item.future.set_running_or_notify_cancel():
            self._end(item, None, None)
            return
        try:
            result = item.run()
        except Exception as error:  # noqa: BLE001 - reported on the future and logged by _finished
            self._end(item, None, error)
        else:
            self._end(item, result, None)

    def _end(self, item: _Work, result: Any, error: BaseException | None) -> None:
        with self._quiet:
            self._busy -= 1
        if item.future.done():
            return
        if error is not None:
            item.future.set_exception(error)
        else:
            item.future.set_result(result)

    def _finished(self, name: str, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
        if future.cancelled():
            return
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


def acting_user(arguments: dict[str, Any]) -> str | None:
    """Return the Slack id of the user behind a listener's arguments: a block action's or a command's."""
    body = arguments.get("body")
    command = arguments.get("command")
    user = body.get("user") if isinstance(body, dict) else None
    user_id = user.get("id") if isinstance(user, dict) else None
    if user_id is None and isinstance(command, dict):
        user_id = command.get("user_id")
    return user_id if isinstance(user_id, str) else None


def _acked_already(*_args: Any, **_kwargs: Any) -> None:
    """Stand in for Bolt's ack() in work that runs after the listener has acked."""
