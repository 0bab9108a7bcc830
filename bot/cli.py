"""The `handoff` command: run the bot, the clock, imports, migrations, privacy requests and the demo.

This module is the composition root: it is the one place in `bot` that wires
in the Slack handlers and the scheduler.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot.config import ConfigError
from bot.log_filters import DatabaseErrorValues
from bot.settings import LOG_LEVELS, SLACK_APP_HELP, Settings

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError

log = logging.getLogger("handoff")
# How often the clock started by `handoff web` checks that the web process is still its parent.
PARENT_CHECK_SECONDS = 1.0


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        # Named by environment variable, as the user sets them; values are left out, they may be secrets.
        lines = [f"  {_variable_name(item['loc'])}: {item['msg'].removeprefix('Value error, ')}" for item in error.errors()]
        raise SystemExit("invalid environment settings:\n" + "\n".join(lines)) from None


def _variable_name(location: tuple[object, ...]) -> str:
    name = str(location[0]) if location else "?"
    return name if name.isupper() else name.upper()


def _runtime(settings: Settings | None = None):  # noqa: ANN202 - Runtime import is deferred
    from bot.bootstrap import DatabaseNotReady, build_runtime

    try:
        return build_runtime(settings or _settings())
    except (ConfigError, DatabaseNotReady) as error:
        raise SystemExit(str(error)) from None


def _require_slack(settings: Settings) -> None:
    missing = settings.missing_slack_settings()
    if missing:
        raise SystemExit(f"cannot start: {', '.join(missing)} not set.\n{SLACK_APP_HELP}")


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    _require_slack(settings)
    _runtime(settings)  # check the configuration and prepare the database before starting anything
    if settings.slack_app_token is not None and settings.slack_app_token.get_secret_value():
        return cmd_socket(args)
    return cmd_web(args)


def cmd_web(args: argparse.Namespace) -> int:
    from handlers.server import serve

    settings = _settings()
    _require_slack(settings)
    _runtime(settings)
    clock = None if getattr(args, "no_clock", False) else _start_clock_process()
    try:
        serve(settings)
    finally:
        if clock is not None:
            clock.terminate()
    return 0


def cmd_socket(args: argparse.Namespace) -> int:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.runtime import freeze_startup_objects
    from handlers.app import build_app

    settings = _settings()
    _require_slack(settings)
    if settings.slack_app_token is None:
        raise SystemExit("cannot start Socket Mode: SLACK_APP_TOKEN (xapp-...) not set.\n" + SLACK_APP_HELP)
    rt = _runtime(settings)
    rt.db.checkpoint_in_background()
    app, _sender = build_app(rt)
    clock = None if getattr(args, "no_clock", False) else _start_clock_process()
    freeze_startup_objects()
    log.info("socket_mode.starting")
    try:
        SocketModeHandler(app, settings.slack_app_token.get_secret_value()).start()
    finally:
        if clock is not None:
            clock.terminate()
    return 0


def _start_clock_process() -> subprocess.Popen[bytes]:
    # The clock stops when this process is gone, also after a SIGKILL that skips the caller's `finally`.
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "clock", "--parent-pid", str(os.getpid())])


def _stop_with_parent(parent_pid: int) -> None:
    """End this process within PARENT_CHECK_SECONDS once `parent_pid` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        log.info("clock.stopped reason=parent_gone parent=%s", parent_pid)
        logging.shutdown()
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def cmd_clock(args: argparse.Namespace) -> int:
    from handlers.app import slack_client
    from scheduler.clock import run_forever

    from bot.outbox import OutboxSender
    from bot.people import load_slack_timezones
    from bot.runtime import freeze_startup_objects

    if args.parent_pid is not None:
        _stop_with_parent(args.parent_pid)
    settings = _settings()
    _require_slack(settings)
    rt = _runtime(settings)
    client = slack_client(rt)
    load_slack_timezones(rt, client)
    sender = OutboxSender(rt.db, client, rt.clock, runtime=rt)
    freeze_startup_objects()
    run_forever(rt, sender)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from bot.intake.csv_reader import CsvReadError
    from bot.intake.importer import import_csv
    from bot.intake.mapping import MappingError, load_mapping

    rt = _runtime()
    path = Path(args.file)
    if path.is_dir():
        raise SystemExit(f"{path}: is a directory; give the path of a CSV file")
    if not path.is_file():
        raise SystemExit(f"{path}: file not found")
    try:
        mapping = load_mapping(args.mapping)
        report = import_csv(rt, path, mapping, progress=lambda r: print(f"  … {r.rows} rows read", file=sys.stderr))
    except (MappingError, CsvReadError) as error:
        raise SystemExit(f"{path}: {error}") from None
    print(f"{path.name}: rows {report.rows}, new leads {report.created}, updated leads {report.updated}, "
          f"MQLs now {report.mqls}, unreadable rows {len(report.errors)}")
    for warning in report.warnings:
        print(f"  warning: {warning}")
    for error in report.errors[:200]:
        column = f" column {error.column!r}" if error.column else ""
        print(f"  line {error.line}{column}: {error.reason}")
    if len(report.errors) > 200:
        print(f"  … and {len(report.errors) - 200} more unreadable rows")
    if not args.no_deliver and not rt.settings.missing_slack_settings():
        from handlers.app import slack_client

        from bot.outbox import OutboxSender

        sender = OutboxSender(rt.db, slack_client(rt), rt.clock, runtime=rt)
        sent = 0
        while (batch := sender.deliver_due(limit=100)).sent:
            sent += batch.sent
        print(f"{sent} Slack messages sent; the clock process retries anything that failed")
    elif not args.no_deliver:
        print("Slack settings missing: the cards wait in the outbox until the bot runs (see 'handoff run')")
    if report.rows == 0:
        # A header without data rows points to a failed or over-filtered export,
        # so a script that runs the import must notice.
        print(f"{path.name}: no data rows after the header, so nothing was imported; check the export", file=sys.stderr)
        return 1
    if report.errors and not report.imported:
        # Nothing usable was in the file: a script that runs the import must notice.
        print(f"{path.name}: no row could be imported; fix the rows above or choose another --mapping", file=sys.stderr)
        return 1
    return 0


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    from storage.db import display_url
    from storage.migrate import current_revision, upgrade

    settings = _settings()
    before = current_revision(settings.database_url)
    upgrade(settings.database_url)
    after = current_revision(settings.database_url)
    # Naming the database shows when DATABASE_URL is not the one the operator meant.
    database = display_url(settings.database_url)
    if before == after:
        print(f"{database}: database schema is up to date (revision {after})")
    else:
        print(f"{database}: database schema upgraded from revision {before or 'none (empty database)'} to {after}")
    return 0


