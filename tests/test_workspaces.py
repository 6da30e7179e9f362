"""Distribution mode: workspaces install through OAuth, and each one is its own.

The real bot over HTTP, the Slack stand-in hosting several workspaces (and its OAuth
pages), the HeyGen sandbox; on SQLite and on PostgreSQL (skipped, saying why, without).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.playground import inbound as sr
from bot.playground.web_api import SlackStandIn
from bot.sandbox import RunningSandbox
from bot.secret_box import SecretBox
from tests import flows
from tests.flows import db_rows, first_choices, form_values, text_replies
from tests.harness import HTTP, ThreadBot, bot_env, free_port, wait_until

CLIENT_ID, CLIENT_SECRET = "111.222", "oauth-client-secret"
STATE_SECRET = "state-secret-of-this-test-0123456789"
ENCRYPTION_KEY = SecretBox.new_key()
ALPHA, BETA = "T0A1", "T0B2"
ANN, BOB = "U0ANN", "U0BOB"  # a person of each workspace
ALPHA_CHANNEL, BETA_CHANNEL = "C0ALPHA", "C0BETA"


def distribution_env(slack: SlackStandIn, sandbox: RunningSandbox, db: str, **extra: Any) -> dict:
    env = bot_env(slack.url, sandbox.url, db, SANDBOX_RENDER="static", **extra)
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
    bot: ThreadBot,
    sandbox: RunningSandbox,
    team: sr.Team,
    user: str,
    channel: str,
    script: str | None = None,
    choices: tuple[str, str] | None = None,
) -> httpx.Response:
    """The create modal, filled in with the first public avatar and voice, submitted."""
    avatar, voice = choices or first_choices(sandbox, "v3")
    values = form_values(avatar, voice, script or f"Hello from {team.id}", post_to=channel)
    meta = json.dumps({"channel_id": channel, "thread_ts": None})
    request = sr.view_submission(
        "heygen_create", values, private_metadata=meta, user_id=user, team=team
    )
    return bot.send(request)


def new_account(sandbox: RunningSandbox, name: str, **more: Any) -> tuple[str, list[str]]:
    """Another HeyGen account in the sandbox: its key and its private avatars' ids."""
    key = f"heygen-key-of-{name}-0123456789"
    answer = HTTP.post(
        f"{sandbox.url}/_sandbox/accounts",
        json={"api_key": key, "name": name, "private_avatars": 2, **more},
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


def signed_state(expires: float) -> str:
    """A state as the bot issues it (expiry.nonce.signature), signed with its secret."""
    body = f"{int(expires)}.nonce-of-this-test"
    signature = hmac.new(STATE_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{signature[:32]}"


@pytest.mark.parametrize("database", [{}])  # the state is no store's business
def test_an_expired_state_gets_the_clear_page(dist_bot: ThreadBot) -> None:
    """A link issued 11 minutes ago (states live 10) is refused, though signed by the bot;
    the same state still in date gets past the check (and on to Slack's code check)."""
    now = time.time()
    answers = {}
    for name, expires in (("expired", now - 60), ("in date", now + 540)):
        state = signed_state(expires)
        answers[name] = HTTP.get(
            f"{dist_bot.url}/slack/oauth_redirect",
            params={"code": "x", "state": state},
            headers={"Cookie": f"slack-app-oauth-state={state}"},
        )
    expired = answers["expired"]
    assert expired.status_code == 401 and "expired or is not one this app made" in expired.text
    assert "expired or is not one this app made" not in answers["in date"].text


def test_a_workspace_without_installation_gets_slacks_answer(
    dist_bot: ThreadBot, teams: SlackStandIn
) -> None:
    command = sr.slash_command("", team=teams.team(ALPHA), user_id=ANN, slack_url=teams.url)
    answer = dist_bot.send(command)
    assert answer.status_code == 200
    said = teams.wait_for("response_url")[0].params["text"]
    assert "reinstall this app" in said  # Bolt's own words
    assert not db_rows(dist_bot, "select id from jobs")


SQLITE_ONLY = pytest.mark.parametrize("database", [{}])  # isolation: one store is enough


@pytest.fixture
def installed(dist_bot: ThreadBot, teams: SlackStandIn) -> ThreadBot:
    """Both workspaces installed: Alpha by Ann, Beta by Bob."""
    for team_id, installer in ((ALPHA, ANN), (BETA, BOB)):
        assert install(dist_bot, teams, team_id, user=installer).status_code == 200
    return dist_bot


@SQLITE_ONLY
def test_an_invalid_key_gets_heygens_answer_under_the_field(
    installed: ThreadBot, teams: SlackStandIn
) -> None:
    answer = installed.send(key_submission(teams.team(ALPHA), ANN, "not-a-real-key-123456"))
    errors = answer.json()["errors"]
    assert answer.json()["response_action"] == "errors"
    assert errors["api_key"].startswith("HeyGen does not accept this key: ")
    assert "not-a-real-key" not in errors["api_key"]
    teams.add_person(ALPHA, "U0CAT", "cat")  # neither admin nor installer
    answer = installed.send(key_submission(teams.team(ALPHA), "U0CAT", "whatever-key-12345"))
    assert "Only a workspace admin" in answer.json()["errors"]["api_key"]
    assert not db_rows(installed, "select * from heygen_keys")


@SQLITE_ONLY
def test_a_button_with_another_workspaces_job_changes_nothing(
    installed: ThreadBot, teams: SlackStandIn, sandbox: RunningSandbox
) -> None:
    assert submit(installed, sandbox, teams.team(ALPHA), ANN, ALPHA_CHANNEL).status_code == 200
    parent = parent_in(teams, ALPHA_CHANNEL)
    (job,) = db_rows(installed, "select id from jobs")
    for action_id in ("cancel_job", "retry_job", "fresh_link"):
        press = sr.block_actions(
            [{"type": "button", "action_id": action_id, "block_id": "b", "value": job["id"]}],
            channel_id=BETA_CHANNEL,
            user_id=ANN,  # even the requester's id, sent from the other workspace
            team=teams.team(BETA),
            slack_url=teams.url,
        )
        assert installed.send(press).status_code == 200
    said = [c.params.get("text", "") for c in teams.wait_for("response_url", count=3)]
    assert all("no longer known" in t or "no finished video" in t for t in said), said
    wait_until(lambda: text_replies(teams, parent["ts"], ALPHA_CHANNEL), message="result")
    assert [r["status"] for r in db_rows(installed, "select status from jobs")] == ["completed"]
    # Bob's App Home lists nothing of Alpha's.
    assert installed.send(sr.app_home_opened(BOB, team=teams.team(BETA))).status_code == 200
    wait_until(lambda: "HeyGen account" in home_of(teams, BOB), message="Bob's home")
    assert "Hello from" not in home_of(teams, BOB)


@SQLITE_ONLY
@pytest.mark.sandbox(render_seconds=60)
def test_uninstall_mid_render_ends_cleanly_and_a_reinstall_starts_clean(
    installed: ThreadBot, teams: SlackStandIn, sandbox: RunningSandbox
) -> None:
    key, _ = new_account(sandbox, "alpha")
    assert installed.send(key_submission(teams.team(ALPHA), ANN, key)).status_code == 200
    wait_until(lambda: db_rows(installed, "select * from heygen_keys"), message="key saved")
    assert submit(installed, sandbox, teams.team(ALPHA), ANN, ALPHA_CHANNEL).status_code == 200
    video = wait_until(
        lambda: next(iter(db_rows(installed, "select video_id from jobs")), {}).get("video_id"),
        message="HeyGen accepted the video",
    )
    gone = teams.uninstall(ALPHA)
    assert installed.send(gone.app_uninstalled()).status_code == 200
    assert installed.send(gone.tokens_revoked()).status_code == 200
    wait_until(  # the key goes last, once HeyGen's copies are deleted with it
        lambda: not db_rows(installed, "select * from heygen_keys"), message="the key deleted"
    )
    assert not db_rows(installed, "select * from installations where install_key = 'T0A1'")
    (job,) = db_rows(installed, "select status, failure_code from jobs")
    assert (job["status"], job["failure_code"]) == ("cancelled", "uninstalled")
    assert not db_rows(installed, "select id from outbox where sent_at is null")
    deletes = wait_until(
        lambda: [
            e
            for e in HTTP.get(f"{sandbox.url}/_sandbox/requests").json()["requests"]
            if e["method"] == "DELETE" and video in e["path"]
        ],
        message="HeyGen's copy deleted",
    )
    assert deletes[0]["account"] == "alpha"

    def calls_to_alpha() -> int:
        return len([c for c in teams.calls if c.params.get("channel") == ALPHA_CHANNEL])

    before = calls_to_alpha()
    # Beta goes on; by the time its video is done, the poller has long passed Alpha's job.
    assert submit(installed, sandbox, teams.team(BETA), BOB, BETA_CHANNEL).status_code == 200
    parent_in(teams, BETA_CHANNEL)
    assert calls_to_alpha() == before  # not even an attempt with the revoked token

    assert install(installed, teams, ALPHA, user=ANN).status_code == 200
    assert installed.send(sr.app_home_opened(ANN, team=teams.team(ALPHA))).status_code == 200
    wait_until(lambda: "HeyGen account: *sandbox*" in home_of(teams, ANN), message="clean home")


@pytest.fixture
def webhook_bot(teams: SlackStandIn, sandbox: RunningSandbox, tmp_path) -> Iterator[ThreadBot]:
    """A bot that knows its public URL: each workspace's account sends it video events."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = distribution_env(teams, sandbox, str(tmp_path / "bot.db"), PORT=port, PUBLIC_URL=url)
    bot = ThreadBot(env)
    teams.register_app(CLIENT_ID, CLIENT_SECRET, f"{bot.url}/slack/oauth_redirect")
    for team_id, installer in ((ALPHA, ANN), (BETA, BOB)):
        assert install(bot, teams, team_id, user=installer).status_code == 200
    yield bot
    bot.stop()


def signed(secret: str, body: bytes) -> dict[str, str]:
    return {
        "Heygen-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }


def test_each_account_has_its_own_webhook_and_secret(
    webhook_bot: ThreadBot, teams: SlackStandIn, sandbox: RunningSandbox
) -> None:
    for team, user, name in ((teams.team(ALPHA), ANN, "alpha"), (teams.team(BETA), BOB, "beta")):
        key, _ = new_account(sandbox, name)
        assert webhook_bot.send(key_submission(team, user, key)).status_code == 200
        endpoints = wait_until(
            lambda k=key: HTTP.get(
                f"{sandbox.url}/v3/webhooks/endpoints", headers={"X-Api-Key": k}
            ).json()["data"],
            message=f"{name}'s webhook endpoint",
        )
        assert [
            e["url"].startswith(f"{webhook_bot.url}/heygen/webhook?account=") for e in endpoints
        ]
    box = SecretBox.from_setting(ENCRYPTION_KEY)
    rows = {
        r["install_key"]: (r["account"], box.decrypt(r["webhook_secret"]))
        for r in db_rows(webhook_bot, "select * from heygen_keys")
    }
    (alpha_account, alpha_secret), (_, beta_secret) = rows[ALPHA], rows[BETA]
    assert alpha_secret != beta_secret

    assert submit(webhook_bot, sandbox, teams.team(ALPHA), ANN, ALPHA_CHANNEL).status_code == 200
    parent = parent_in(teams, ALPHA_CHANNEL)
    wait_until(lambda: text_replies(teams, parent["ts"], ALPHA_CHANNEL), message="result")
    (job,) = db_rows(webhook_bot, "select video_id from jobs")
    event = {"event_type": "avatar_video.success", "event_data": {"video_id": job["video_id"]}}
    body = json.dumps(event).encode()
    route = f"{webhook_bot.url}/heygen/webhook?account={alpha_account}"
    assert HTTP.post(route, content=body, headers=signed(beta_secret, body)).status_code == 401
    assert HTTP.post(route, content=body, headers=signed(alpha_secret, body)).status_code == 200
    unknown = f"{webhook_bot.url}/heygen/webhook?account=nobody"
    assert HTTP.post(unknown, content=body, headers=signed(alpha_secret, body)).status_code == 401


@SQLITE_ONLY
def test_an_org_wide_grid_install_serves_every_workspace_of_the_org(
    dist_bot: ThreadBot, teams: SlackStandIn, sandbox: RunningSandbox
) -> None:
    for team_id, person, channel in (("T0G1", "U0GIL", "C0GIL"), ("T0G2", "U0GUS", "C0GUS")):
        teams.add_team(team_id, f"Grid {team_id}", enterprise_id="E0ORG", enterprise_name="Org")
        teams.add_person(team_id, person, person.lower())
        teams.add_channel(team_id, channel, channel.lower())
    done = install(dist_bot, teams, "E0ORG", org="1", user="U0GIL")
    assert done.status_code == 200 and "is installed" in done.text, done.text
    (row,) = db_rows(dist_bot, "select * from installations")
    assert (row["install_key"], row["is_enterprise_install"]) == ("E0ORG", 1)
    for team_id, person, channel in (("T0G1", "U0GIL", "C0GIL"), ("T0G2", "U0GUS", "C0GUS")):
        assert submit(dist_bot, sandbox, teams.team(team_id), person, channel).status_code == 200
        parent = parent_in(teams, channel)
        wait_until(lambda c=channel, p=parent: text_replies(teams, p["ts"], c), message="result")
    assert {r["enterprise_id"] for r in db_rows(dist_bot, "select * from jobs")} == {"E0ORG"}
    gone = teams.uninstall("E0ORG")
    assert dist_bot.send(gone.app_uninstalled()).status_code == 200
    wait_until(lambda: not db_rows(dist_bot, "select * from installations"), message="gone")


def test_shared_key_lets_workspaces_without_a_key_use_the_bots_account(
    teams: SlackStandIn, sandbox: RunningSandbox, tmp_path
) -> None:
    env = distribution_env(teams, sandbox, str(tmp_path / "bot.db"), SHARE_HEYGEN_API_KEY="true")
    bot = ThreadBot(env)
    try:
        teams.register_app(CLIENT_ID, CLIENT_SECRET, f"{bot.url}/slack/oauth_redirect")
        assert install(bot, teams, ALPHA, user=ANN).status_code == 200
        assert bot.send(sr.app_home_opened(ANN, team=teams.team(ALPHA))).status_code == 200
        wait_until(lambda: "the app's shared account" in home_of(teams, ANN), message="home")
        assert submit(bot, sandbox, teams.team(ALPHA), ANN, ALPHA_CHANNEL).status_code == 200
        parent = parent_in(teams, ALPHA_CHANNEL)
        assert "Sandbox" not in json.dumps(parent["blocks"])
        creates = wait_until(
            lambda: [
                e
                for e in HTTP.get(f"{sandbox.url}/_sandbox/requests").json()["requests"]
                if e["method"] == "POST" and e["path"] == "/v3/videos"
            ],
            message="the create call",
        )
        assert creates[0]["account"] != "alpha"  # the bot's own HEYGEN_API_KEY account
    finally:
        bot.stop()


def shown_in(slack: SlackStandIn, channel: str) -> str:
    """Every announcement and edit the bot sent to `channel`, as one text to search."""
    return " ".join(
        json.dumps(c.params.get("blocks"))
        for c in slack.calls
        if c.method in ("chat.postMessage", "chat.update") and c.params.get("channel") == channel
    )


def give_key(bot: ThreadBot, slack: SlackStandIn, team_id: str, user: str, key: str) -> None:
    assert bot.send(key_submission(slack.team(team_id), user, key)).status_code == 200
    wait_until(
        lambda: any(r["install_key"] == team_id for r in db_rows(bot, "select * from heygen_keys")),
        message=f"{team_id}'s key saved",
    )


def test_each_heygen_account_has_its_own_render_queue(
    installed: ThreadBot, teams: SlackStandIn, sandbox: RunningSandbox
) -> None:
    """Render slots are an account's: Alpha's queue neither delays Beta's videos nor counts
    in Beta's positions."""
    for team_id, user, name in ((ALPHA, ANN, "alpha"), (BETA, BOB, "beta")):
        give_key(installed, teams, team_id, user, new_account(sandbox, name, concurrency=1)[0])
    for script in ("Alpha's long one [sandbox:stall]", "Alpha waits", "Alpha waits more"):
        assert (
            submit(installed, sandbox, teams.team(ALPHA), ANN, ALPHA_CHANNEL, script).status_code
            == 200
        )
    wait_until(lambda: "Queued, position 2" in shown_in(teams, ALPHA_CHANNEL), message="A 2nd")
    for script in ("Beta's long one [sandbox:stall]", "Beta waits"):
        assert (
            submit(installed, sandbox, teams.team(BETA), BOB, BETA_CHANNEL, script).status_code
            == 200
        )
    wait_until(lambda: "Queued, position 1" in shown_in(teams, BETA_CHANNEL), message="B 1st")
    beta_rows = [r for r in db_rows(installed, "select * from jobs") if r["team_id"] == BETA]
    assert [bool(r["video_id"]) for r in sorted(beta_rows, key=lambda r: r["created_at"])] == [
        True,  # Beta's first went straight to HeyGen, Alpha's queue notwithstanding
        False,
    ]
    assert "position 2" not in shown_in(teams, BETA_CHANNEL)
    assert "position 3" not in shown_in(teams, BETA_CHANNEL)


KEY_NOTE = "HeyGen key was rejected"


def test_the_bots_refused_key_holds_only_the_jobs_on_its_account(
    teams: SlackStandIn, sandbox: RunningSandbox, tmp_path, database: dict[str, str]
) -> None:
    """HeyGen revokes the bot's HEYGEN_API_KEY (shared with Alpha): Alpha's video waits and
    Alpha is told; Beta, on its own key, goes on as if nothing happened."""
    env = distribution_env(
        teams, sandbox, str(tmp_path / "bot.db"), SHARE_HEYGEN_API_KEY="true", **database
    )
    bot = ThreadBot(env)
    try:
        teams.register_app(CLIENT_ID, CLIENT_SECRET, f"{bot.url}/slack/oauth_redirect")
        for team_id, installer in ((ALPHA, ANN), (BETA, BOB)):
            assert install(bot, teams, team_id, user=installer).status_code == 200
        give_key(bot, teams, BETA, BOB, new_account(sandbox, "beta")[0])
        choices = first_choices(sandbox, "v3")
        revoked = {"api_key": "a-key-the-bot-does-not-have"}
        HTTP.post(f"{sandbox.url}/_sandbox/api_key", json=revoked).raise_for_status()

        alpha_asks = submit(bot, sandbox, teams.team(ALPHA), ANN, ALPHA_CHANNEL, choices=choices)
        assert alpha_asks.status_code == 200
        wait_until(
            lambda: any(KEY_NOTE in m.get("text", "") for m in teams.messages(ALPHA_CHANNEL)),
            message="Alpha told its video waits for the key",
        )
        beta_asks = submit(bot, sandbox, teams.team(BETA), BOB, BETA_CHANNEL, choices=choices)
        assert beta_asks.status_code == 200
        beta = parent_in(teams, BETA_CHANNEL)
        said = wait_until(
            lambda: text_replies(teams, beta["ts"], BETA_CHANNEL), message="Beta's result"
        )
        assert said and not any(KEY_NOTE in m.get("text", "") for m in teams.messages(BETA_CHANNEL))
        rows = {r["team_id"]: r["status"] for r in db_rows(bot, "select * from jobs")}
        assert rows == {ALPHA: "new", BETA: "completed"}
    finally:
        bot.stop()


def held_by_sandbox(sandbox: RunningSandbox) -> int:
    """How many requests the sandbox holds on a `hang` fault."""
    return HTTP.get(f"{sandbox.url}/_sandbox/faults").json()["held"]


def test_hanging_creates_on_one_account_do_not_hold_another_accounts_video(
    teams: SlackStandIn, sandbox: RunningSandbox, tmp_path
) -> None:
    """Four creates hang at Alpha's HeyGen account (as many as the bot sends to one account
    at once): Beta's video, on its own account, is still created and delivered meanwhile."""
    env = distribution_env(teams, sandbox, str(tmp_path / "bot.db"), HEYGEN_TIMEOUT_SECONDS=120)
    bot = ThreadBot(env)
    try:
        teams.register_app(CLIENT_ID, CLIENT_SECRET, f"{bot.url}/slack/oauth_redirect")
        for team_id, user, name in ((ALPHA, ANN, "alpha"), (BETA, BOB, "beta")):
            assert install(bot, teams, team_id, user=user).status_code == 200
            give_key(bot, teams, team_id, user, new_account(sandbox, name)[0])
        hang = {"path_prefix": "/v3/videos", "method": "POST", "fault": "hang", "times": 4}
        faults = {"next": [hang | {"account": "alpha"}]}
        HTTP.post(f"{sandbox.url}/_sandbox/faults", json=faults).raise_for_status()
        choices = first_choices(sandbox, "v3")
        for n in range(4):
            asked = submit(bot, sandbox, teams.team(ALPHA), ANN, ALPHA_CHANNEL, f"A {n}", choices)
            assert asked.status_code == 200
        wait_until(lambda: held_by_sandbox(sandbox) == 4, timeout=20, message="4 creates hang")

        asked = submit(bot, sandbox, teams.team(BETA), BOB, BETA_CHANNEL, choices=choices)
        assert asked.status_code == 200
        beta = parent_in(teams, BETA_CHANNEL)
        wait_until(
            lambda: text_replies(teams, beta["ts"], BETA_CHANNEL), timeout=30, message="B's result"
        )
        assert held_by_sandbox(sandbox) == 4, "Beta's result came while Alpha's creates hung"

        HTTP.post(f"{sandbox.url}/_sandbox/faults/release").raise_for_status()
        wait_until(
            lambda: len(flows.posts_by_job(teams, "result")) == 5, timeout=30, message="results"
        )
        assert set(flows.posts_by_job(teams, "result").values()) == {1}
        accounts = sorted(e["account"] for e in flows.creates(sandbox))
        assert accounts == ["alpha"] * 4 + ["beta"]  # one create per video, none resent
    finally:
        bot.stop()
