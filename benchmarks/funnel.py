"""/funnel on 1,000,000 leads with 5,000,000 history rows on PostgreSQL.

The rows are generated inside PostgreSQL with INSERT ... SELECT over
generate_series, in a schema of their own, so building them costs no Python
loop. First MQL times are spread evenly over the two years before the
measuring moment (about 9,600 leads a week and 125,000 a quarter). Every lead
has exactly five history rows: created, qualified, and three that follow its
bucket (accepted and worked, SQL and won, rejected with a reason, nurtured and
re-scored, or still waiting). The lead's outcome times (reached SAL, SQL, won,
first rejection) match that history, and the build checks that. Each case
times the whole /funnel response as the slash command builds it: argument
parsing, the metrics of the period and of the previous period, and the Block
Kit message. `--quick` builds a tenth of the rows.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from benchmarks.common import Options, Row, Skipped, make_runtime, median, ms, profile_call, scratch_database
from bot.funnel_report import funnel_report
from bot.runtime import Runtime

NAME = "funnel"
HISTORY_PER_LEAD = 5
# Wednesday 26 March 2025, 11:00 in Amsterdam; the generated MQLs end here.
MEASURED_AT = datetime(2025, 3, 26, 10, 0, tzinfo=UTC)
SPAN_SECONDS = 2 * 365 * 24 * 3600
EVA = "U0EVAVSR01"
CASES = (
    ("week", "week"),
    ("quarter", "kwartaal"),
    ("quarter, source and team filter", "kwartaal bron=webinar team=benelux-nl"),
    ("month, rep filter", "maand rep=pieter.janssens@handoff-demo.be"),
)

# Lead columns, with %% for the modulo operator because the statement has parameters.
# The id picks the source, the rep (and so the team) and one of 20 buckets.
# Buckets 0-7 are accepted and worked, 8-9 accepted and SQL, 10 won, 11-14 rejected and archived,
# 15-16 nurtured and re-engaged, 17 nurtured and not re-qualified, and 18-19 still waiting.
LEADS_SQL = """
INSERT INTO leads (id, source, external_id, stage, version, team_id, rep_email, first_mql_at, mql_at,
                   decided_at, contact_attempts, first_contact_working_seconds, rejection_reason,
                   visited_pricing, requested_demo, asset_downloads, extra, created_at, updated_at,
                   reached_sal_at, reached_sql_at, won_at, first_rejected_at)
SELECT g.id,
       (ARRAY['hubspot', 'webinar', 'salesforce', 'marketo', 'linkedin', 'events', 'website', 'partner'])[g.id %% 8 + 1],
       'BENCH-' || g.id,
       CASE WHEN g.id %% 20 < 8 THEN 'sal' WHEN g.id %% 20 < 10 THEN 'sql' WHEN g.id %% 20 = 10 THEN 'won'
            WHEN g.id %% 20 < 15 THEN 'rejected' WHEN g.id %% 20 < 17 THEN 'mql' WHEN g.id %% 20 = 17 THEN 'nurture'
            ELSE 'mql' END,
       5,
       CASE WHEN g.id %% 4 < 2 THEN 'benelux-nl' ELSE 'benelux-be' END,
       (ARRAY['sanne.devries@handoff-demo.nl', 'daan.bakker@handoff-demo.nl', 'pieter.janssens@handoff-demo.be',
              'lotte.peeters@handoff-demo.be'])[g.id %% 4 + 1],
       g.mql_at, g.mql_at, g.mql_at + interval '3 hours',
       CASE WHEN g.id %% 20 < 11 THEN g.id %% 7 ELSE 0 END,
       CASE WHEN g.id %% 10 < 7 THEN (g.id * 37) %% 100000 END,
       CASE WHEN g.id %% 20 BETWEEN 11 AND 14 THEN 'incorrect_fit' END,
       false, false, 0, '{}', g.mql_at, g.mql_at,
       -- The outcome times of the history below: step 3 at +6 h accepts or rejects, step 4 at +8 h
       -- makes buckets 8-10 SQL and step 5 at +10 h wins bucket 10. No bucket passes through opportunity.
       CASE WHEN g.id %% 20 < 11 THEN g.mql_at + interval '6 hours' END,
       CASE WHEN g.id %% 20 BETWEEN 8 AND 10 THEN g.mql_at + interval '8 hours' END,
       CASE WHEN g.id %% 20 = 10 THEN g.mql_at + interval '10 hours' END,
       CASE WHEN g.id %% 20 BETWEEN 11 AND 17 THEN g.mql_at + interval '6 hours' END