def cmd_config_check(_args: argparse.Namespace) -> int:
    from bot.config import load_config

    settings = _settings()
    try:
        config = load_config(settings.handoff_config)
    except ConfigError as error:
        raise SystemExit(str(error)) from None
    print(f"{settings.handoff_config}: {len(config.teams)} teams, {len(config.reps)} reps, "
          f"{len(config.managers)} managers; configuration is valid")
    from bot.channels import describe_channel_check

    try:
        for line in describe_channel_check(config, settings):
            print(line)
    except ConfigError as error:
        raise SystemExit(str(error)) from None
    missing = settings.missing_slack_settings()
    if missing:
        print(f"warning: {', '.join(missing)} not set; the bot cannot connect to Slack without them")
    print(json.dumps(masked_settings(settings), indent=2))
    return 0


def cmd_funnel(args: argparse.Namespace) -> int:
    from bot.funnel_report import funnel_report
    from bot.slack_standin import render_text

    rt = _runtime()
    message, ok = funnel_report(rt, text=" ".join(args.period), user_id=None, language=args.language)
    print(render_text({"text": message.text, "blocks": message.blocks}))
    return 0 if ok or " ".join(args.period).strip().lower() in {"help", "hulp"} else 1


def cmd_standin(args: argparse.Namespace) -> int:
    from bot.config import load_config
    from bot.standin_console import serve

    settings = _settings()
    try:
        config = load_config(settings.handoff_config)
    except ConfigError as error:
        raise SystemExit(str(error)) from None
    serve(config, args.port)
    return 0


