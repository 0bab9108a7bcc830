"""`handoff export`: the funnel metrics and the lead history as CSV files."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal
from typing import TextIO

from sqlalchemy import select

from bot.metrics import Funnel
from bot.runtime import Runtime
from storage.models import Lead, LeadTransition

HISTORY_COLUMNS = ("lead_id", "source", "external_id", "at", "actor", "from_stage", "to_stage", "reason")


def _writer(stream: TextIO, *, excel: bool) -> csv.DictWriter[str]:
    """Return a CSV writer; `excel` uses semicolons, as Excel does where the decimal separator is a comma."""
    if excel:
        stream.write("\ufeff")  # a BOM makes Excel read the file as UTF-8
    return csv.DictWriter(stream, fieldnames=[], delimiter=";" if excel else ",", lineterminator="\r\n")


def _number(value: Decimal | int | None, *, excel: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    text = format(value.quantize(Decimal("0.0001")), "f")
    return text.replace(".", ",") if excel else text


def write_funnel(stream: TextIO, funnel: Funnel, *, excel: bool = False) -> None:
    """Write one row per metric: the period, the metric's name and its value."""
    writer = _writer(stream, excel=excel)
    writer.fieldnames = ["period_start", "period_end", "metric", "value"]
    writer.writeheader()
    first, last = funnel.period.first_day.isoformat(), funnel.period.last_day.isoformat()
    rows: list[tuple[str, Decimal | int | None]] = [(f"mqls.{source}", count) for source, count in funnel.mqls_by_source.items()]
    rows += [("mqls", funnel.mqls), ("accepted", funnel.accepted), ("rejected", funnel.rejected),
             ("pending", funnel.pending), ("acceptance_rate", funnel.acceptance_rate), ("sqls", funnel.sqls),
             ("sal_to_sql_rate", funnel.sal_to_sql_rate), ("mql_to_sql_rate", funnel.mql_to_sql_rate),
             ("won", funnel.won), ("mql_to_won_rate", funnel.mql_to_won_rate),
             ("reengagement_rate", funnel.reengagement_rate)]
    rows += [(f"rejections.{reason}", count) for reason, count in funnel.rejection_reasons.items()]
    for name, value in rows:
        writer.writerow({"period_start": first, "period_end": last, "metric": name, "value": _number(value, excel=excel)})


def history_rows(rt: Runtime, batch: int = 5000) -> Iterator[dict[str, str]]:
    """Yield every transition with its lead's source and external id, oldest first, a batch at a time."""
    last_id = 0
    while True:
        with rt.db.transaction() as session:
            rows = list(session.execute(
                select(LeadTransition, Lead.source, Lead.external_id).join(Lead, Lead.id == LeadTransition.lead_id)
                .where(LeadTransition.id > last_id).order_by(LeadTransition.id).limit(batch)
            ))
        if not rows:
            return
        for transition, source, external_id in rows:
            yield {"lead_id": str(transition.lead_id), "source": source, "external_id": external_id,
                   "at": transition.at.isoformat(), "actor": transition.actor, "from_stage": transition.from_stage or "",
                   "to_stage": transition.to_stage, "reason": transition.reason}
        last_id = rows[-1][0].id


def write_history(stream: TextIO, rt: Runtime, *, excel: bool = False) -> int:
    writer = _writer(stream, excel=excel)
    writer.fieldnames = list(HISTORY_COLUMNS)
    writer.writeheader()
    count = 0
    for row in history_rows(rt):
        writer.writerow(row)
        count += 1
    return count