FROM (SELECT id, %(end_at)s::timestamptz
                 - make_interval(secs => (id::bigint * %(span)s / %(size)s)::double precision) AS mql_at
      FROM generate_series(1, %(size)s) AS id) AS g
"""

# Steps 1 and 2 are the same for every lead; steps 3 to 5 follow the lead's bucket.
HISTORY_SQL = """
INSERT INTO lead_transitions (id, lead_id, at, actor, from_stage, to_stage, reason, details)
SELECT (l.id - 1) * 5 + s.step, l.id, l.first_mql_at + make_interval(hours => s.step * 2), 'bench',
       CASE s.step WHEN 1 THEN NULL WHEN 2 THEN 'raw'
            ELSE (CASE WHEN b.bucket < 11 THEN
                       (ARRAY['mql', 'sal', CASE WHEN b.bucket < 8 THEN 'sal' ELSE 'sql' END])[s.step - 2]
                  WHEN b.bucket < 15 THEN (ARRAY['mql', 'rejected', 'rejected'])[s.step - 2]
                  WHEN b.bucket < 18 THEN (ARRAY['mql', 'nurture', 'nurture'])[s.step - 2]
                  ELSE 'mql' END) END,
       CASE s.step WHEN 1 THEN 'raw' WHEN 2 THEN 'mql'
            ELSE (CASE WHEN b.bucket < 8 THEN (ARRAY['sal', 'sal', 'sal'])[s.step - 2]
                  WHEN b.bucket < 11 THEN (ARRAY['sal', 'sql', CASE WHEN b.bucket = 10 THEN 'won' ELSE 'sql' END])[s.step - 2]
                  WHEN b.bucket < 15 THEN (ARRAY['rejected', 'rejected', 'rejected'])[s.step - 2]
                  WHEN b.bucket < 17 THEN (ARRAY['nurture', 'nurture', 'mql'])[s.step - 2]
                  WHEN b.bucket = 17 THEN (ARRAY['nurture', 'nurture', 'nurture'])[s.step - 2]
                  ELSE 'mql' END) END,
       CASE s.step WHEN 1 THEN 'created' WHEN 2 THEN 'qualified'
            ELSE (CASE WHEN b.bucket < 8 THEN
                       (ARRAY['accepted', 'discovery_scheduled', 'reassigned'])[s.step - 2]
                  WHEN b.bucket < 11 THEN (ARRAY['accepted', 'discovery_completed',
                                                 CASE WHEN b.bucket = 10 THEN 'won' ELSE 'reassigned' END])[s.step - 2]
                  WHEN b.bucket < 15 THEN (ARRAY['rejected:incorrect_fit', 'contested', 'contest_upheld'])[s.step - 2]
                  WHEN b.bucket < 17 THEN (ARRAY['rejected:no_budget_timing', 'nurture_noted', 'reengaged'])[s.step - 2]
                  WHEN b.bucket = 17 THEN (ARRAY['rejected:no_budget_timing', 'nurture_noted',
                                                 'rescored_not_qualified'])[s.step - 2]
                  ELSE (ARRAY['reassigned', 'reassigned', 'reassigned'])[s.step - 2] END) END,
       '{}'
FROM leads AS l
CROSS JOIN LATERAL (SELECT l.id % 20 AS bucket) AS b
CROSS JOIN generate_series(1, 5) AS s(step)
"""

# Count the leads whose outcome times differ from the first matching row of their history.
# The build raises unless the count is 0.
OUTCOME_MISMATCH_SQL = """
SELECT count(*)
FROM leads AS l
LEFT JOIN (
    SELECT lead_id,
           min(at) FILTER (WHERE to_stage = 'sal') AS sal_at,
           min(at) FILTER (WHERE to_stage = 'sql') AS sql_at,
           min(at) FILTER (WHERE to_stage = 'opportunity') AS opportunity_at,
           min(at) FILTER (WHERE to_stage = 'won') AS won_at,
           min(at) FILTER (WHERE reason LIKE 'rejected:%') AS rejected_at
    FROM lead_transitions
    GROUP BY lead_id
) AS h ON h.lead_id = l.id
WHERE l.reached_sal_at IS DISTINCT FROM h.sal_at OR l.reached_sql_at IS DISTINCT FROM h.sql_at
   OR l.reached_opportunity_at IS DISTINCT FROM h.opportunity_at OR l.won_at IS DISTINCT FROM h.won_at
   OR l.first_rejected_at IS DISTINCT FROM h.rejected_at