def cmd_click(args: argparse.Namespace) -> int:
    from bot.standin_click import ClickError, send_accept_click

    rt = _runtime()
    try:
        result = send_accept_click(rt, args.lead_id, user_id=args.user, events_url=args.url)
    except ClickError as error:
        raise SystemExit(f"handoff click: {error}") from None
    print(f"Accept on lead {args.lead_id} by {result.user_id}: HTTP {result.status}")
    if result.status != 200:
        print(result.body)
        return 1
    print(f"The stand-in prints the updated card, and any reply to {result.response_url}.")
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from bot.outbox import requeue, retrying_items, stuck_items
    from storage.models import OutboxItem

    rt = _runtime()
    with rt.db.transaction() as session:
        items = stuck_items(session)
        retrying = retrying_items(session)
        if args.retry or args.retry_all:
            ids = [item.id for item in items] if args.retry_all else args.retry
            unknown = sorted(set(ids) - {item.id for item in items})
            if unknown:
                existing = set(session.scalars(select(OutboxItem.id).where(OutboxItem.id.in_(unknown))))
                missing = [item_id for item_id in unknown if item_id not in existing]
                waiting = [item_id for item_id in unknown if item_id in existing]
                if missing:
                    print(f"no outbox item with id {', '.join(map(str, missing))}")
                if waiting:
                    print(f"not parked or failed (sent, or still being retried), so not queued: "
                          f"{', '.join(map(str, waiting))}")
            count = requeue(session, ids, rt.clock.now())
            noun = "item" if count == 1 else "items"
            print(f"{count} {noun} queued again; the clock process delivers them on its next sweep")
            return 0 if not unknown else 1
    if not items:
        print("no parked or failed outbox items")
    for item in items:
        print(f"{item.id}\t{item.status}\t{item.kind}\t{item.method}\tlead={item.lead_id}\tattempts={item.attempts}\t{item.last_error}")
    if retrying:
        # Still pending: the sender tries them again on its own until the give-up time.
        print(f"{len(retrying)} items failed and are being retried (not yet parked):")
        for item in retrying:
            print(f"{item.id}\tretrying\t{item.kind}\t{item.method}\tlead={item.lead_id}\tattempts={item.attempts}"
                  f"\tnext={item.next_attempt_at.isoformat()}\t{item.last_error}")
    return 0


def _leads(count: int) -> str:
    return f"{count} lead" if count == 1 else f"{count} leads"


def cmd_privacy_export(args: argparse.Namespace) -> int:
    from bot.privacy import export_person

    rt = _runtime()
    with rt.db.transaction() as session:
        data = export_person(session, args.email, now=rt.clock.now())
    document = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(document, encoding="utf-8")
        print(f"{_leads(len(data['leads']))} exported to {args.output}", file=sys.stderr)
    else:
        # Bytes, so that the output is UTF-8 whatever the terminal's locale is.
        sys.stdout.flush()
        sys.stdout.buffer.write(document.encode("utf-8"))
        sys.stdout.buffer.flush()
    if not data["leads"]:
        print("no lead has this e-mail address", file=sys.stderr)
    return 0


