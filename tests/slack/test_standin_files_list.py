"""files.list in the Slack stand-in, driven through the real slack_sdk WebClient."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack_standin import SlackStandin

SALES = "C0SALES001"
MARKETING = "C0MARKET01"
PNG = b"\x89PNG\r\n\x1a\nbytes"


@pytest.fixture
def client(slack: SlackStandin) -> WebClient:
    slack.add_channel(MARKETING, "marketing")
    return WebClient(token="xoxb-test-token", base_url=slack.base_url)


def share(client: WebClient, channel: str, filename: str, content: bytes = PNG) -> str:
    response = client.files_upload_v2(channel=channel, content=content, filename=filename)
    return str(response["file"]["id"])


def test_files_list_pages_newest_first(slack: SlackStandin, client: WebClient) -> None:
    ids = [share(client, SALES, f"chart-{number}.png") for number in range(3)]
    share(client, SALES, "leads.csv", b"id,stage\n1,mql\n")

    first = client.files_list(channel=SALES, types="images", count=2, page=1)
    second = client.files_list(channel=SALES, types="images", count=2, page=2)

    assert [listed["id"] for listed in first["files"]] == [ids[2], ids[1]]
    assert first["paging"] == {"count": 2, "total": 3, "page": 1, "pages": 2}
    assert [listed["id"] for listed in second["files"]] == [ids[0]]
    assert second["paging"] == {"count": 2, "total": 3, "page": 2, "pages": 2}
    listed = second["files"][0]
    assert listed["name"] == "chart-0.png"
    assert listed["filetype"] == "png"
    assert listed["user"] == slack.bot_user_id
    assert listed["timestamp"] == listed["created"]
    assert listed["channels"] == [SALES]
    assert "content" not in listed


def test_files_list_filters_channel_and_time(slack: SlackStandin, client: WebClient) -> None:
    sales_id = share(client, SALES, "funnel.png")
    share(client, MARKETING, "funnel.png")
    now = int(time.time())

    in_sales = client.files_list(channel=SALES, ts_from=str(now - 60))
    later = client.files_list(channel=SALES, ts_from=str(now + 3600))
    everywhere = client.files_list()

    assert [listed["id"] for listed in in_sales["files"]] == [sales_id]
    assert later["files"] == []
    assert later["paging"] == {"count": 100, "total": 0, "page": 1, "pages": 0}
    assert everywhere["paging"]["total"] == 2
    # The stand-in keeps recording each share for tests that count them.
    assert len(slack.files(SALES)) == 1
    assert len(slack.files()) == 2


def test_files_list_rejects_unknown_type(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.files_list(types="images,movies")

    assert raised.value.response["error"] == "unknown_type"


def test_files_list_rejects_unknown_user(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        client.files_list(user="U0NOBODY01")

    assert raised.value.response["error"] == "user_not_found"