"""


def _build(rt: Runtime, size: int) -> None:
    raw = rt.db.engine.raw_connection()
    try:
        connection = raw.driver_connection
        with connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(LEADS_SQL, {"end_at": MEASURED_AT, "span": SPAN_SECONDS, "size": size})
            cursor.execute(HISTORY_SQL)
            for table in ("leads", "lead_transitions"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        raw.commit()
        # VACUUM cannot run in a transaction. Without it, autovacuum would start on the new rows
        # during the measured calls, and the planner would have no statistics.
        connection.autocommit = True  # type: ignore[union-attr]
        with connection.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute("VACUUM (ANALYZE) leads")
            cursor.execute("VACUUM (ANALYZE) lead_transitions")
        connection.autocommit = False  # type: ignore[union-attr]
    finally:
        raw.close()


def _counts(rt: Runtime) -> tuple[int, int]:
    with rt.db.engine.connect() as connection:
        leads = connection.execute(text("SELECT count(*) FROM leads")).scalar_one()
        history = connection.execute(text("SELECT count(*) FROM lead_transitions")).scalar_one()
    return int(leads), int(history)


def _check_outcome_times(rt: Runtime) -> None:
    with rt.db.engine.connect() as connection:
        mismatches = int(connection.execute(text(OUTCOME_MISMATCH_SQL)).scalar_one())
    if mismatches:
        raise RuntimeError(f"{mismatches} generated leads have outcome times that differ from their history; "
                           "fix the outcome columns in LEADS_SQL")


def _time_case(rt: Runtime, command: str, repetitions: int) -> tuple[float, float, list[float]]:
    """Return the first call, the median of the next `repetitions` calls and their samples, in seconds."""
    samples: list[float] = []
    first = 0.0
    for repetition in range(repetitions + 1):
        started = time.perf_counter()
        message, visible = funnel_report(rt, text=command, user_id=EVA)
        elapsed = time.perf_counter() - started
        if not visible or not message.blocks:
            raise RuntimeError(f"/funnel {command!r} returned no report: {message.text}")
        if repetition == 0:
            first = elapsed
        else:
            samples.append(elapsed)
    return first, median(samples), samples


def run(options: Options) -> list[Row]:
    if "postgres" not in options.databases:
        raise Skipped("this benchmark runs on PostgreSQL only; pass --database postgres")
    size = 100_000 if options.quick else 1_000_000
    repetitions = 5 if options.quick else 9
    rows: list[Row] = []
    with scratch_database("postgres", options, name="funnel") as url:
        rt = make_runtime(url, now=MEASURED_AT)
        print(f"  funnel: building {size:,} leads and {size * HISTORY_PER_LEAD:,} history rows ...", flush=True)
        started = time.perf_counter()
        _build(rt, size)
        build_seconds = time.perf_counter() - started
        leads, history = _counts(rt)
        if (leads, history) != (size, size * HISTORY_PER_LEAD):
            raise RuntimeError(f"built {leads} leads and {history} history rows; expected {size} and {size * 5}")
        _check_outcome_times(rt)
        print(f"  funnel: built in {build_seconds:.1f} s", flush=True)
        for case, command in CASES:
            first, middle, samples = _time_case(rt, command, repetitions)
            print(f"  funnel: {case}: median {ms(middle)}", flush=True)
            data: dict[str, Any] = {"first_s": first, "median_s": middle, "samples_s": samples,
                                    "build_s": build_seconds}
            rows.append(Row(
                NAME, f"/funnel {command} on {size:,} leads", "postgres", ms(middle), target="< 1 s",
                met=middle < 1.0,
                notes=(f"median of {repetitions}, the period and the previous one; first call {ms(first)}; "
                       f"{history:,} history rows built in {build_seconds:.1f} s"),
                data=data,
            ))
        if options.profile:
            profile_call(f"/funnel kwartaal, {size:,} leads", lambda: funnel_report(rt, text="kwartaal", user_id=EVA))
        rt.db.dispose()
    return rows
