"""The public exports end to end: import, qualify, route, DM the reps, click, and /funnel.

The expected numbers come from an independent count over the same rows with
the csv module, not from the bot's own code.
"""

from __future__ import annotations

import csv
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import load_config
from bot.ids import ActionId, LeadRef
from bot.intake.importer import import_csv
from bot.intake.mapping import load_mapping
from bot.qualification import Criteria, EngagementCriteria
from bot.runtime import Runtime
from bot.slack_standin.interactions import block_action_body, button_action, slash_command_body
from support import REPO, SHARED_DATA, make_settings
from harness import Harness
from storage.models import Lead

OLIST = SHARED_DATA / "olist-marketing-funnel" / "olist_marketing_qualified_leads_dataset.csv"
XED = SHARED_DATA / "x-education-leads" / "Leads.csv"
CONFIG = REPO / "tests" / "data" / "real-exports.yml"
XED_SOURCES = {
    "Google": "google", "google": "google", "Direct Traffic": "direct_traffic", "Olark Chat": "olark_chat",
    "Organic Search": "organic_search", "Reference": "reference", "Welingak Website": "welingak_website",
    "Referral Sites": "referral_sites", "Facebook": "facebook", "bing": "bing", "Click2call": "click2call",
    "Social Media": "social_media", "Live Chat": "live_chat", "Press_Release": "press_release", "blog": "blog",
    "Pay per Click Ads": "pay_per_click_ads", "WeLearn": "welearn", "welearnblog_Home": "welearnblog_home",
    "youtubechannel": "youtubechannel", "testone": "testone", "NC_EDM": "nc_edm", "": "unknown",
}


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def expected_olist() -> Counter[str]:
    return Counter((row["origin"] or "unknown") for row in read_rows(OLIST))


def expected_x_education() -> Counter[str]:
    mqls: Counter[str] = Counter()
    for row in read_rows(XED):
        score = row["Asymmetrique Activity Score"]
        engaged = (score != "" and int(score) >= 15) or row["A free copy of Mastering The Interview"] == "Yes"
        if row["Country"] == "India" and engaged:
            mqls[XED_SOURCES[row["Lead Source"]]] += 1
    return mqls


DATASETS = {
    "olist": (OLIST, REPO / "examples" / "mappings" / "olist.yml", expected_olist, 8000),
    "x-education": (XED, REPO / "examples" / "mappings" / "x-education.yml", expected_x_education, None),
}


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_real_export_end_to_end(dataset: str, database_url: str, db: Any, clock: Any, slack: Any) -> None:
    path, mapping_path, expected_counter, expected_rows = DATASETS[dataset]
    if not path.exists():
        pytest.skip(f"{path} not found: the public exports live in ../shared/data next to the repository")
    config = load_config(CONFIG)
    if dataset == "olist":
        config.criteria = Criteria(engagement=EngagementCriteria(require="none"))
    rt = Runtime(settings=make_settings(database_url, slack_api_url=slack.base_url), config=config, db=db, clock=clock)
    harness = Harness(rt, slack)
    expected = expected_counter()
    rows = read_rows(path)

    report = import_csv(rt, path, load_mapping(mapping_path))
    assert report.errors == []
    assert report.rows == len(rows)
    if expected_rows is not None:
        assert report.rows == expected_rows
    assert report.created == len(rows)

    with rt.db.transaction() as session:
        leads = list(session.scalars(select(Lead)))
    assert all(lead.qualification is not None for lead in leads)
    mqls = [lead for lead in leads if lead.stage == "mql"]
    assert Counter(lead.source for lead in mqls) == expected
    assert all(lead.rep_email is not None and lead.routing is not None for lead in mqls)
    if dataset == "x-education":
        by_rep = Counter(lead.rep_email for lead in mqls)
        assert set(by_rep) == {"asha@handoff-demo.nl", "ravi@handoff-demo.nl"}
        assert abs(by_rep["asha@handoff-demo.nl"] - by_rep["ravi@handoff-demo.nl"]) <= 1

    while harness.sender.deliver_due(limit=500).sent:
        pass
    assert len(slack.calls("chat.postMessage")) == sum(expected.values())

    clicked = sorted(mqls, key=lambda lead: lead.id)[:5]
    for index, lead in enumerate(clicked):
        with rt.db.transaction() as session:
            fresh = session.get(Lead, lead.id)
            assert fresh is not None
            channel, ts, version = fresh.card_channel, fresh.card_ts, fresh.version
        rep = config.rep(lead.rep_email)
        assert rep is not None
        assert channel
        assert ts
        ref = LeadRef(lead=lead.id, v=version)
        if index < 3:
            action = button_action(ActionId.ACCEPT.value, ref.encode())
            body = block_action_body(user_id=rep.slack_user_id, action=action, channel_id=channel, message_ts=ts)
            assert harness.slack_post(body).status == 200
        else:
            assert harness.reject(lead.id, rep.slack_user_id, "incorrect_fit", version=version).status == 200
    deadline = time.monotonic() + 10
    while len(slack.calls("chat.update")) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(slack.calls("chat.update")) == 5

    day = clock.now().date().isoformat()
    body = slash_command_body(command="/funnel", text=f"{day}..{day}", user_id="U0MIAMGR01",
                              channel_id="C0SALES001", response_url=slack.root_url + "response/funnel")
    assert harness.slack_post(body).status == 200
    answer = str(slack.wait_for("response_url").params["blocks"])
    total = sum(expected.values())
    assert f"totaal {total:,}".replace(",", ".") in answer
    for source, count in expected.most_common(40):
        assert re.search(rf"• {re.escape(source)}: {count:,}\b".replace(",", "."), answer), (source, count)
    assert "60%" in answer
    assert "3 geaccepteerd, 2 afgewezen" in answer
    assert "Onjuiste fit: 2" in answer