def cmd_privacy_erase(args: argparse.Namespace) -> int:
    from bot.privacy import erase_person, lead_ids_for_email

    rt = _runtime()
    if not args.yes:
        if not sys.stdin.isatty():
            raise SystemExit(
                "nothing erased: standard input is not a terminal, so pass --yes to erase without confirmation")
        with rt.db.transaction() as session:
            found = len(lead_ids_for_email(session, args.email))
        if found == 0:
            print("no lead has this e-mail address; nothing erased")
            return 0
        answer = input(f"Erase the personal data of {_leads(found)}? This cannot be undone. [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            print("nothing erased")
            return 1
    with rt.db.transaction() as session:
        count = erase_person(session, args.email, rt.clock.now())
    print(f"{_leads(count)} erased")
    return 0


def cmd_privacy_retention(_args: argparse.Namespace) -> int:
    from bot.privacy import apply_configured_retention

    rt = _runtime()
    count = apply_configured_retention(rt)
    if count is None:
        print("retention is off: set PERSONAL_DATA_RETENTION_DAYS to erase the personal data of closed leads "
              "after that many days")
        return 0
    days = rt.settings.personal_data_retention_days
    print(f"{_leads(count)} erased: closed and unchanged for more than {days} days")
    return 0


def cmd_outcome(args: argparse.Namespace) -> int:
    from bot.sales import close_from_crm

    rt = _runtime()
    with rt.db.transaction() as session:
        result = close_from_crm(session, rt, lead_id=args.lead, won=args.outcome == "won", actor="cli",
                                reference=args.opportunity)
    if result.status == "not_found":
        raise SystemExit(f"no lead with id {args.lead}; /lead in Slack shows a lead's id")
    if not result.done:
        raise SystemExit(f"lead {args.lead}: {result.message or result.status}")
    print(f"lead {args.lead}: {args.outcome}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bot.export import write_funnel, write_history
    from bot.metrics import FunnelFilter, PeriodError, compute_funnel, parse_period

    rt = _runtime()
    path = Path(args.output)
    team_ids = [team.id for team in rt.config.teams]
    if args.team is not None and args.team not in team_ids:
        raise SystemExit(f"--team {args.team!r}: unknown team; configured teams: {', '.join(team_ids)}")
    if not path.parent.is_dir():
        raise SystemExit(f"{path}: the folder {path.parent} does not exist; create it or choose another --output")
    with path.open("w", encoding="utf-8", newline="") as stream:
        if args.what == "history":
            count = write_history(stream, rt, excel=args.excel)
            print(f"{path}: {count} transitions")
            return 0
        try:
            period = parse_period(args.period, rt.clock.now(), rt.config.teams[0].calendar.timezone)
        except PeriodError as error:
            raise SystemExit(str(error)) from None
        with rt.db.transaction() as session:
            funnel = compute_funnel(session, period, FunnelFilter(source=args.source, team_id=args.team))
        write_funnel(stream, funnel, excel=args.excel)
    print(f"{path}: metrics of {period.first_day} to {period.last_day}")
    return 0


def _share(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        raise argparse.ArgumentTypeError(f"invalid share {text!r}: use a number from 0 to 1, e.g. 0.5") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"invalid share {text!r}: use a number from 0 to 1, e.g. 0.5")
    return value


def _channel_id(text: str) -> str:
    from bot.config import SLACK_CHANNEL_ID_PATTERN

    if not re.match(SLACK_CHANNEL_ID_PATTERN, text):
        raise argparse.ArgumentTypeError(f"invalid channel {text!r}: use the channel id (C...), not its name")
    return text


def cmd_criteria_backtest(args: argparse.Namespace) -> int:
    from bot.backtest import (
        BacktestError,
        apply_overrides,
        describe_result,
        describe_suggestion,
        last_quarter,
        load_candidate,
        load_history,
        replay,
        search_thresholds,
    )
    from bot.i18n import t
    from bot.metrics import PeriodError, parse_period

    rt = _runtime()
    language = args.language or rt.settings.default_language
    now = rt.clock.now()
    timezone = rt.config.teams[0].calendar.timezone
    if args.period is None:
        period = last_quarter(now, timezone)
        leads_label = t(language, "backtest.leads_last_quarter")
    else:
        try:
            period = parse_period(args.period, now, timezone)
        except PeriodError as error:
            raise SystemExit(str(error)) from None
        leads_label = t(language, "backtest.leads_range", first=period.first_day, last=period.last_day)
    current = rt.config.criteria
    try:
        candidate = load_candidate(args.candidate, current) if args.candidate else current
        candidate = apply_overrides(candidate, args.set or [])
    except BacktestError as error:
        raise SystemExit(str(error)) from None

    with rt.db.transaction() as session:
        history = load_history(session, period)
    print(f"{period.first_day} .. {period.last_day}: {len(history)} leads")
    print(describe_result(t(language, "backtest.current"), replay(history, current), language))
    if candidate != current:
        print(describe_result(t(language, "backtest.candidate"), replay(history, candidate), language))
    suggestions = search_thresholds(history, candidate, min_decided=args.min_decided, min_kept_share=args.min_kept_share)
    for suggestion in suggestions:
        print(f"- {describe_suggestion(suggestion, language, leads_label)}")
    if not suggestions:
        print(t(language, "backtest.no_suggestions"))
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from bot.reviews import monthly_review, post_once, quarterly_review
    from bot.slack_standin import render_text

    rt = _runtime()
    now = rt.clock.now()
    build = monthly_review if args.which == "monthly" else quarterly_review
    review = build(rt, now, args.language)
    if not args.post:
        print(render_text({"text": review.message.text, "blocks": review.message.blocks}))
        print(f"charts: {', '.join(chart.kind for chart in review.charts)} (uploaded with --post)")
        return 0
    settings = getattr(rt.config.digests, args.which)
    channel = args.channel or (settings.channel if settings is not None else None)
    if channel is None:
        raise SystemExit(f"no channel to post in: set digests.{args.which}.channel in the handoff configuration "
                         "or pass --channel C...")
    key = f"review:{args.which}:on-demand:{now.isoformat()}"
    post_once(rt, key=key, channel=channel, kind="review", build=lambda: review, now=now)
    if rt.settings.missing_slack_settings():
        print("Slack settings missing: the review waits in the outbox until the bot runs (see 'handoff run')")
        return 0
    from handlers.app import slack_client

    from bot.outbox import OutboxSender

    report = OutboxSender(rt.db, slack_client(rt), rt.clock, runtime=rt).deliver_due()
    print(f"{report.sent} Slack calls sent (the message and {len(review.charts)} charts); "
          "the clock process retries anything that failed")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return run_demo(language=args.language)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="handoff", description="Marketing-to-sales lead handoff bot for Slack.")
    parser.add_argument("--log-level", default=None, type=str.upper, choices=LOG_LEVELS,
                        help="Logging level (default: LOG_LEVEL or INFO).")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="Start the bot: Socket Mode with SLACK_APP_TOKEN, else HTTP, plus the clock.")
    run.add_argument("--no-clock", action="store_true", help="Do not start the clock process alongside.")
    run.set_defaults(func=cmd_run)
    web = sub.add_parser("web", help="Serve /slack/events, /leads and /healthz under gunicorn.")
    web.add_argument("--no-clock", action="store_true", help="Do not start the clock process alongside.")
    web.set_defaults(func=cmd_web)
    socket = sub.add_parser("socket", help="Connect to Slack in Socket Mode (needs SLACK_APP_TOKEN).")
    socket.add_argument("--no-clock", action="store_true", help="Do not start the clock process alongside.")
    socket.set_defaults(func=cmd_socket)
    clock = sub.add_parser("clock", help="Run the clock process: SLA reminders, escalations, outbox retries.")
    # Set by `handoff web`, `run` and `socket` for the clock they start, so that it does not outlive them.
    clock.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    clock.set_defaults(func=cmd_clock)

    imp = sub.add_parser("import", help="Import a CSV export (HubSpot, Salesforce, Marketo or a mapping file).")
    imp.add_argument("file", help="Path of the CSV file.")
    imp.add_argument("--mapping", default="hubspot", help="Built-in mapping name (hubspot, salesforce, marketo) or a YAML path.")
    imp.add_argument("--no-deliver", action="store_true", help="Queue the Slack messages without sending them now.")
    imp.set_defaults(func=cmd_import)

    db = sub.add_parser("db", help="Database schema commands.")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="Apply all Alembic migrations to DATABASE_URL.").set_defaults(func=cmd_db_upgrade)

    config = sub.add_parser("config", help="Configuration commands.")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    config_sub.add_parser("check", help="Validate the handoff configuration and print the settings (secrets masked).").set_defaults(func=cmd_config_check)

    funnel = sub.add_parser("funnel", help="Print the /funnel report in the terminal.")
    funnel.add_argument("period", nargs="*", help="week (default), last-week, month, quarter or YYYY-MM-DD..YYYY-MM-DD.")
    funnel.add_argument("--language", choices=["nl", "en"], default=None,
                        help="Language of the report and of its messages about PERIOD (default: DEFAULT_LANGUAGE).")
    funnel.set_defaults(func=cmd_funnel)

    outbox = sub.add_parser("outbox", help="List Slack messages that could not be delivered, and retry them.")
    outbox.add_argument("--retry", type=int, nargs="+", metavar="ID", help="Queue these items again.")
    outbox.add_argument("--retry-all", action="store_true", help="Queue every parked or failed item again.")
    outbox.set_defaults(func=cmd_outbox)

    privacy = sub.add_parser("privacy", help="Export or erase a person's personal data; apply the retention period.")
    privacy_sub = privacy.add_subparsers(dest="privacy_command", required=True)
    export = privacy_sub.add_parser("export", help="Print everything stored about a person as JSON (UTF-8).")
    export.add_argument("email", help="E-mail address of the person; case does not matter.")
    export.add_argument("--output", metavar="FILE", help="Write the JSON to FILE instead of standard output.")
    export.set_defaults(func=cmd_privacy_export)
    erase = privacy_sub.add_parser(
        "erase", help="Erase a person's e-mail address, name, phone number, extra CSV columns and stored Slack texts.")
    erase.add_argument("email", help="E-mail address of the person; case does not matter.")
    erase.add_argument("--yes", action="store_true", help="Erase without asking for confirmation.")
    erase.set_defaults(func=cmd_privacy_erase)
    privacy_sub.add_parser(
        "retention", help="Erase the personal data of closed leads unchanged for PERSONAL_DATA_RETENTION_DAYS days.",
    ).set_defaults(func=cmd_privacy_retention)

    outcome = sub.add_parser("outcome", help="Record that an opportunity (or an SQL with a reference) was won or lost.")
    outcome.add_argument("lead", type=int, help="Lead id, as /lead shows it.")
    outcome.add_argument("outcome", choices=["won", "lost"], help="The deal's outcome.")
    outcome.add_argument("--opportunity", default=None, help="Opportunity reference, when the lead is still an SQL.")
    outcome.set_defaults(func=cmd_outcome)

    export = sub.add_parser("export", help="Write the funnel metrics or the whole lead history as CSV.")
    export.add_argument("what", choices=["metrics", "history"], help="Which data to write.")
    export.add_argument("--output", required=True, help="Path of the CSV file to write.")
    export.add_argument("--period", default="month", help="Period of the metrics (as /funnel takes it; default month).")
    export.add_argument("--source", default=None, help="Only this lead source.")
    export.add_argument("--team", default=None, help="Only this team id.")
    export.add_argument("--excel", action="store_true", help="UTF-8 with BOM, semicolons and decimal commas, for Dutch Excel.")
    export.set_defaults(func=cmd_export)

    standin = sub.add_parser("standin", help="Serve the bundled Slack stand-in on 127.0.0.1 to try HTTP mode without Slack.")
    standin.add_argument("--port", type=int, default=3001, help="Port on 127.0.0.1 (default 3001).")
    standin.set_defaults(func=cmd_standin)

    click = sub.add_parser("click", help="Press Accept on a lead's card as Slack would, to try the bot with `handoff standin`.")
    click.add_argument("lead_id", type=int, help="Id of the lead whose card to accept.")
    click.add_argument("--user", default=None, help="Slack user id of the clicking user (default: the lead's rep).")
    click.add_argument("--url", default=None,
                       help="The web process's /slack/events (default http://127.0.0.1:$PORT/slack/events).")
    click.set_defaults(func=cmd_click)

    demo = sub.add_parser("demo", help="Run the whole loop on a bundled example export against a local Slack stand-in.")
    demo.add_argument("--language", choices=["nl", "en"], default="nl", help="Language of the messages (default nl).")
    demo.set_defaults(func=cmd_demo)

    criteria = sub.add_parser("criteria", help="MQL criteria commands.")
    criteria_sub = criteria.add_subparsers(dest="criteria_command", required=True)
    backtest = criteria_sub.add_parser(
        "backtest", help="Replay stored leads against changed MQL criteria and suggest better thresholds.")
    backtest.add_argument("--period", default=None,
                          help="Leads to replay: month, quarter or YYYY-MM-DD..YYYY-MM-DD (default: last full quarter).")
    backtest.add_argument("--candidate", metavar="FILE", default=None,
                          help="YAML file with candidate criteria: a handoff configuration or its criteria: part.")
    backtest.add_argument("--set", action="append", metavar="KEY=VALUE",
                          help="Change one criterion, e.g. engagement.min_score=65 or fit.countries=NL,BE; repeatable.")
    backtest.add_argument("--min-decided", type=int, default=10,
                          help="Decided MQLs a suggestion needs under its criteria (default 10).")
    backtest.add_argument("--min-kept-share", type=_share, default=Decimal("0.5"),
                          help="Share of the current MQLs a suggestion must keep, 0 to 1 (default 0.5).")
    backtest.add_argument("--language", choices=["nl", "en"], default=None, help="Language of the report.")
    backtest.set_defaults(func=cmd_criteria_backtest)

    review = sub.add_parser("review", help="Print the monthly deep dive or the quarterly criteria review, or post it.")
    review.add_argument("which", choices=["monthly", "quarterly"], help="Last full month or last full quarter.")
    review.add_argument("--post", action="store_true", help="Post it with its charts to Slack instead of printing.")
    review.add_argument("--channel", default=None, type=_channel_id,
                        help="Channel id (C...) to post in (default: digests.monthly or digests.quarterly channel).")
    review.add_argument("--language", choices=["nl", "en"], default=None, help="Language of the review.")
    review.set_defaults(func=cmd_review)
    return parser


