"""/healthz: 503 with the reason while Slack or HeyGen refuses the bot or the database is gone."""

from __future__ import annotations

from collections.abc import Callable

from tests.harness import ThreadBot


def test_healthy_bot_reports_each_service(make_bot: Callable[..., ThreadBot]) -> None:
    bot = make_bot()
    answer = bot.send_get("/healthz")
    assert answer.status_code == 200
    health = answer.json()
    assert health["slack"] == {"ok": True} and health["heygen"]["ok"] is True
    assert health["heygen"]["target"] == "api" and health["database"] == "ok"


def test_rejected_credentials_give_503_naming_slacks_word(
    make_bot: Callable[..., ThreadBot],
) -> None:
    bot = make_bot()
    bot.services.slack_auth.reject("token_revoked")  # as the notifier records it
    answer = bot.send_get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["slack"]["ok"] is False
    assert answer.json()["slack"]["error"] == "token_revoked"
    bot.services.slack_auth.accept()
    bot.services.heygen_auth.reject("401 Unauthorized")
    answer = bot.send_get("/healthz")
    assert answer.status_code == 503 and answer.json()["heygen"]["error"] == "401 Unauthorized"
    bot.services.heygen_auth.accept()
    assert bot.send_get("/healthz").status_code == 200


def test_a_database_that_does_not_answer_gives_503(make_bot: Callable[..., ThreadBot]) -> None:
    bot = make_bot()
    bot.services.store.close()  # the database stops answering, as after losing its disk
    answer = bot.send_get("/healthz")
    assert answer.status_code == 503
    assert answer.json()["database"] == "unavailable" and answer.json()["ok"] is False
