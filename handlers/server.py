"""gunicorn as the production HTTP server, started from the `handoff web` command."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from bot.settings import Settings


def create_web_app(settings: Settings | None = None) -> Any:
    """Build the WSGI app in the worker process, after the fork, so each worker has its own pool."""
    from bot.bootstrap import build_runtime
    from bot.runtime import freeze_startup_objects
    from handlers.app import build_app
    from handlers.web import WebApp

    rt = build_runtime(settings, prepare=False)
    rt.db.checkpoint_in_background()
    bolt, sender = build_app(rt)
    app = WebApp(rt, bolt, sender)
    freeze_startup_objects()
    return app


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"{self.settings.host}:{self.settings.port}")
        self.cfg.set("workers", self.settings.web_workers)
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", 8)
        # Each response closes its connection. A request thread may run a click's work after the
        # response (handlers/listener_work.py), and gunicorn reads the next request of a kept-alive
        # connection only once that thread is free, which could take as long as a slow Slack call.
        self.cfg.set("keepalive", 0)
        self.cfg.set("timeout", 30)
        self.cfg.set("accesslog", None)
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn 25.1+ opens a control socket at one path per user, so several web processes
            # on one host would share it. The bot does not use runtime control.
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        return create_web_app(self.settings)


def serve(settings: Settings) -> None:
    _Server(settings).run()
