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


def submit(
    bot: ThreadBot, sandbox: RunningSandbox, team: sr.Team, user: str, channel: str
) -> httpx.Response:
    """The create modal, filled in with the first public avatar and voice, submitted."""
    avatar, voice = first_choices(sandbox, "v3")
    values = form_values(avatar, voice, f"Hello from {team.id}", post_to=channel)
    meta = json.dumps({"channel_id": channel, "thread_ts": None})
    request = sr.view_submission(
        "heygen_create", values, private_metadata=meta, user_id=user, team=team
    )
    return bot.send(request)


def new_account(sandbox: RunningSandbox, name: str) -> tuple[str, list[str]]:
    """Another HeyGen account in the sandbox: its key and its private avatars' ids."""
    key = f"heygen-key-of-{name}-0123456789"
    answer = HTTP.post(
        f"{sandbox.url}/_sandbox/accounts",
        json={"api_key": key, "name": name, "private_avatars": 2},
    )
    assert answer.status_code == 201, answer.text
    return key, [_id(a) for a in answer.json()["private_avatars"]]


def _id(item: Any) -> str:
    return item if isinstance(item, str) else item.get("id") or item.get("avatar_id")


def key_submission(team: sr.Team, user: str, key: str) -> sr.SignedRequest:
    values = {"api_key": {"api_key": {"type": "plain_text_input", "value": key}}}
    return sr.view_submission("heygen_key_modal", values, user_id=user, team=team)


def home_of(slack: SlackStandIn, user: str) -> str:
    """The last App Home published for `user`, as text."""
    published = [c for c in slack.calls_to("views.publish") if c.params.get("user_id") == user]
    return json.dumps(published[-1].params["view"], ensure_ascii=False) if published else ""


def avatar_options(bot: ThreadBot, team: sr.Team, user: str) -> list[str]:
    answer = bot.send(sr.block_suggestion("avatar", "avatar", "", user_id=user, team=team))
    assert answer.status_code == 200, answer.text
    return [o["value"] for o in answer.json()["options"]]


def parent_in(slack: SlackStandIn, channel: str) -> dict:
    return wait_until(
        lambda: [m for m in slack.messages(channel) if m.get("thread_ts") in (None, m["ts"])],
        message=f"the announcement in {channel}",
    )[0]


def test_two_workspaces_side_by_side_each_on_its_own_heygen_account(
    dist_bot: ThreadBot, teams: SlackStandIn, sandbox: RunningSandbox
) -> None:
    """Install both through OAuth, each admin sets its own key, each makes a video: every
    Slack call with the workspace's token, every HeyGen call with its account's key."""
    for team_id, installer in ((ALPHA, ANN), (BETA, BOB)):
        done = install(dist_bot, teams, team_id, user=installer)
        assert done.status_code == 200 and "is installed" in done.text, done.text
    rows = db_rows(dist_bot, "select install_key, record from installations")
    assert sorted(r["install_key"] for r in rows) == [ALPHA, BETA]
    assert all("xoxb-" not in r["record"] for r in rows)  # tokens encrypted at rest

    alpha, beta = teams.team(ALPHA), teams.team(BETA)
    # Before a key: the sandbox, said in App Home; the admin sees the button.
    assert dist_bot.send(sr.app_home_opened(ANN, team=alpha)).status_code == 200
    wait_until(lambda: "HeyGen account: *sandbox*" in home_of(teams, ANN), message="home")
    assert "Set HeyGen key" in home_of(teams, ANN)

    keys = {}
    for team, user, name in ((alpha, ANN, "alpha"), (beta, BOB, "beta")):
        key, private = new_account(sandbox, name)
        keys[team.id] = (key, private)
        assert dist_bot.send(key_submission(team, user, key)).status_code == 200
        wait_until(lambda u=user, k=key: f"…{k[-4:]}" in home_of(teams, u), message="key set")
    stored = db_rows(dist_bot, "select install_key, secret, last4 from heygen_keys")
    assert {r["install_key"]: r["last4"] for r in stored} == {
        ALPHA: keys[ALPHA][0][-4:],
        BETA: keys[BETA][0][-4:],
    }
    assert not any(k[0] in r["secret"] for r in stored for k in keys.values())
    assert all(k[0] not in home_of(teams, u) for u, k in ((ANN, keys[ALPHA]), (BOB, keys[BETA])))

    # Each workspace's pickers offer its own account's private avatars, not the other's.
    alpha_options = avatar_options(dist_bot, alpha, ANN)
    beta_options = avatar_options(dist_bot, beta, BOB)
    assert set(keys[ALPHA][1]) <= set(alpha_options) and not set(keys[BETA][1]) & set(alpha_options)
    assert set(keys[BETA][1]) <= set(beta_options)

    for team_id, user, channel in ((ALPHA, ANN, ALPHA_CHANNEL), (BETA, BOB, BETA_CHANNEL)):
        assert submit(dist_bot, sandbox, teams.team(team_id), user, channel).status_code == 200
    for channel in (ALPHA_CHANNEL, BETA_CHANNEL):
        parent = parent_in(teams, channel)
        wait_until(lambda c=channel, p=parent: text_replies(teams, p["ts"], c), message="result")
        assert "Sandbox" not in json.dumps(parent["blocks"])  # a real account: no sandbox note
    creates = [
        e
        for e in HTTP.get(f"{sandbox.url}/_sandbox/requests").json()["requests"]
        if e["method"] == "POST" and e["path"] == "/v3/videos"
    ]
    assert sorted(e["account"] for e in creates) == ["alpha", "beta"]


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