# Loggers of the Slack libraries. Below WARNING they write request and response bodies
# (slack_bolt's failed-signature line at INFO, slack_sdk's every API call at DEBUG), and those
# bodies hold the names, e-mail addresses and phone numbers of leads.
SLACK_LIBRARY_LOGGERS = ("slack_bolt", "slack_sdk")


class SlackLibraryBodies(logging.Filter):
    """Drop the Slack libraries' records below WARNING, whatever LOG_LEVEL is, because they carry bodies."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return not record.name.startswith(SLACK_LIBRARY_LOGGERS)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    # On the handlers, not the loggers: a logger's filter skips records that its children propagate.
    for handler in logging.getLogger().handlers:
        handler.addFilter(SlackLibraryBodies())
        handler.addFilter(DatabaseErrorValues())
    if level.upper() != "DEBUG":
        # Alembic logs every plugin it loads at INFO on each start, APScheduler every job run.
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)


def masked_settings(settings: Settings) -> dict[str, object]:
    """Return the settings by environment variable name, with secrets and the database password masked."""
    from sqlalchemy.engine import make_url

    from handlers.app import DEFAULT_SLACK_API_URL

    values = json.loads(settings.model_dump_json())
    values["database_url"] = make_url(settings.database_url).render_as_string(hide_password=True)
    # Without SLACK_API_URL the bot calls Slack itself, so show that address rather than null.
    values["slack_api_url"] = settings.slack_api_url or DEFAULT_SLACK_API_URL
    names = {"webhook_secret": "HANDOFF_WEBHOOK_SECRET"}
    return {names.get(name, name.upper()): value for name, value in values.items()}


def describe_database_error(error: OperationalError, database_url: str) -> str:
    """Describe a failed database connection or operation in one line, naming the server but never the password."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    # Only the driver's first line, because SQLAlchemy's text adds the SQL statement and a link.
    driver_text = str(error.orig).strip()
    reason = driver_text.splitlines()[0] if driver_text else type(error.orig).__name__
    if url.password:
        reason = reason.replace(str(url.password), "***")
    if url.get_backend_name() == "sqlite":
        where = f"SQLite database {url.database or '(in memory)'}"
        fix = "check DATABASE_URL (sqlite:///path.db) and that the file and its folder are writable"
    else:
        where = f"PostgreSQL server {url.host or 'localhost'}:{url.port or 5432}"
        fix = "check that PostgreSQL runs there and that DATABASE_URL (postgresql://user@host:port/db) is right"
    if error.statement is None:
        return f"cannot connect to the {where}: {reason}; {fix}"
    return f"database error on the {where}: {reason}"


def _database_url_of_environment() -> str:
    try:
        return Settings().database_url
    except ValidationError:
        return Settings.model_fields["database_url"].default


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = args.log_level
    if level is None and args.command == "demo":
        level = "WARNING"  # the demo prints what Slack users see; logs would drown it
    if level is None:
        try:
            level = Settings().log_level
        except ValidationError:
            level = "INFO"
    configure_logging(level)
    from sqlalchemy.exc import OperationalError

    try:
        return int(args.func(args) or 0)
    except OperationalError as error:
        if args.command == "demo":
            raise  # the demo uses a database of its own, not DATABASE_URL
        log.debug("database.failed", exc_info=True)
        print(describe_database_error(error, _database_url_of_environment()), file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader of our output went away (`handoff funnel | head`). As the Python docs on
        # SIGPIPE advise, stdout now points at devnull, so the flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
