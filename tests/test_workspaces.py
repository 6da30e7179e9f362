"""Distribution mode: workspaces install through OAuth, and each one is its own.

The real bot over HTTP, the Slack stand-in hosting several workspaces (and its OAuth
pages), the HeyGen sandbox; on SQLite and on PostgreSQL (skipped, saying why, without).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bot.playground import inbound as sr
from bot.playground.web_api import SlackStandIn
from bot.sandbox import RunningSandbox
from bot.secret_box import SecretBox
from tests.flows import db_rows, first_choices, form_values, text_replies
from tests.harness import HTTP, ThreadBot, bot_env, wait_until

CLIENT_ID, CLIENT_SECRET = "111.222", "oauth-client-secret"
STATE_SECRET = "state-secret-of-this-test-0123456789"
ENCRYPTION_KEY = SecretBox.new_key()
ALPHA, BETA = "T0A1", "T0B2"
ANN, BOB = "U0ANN", "U0BOB"  # a person of each workspace
ALPHA_CHANNEL, BETA_CHANNEL = "C0ALPHA", "C0BETA"


def distribution_env(slack: SlackStandIn, sandbox: RunningSandbox, db: str, **extra: Any) -> dict:
    env = bot_env(slack.url, sandbox.url, db, **extra)
    del env["SLACK_BOT_TOKEN"]
    return env | {
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_STATE_SECRET": STATE_SECRET,
        "ENCRYPTION_KEY": ENCRYPTION_KEY,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path) -> dict[str, str]:
    if request.param == "sqlite":
        return {}
    return {"DATABASE_URL": request.getfixturevalue("pg_url")}


@pytest.fixture
def teams(slack: SlackStandIn) -> SlackStandIn:
    for team_id, name, person, channel in (
        (ALPHA, "Alpha Co", ANN, ALPHA_CHANNEL),
        (BETA, "Beta Co", BOB, BETA_CHANNEL),
    ):
        slack.add_team(team_id, name)
        slack.add_person(team_id, person, person.lower())
        slack.add_channel(team_id, channel, name.lower().replace(" ", "-"))
    return slack


@pytest.fixture
def dist_bot(
    teams: SlackStandIn, sandbox: RunningSandbox, tmp_path, database: dict[str, str]
) -> Iterator[ThreadBot]:
    env = distribution_env(teams, sandbox, str(tmp_path / "bot.db"), **database)
    bot = ThreadBot(env)
    teams.register_app(CLIENT_ID, CLIENT_SECRET, f"{bot.url}/slack/oauth_redirect")
    yield bot
    bot.stop()


def install(bot: ThreadBot, slack: SlackStandIn, team_id: str, **choice: str) -> httpx.Response:
    """A person opens /slack/install, approves in Slack, and comes back to the bot."""
    page = HTTP.get(f"{bot.url}/slack/install")
    assert page.status_code == 200 and "slack.com" not in page.text, page.text
    link = page.text.split('<a href="')[1].split('"')[0].replace("&amp;", "&")
    at_slack = HTTP.get(httpx.URL(link).copy_merge_params({"team": team_id, **choice}))
    assert at_slack.status_code == 302, at_slack.text
    back = httpx.URL(at_slack.headers["location"])
    cookie = page.headers["set-cookie"].split(";")[0]
    return HTTP.get(
        f"{bot.url}/slack/oauth_redirect", params=dict(back.params), headers={"Cookie": cookie}
    )


def submit(bot: ThreadBot, sandbox: RunningSandbox, team_id: str, user: str, channel: str):
    avatar, voice = first_choices(sandbox, "v3")
    values = form_values(avatar, voice, f"Hello from {team_id}", post_to=channel)
    meta = json.dumps({"channel_id": channel, "thread_ts": None})
    request = sr.view_submission(
        "heygen_create", values, private_metadata=meta, user_id=user, team=_team(bot, team_id)
    )
    return bot.send(request)


def _team(bot: ThreadBot, team_id: str) -> sr.Team:
    return bot.slack_standin.team(team_id)  # type: ignore[attr-defined]


def test_two_workspaces_install_and_get_their_videos_with_their_own_tokens(
    dist_bot: ThreadBot, teams: SlackStandIn, sandbox: RunningSandbox
) -> None:
    dist_bot.slack_standin = teams  # type: ignore[attr-defined]
    for team_id in (ALPHA, BETA):
        done = install(dist_bot, teams, team_id)
        assert done.status_code == 200 and "is installed" in done.text, done.text
    rows = db_rows(dist_bot, "select install_key, record from installations")
    assert sorted(r["install_key"] for r in rows) == [ALPHA, BETA]
    assert all("xoxb-" not in r["record"] for r in rows)  # tokens encrypted at rest

    for team_id, user, channel in ((ALPHA, ANN, ALPHA_CHANNEL), (BETA, BOB, BETA_CHANNEL)):
        assert submit(dist_bot, sandbox, team_id, user, channel).status_code == 200
    for team_id, channel in ((ALPHA, ALPHA_CHANNEL), (BETA, BETA_CHANNEL)):
        parent = wait_until(
            lambda c=channel: [
                m for m in teams.messages(c) if m.get("thread_ts") in (None, m["ts"])
            ],
            message=f"the announcement in {team_id}",
        )[0]
        wait_until(
            lambda c=channel, p=parent: text_replies(teams, p["ts"], c),
            message=f"the result in {team_id}",
        )


def test_forged_or_missing_state_gets_a_clear_page(dist_bot: ThreadBot) -> None:
    forged = HTTP.get(
        f"{dist_bot.url}/slack/oauth_redirect",
        params={"code": "x", "state": "9999999999.abc.0000"},
        headers={"Cookie": "slack-app-oauth-state=9999999999.abc.0000"},
    )
    assert forged.status_code == 401 and "expired or is not one this app made" in forged.text
    no_cookie = HTTP.get(
        f"{dist_bot.url}/slack/oauth_redirect", params={"code": "x", "state": "1.a.b"}
    )
    assert 400 <= no_cookie.status_code < 500 and "install page" in no_cookie.text


def test_a_workspace_without_installation_gets_slacks_answer(
    dist_bot: ThreadBot, teams: SlackStandIn
) -> None:
    command = sr.slash_command("", team=teams.team(ALPHA), user_id=ANN, slack_url=teams.url)
    answer = dist_bot.send(command)
    assert answer.status_code == 200
    said = teams.wait_for("response_url")[0].params["text"]
    assert "reinstall this app" in said  # Bolt's own words
    assert not db_rows(dist_bot, "select id from jobs")


Make = Callable[..., ThreadBot]
