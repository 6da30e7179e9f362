"""Secrets at rest: HeyGen keys encrypted under ENCRYPTION_KEY, with rotation."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from bot.config import ConfigError
from bot.secret_box import (
    EncryptionKeyError,
    SecretBox,
    SecretBoxError,
    UndecryptableSecret,
    last4,
)

HEYGEN_KEY = "sk_V2_hgu_kx9Example_PlainTextKey_1234"
OLD, NEW = SecretBox.new_key(), SecretBox.new_key()


def test_round_trip_never_shows_the_plaintext() -> None:
    box = SecretBox.from_setting(OLD)
    token = box.encrypt(HEYGEN_KEY)
    assert HEYGEN_KEY not in token and "1234" not in token
    assert box.decrypt(token) == HEYGEN_KEY
    assert box.encrypt(HEYGEN_KEY) != token  # a fresh IV every time
    assert box.decrypt(box.encrypt("ключ · 鍵")) == "ключ · 鍵"
    assert OLD not in repr(box) and repr(box) == "SecretBox(keys=1)"


def test_rotation_prepends_a_key_and_re_encrypts_under_it() -> None:
    stored = SecretBox.from_setting(OLD).encrypt(HEYGEN_KEY)
    both = SecretBox.from_setting(f"{NEW}, {OLD}")
    assert both.key_count == 2
    assert both.decrypt(stored) == HEYGEN_KEY  # old tokens open while the rotation runs
    assert not both.is_current(stored)
    rotated = both.rotate(stored)
    assert both.is_current(rotated) and both.rotate(rotated) != rotated
    new_only = SecretBox.from_setting(NEW)
    assert new_only.decrypt(rotated) == HEYGEN_KEY  # the old key can now be dropped
    assert new_only.decrypt(both.encrypt("fresh")) == "fresh"  # the first key encrypts
    with pytest.raises(UndecryptableSecret):
        SecretBox.from_setting(OLD).decrypt(rotated)


@pytest.mark.parametrize(
    "token",
    [
        "from-another-key",  # replaced below by a real token under another key
        "not a token at all",
        "",
        "ключ",
    ],
)
def test_a_token_no_key_opens_is_a_typed_error_that_shows_nothing(token: str) -> None:
    if token == "from-another-key":
        token = SecretBox.from_setting(NEW).encrypt(HEYGEN_KEY)
    box = SecretBox.from_setting(OLD)
    for attempt in (box.decrypt, box.rotate):
        with pytest.raises(UndecryptableSecret) as refused:
            attempt(token)
        assert isinstance(refused.value, SecretBoxError)
        message = str(refused.value)
        assert "ENCRYPTION_KEY" in message and "\n" not in message
        assert OLD not in message and (not token or token not in message)
    assert not box.is_current(token)


def test_an_altered_token_is_refused() -> None:
    box = SecretBox.from_setting(OLD)
    token = box.encrypt(HEYGEN_KEY)
    flipped = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(UndecryptableSecret):
        box.decrypt(flipped)


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (None, "is required"),
        ("", "is required"),
        ("  ", "is required"),
        ("not-base64-at-all!", "the key is not a Fernet key"),
        ("c2hvcnQ=", "the key is not a Fernet key"),  # valid base64, too short
        (f"{NEW},oops-secret-value", "entry 2 of 2 is not a Fernet key"),
        (f"{NEW},,{OLD}", "entry 2 of 3 is empty"),
        (f"{NEW},", "entry 2 of 2 is empty"),
        ("ключ", "the key is not a Fernet key"),
    ],
    ids=["unset", "empty", "blank", "not-base64", "short", "second-bad", "gap", "trailing", "utf8"],
)
def test_a_malformed_setting_is_one_line_naming_it_never_its_value(
    raw: str | None, where: str
) -> None:
    with pytest.raises(EncryptionKeyError) as refused:
        SecretBox.from_env({} if raw is None else {"ENCRYPTION_KEY": raw})
    message = str(refused.value)
    assert message.startswith("ENCRYPTION_KEY") and where in message and "\n" not in message
    for part in (raw or "").split(","):
        assert not part.strip() or part.strip() not in message
    assert isinstance(refused.value, ConfigError)  # stops the program like any bad setting
    error = refused.value  # nothing chained that could carry the value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_nothing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    box = SecretBox.from_setting(f"{NEW},{OLD}")
    token = box.rotate(SecretBox.from_setting(OLD).encrypt(HEYGEN_KEY))
    box.decrypt(token)
    with pytest.raises(UndecryptableSecret):
        SecretBox.from_setting(OLD).decrypt(token)
    assert HEYGEN_KEY not in caplog.text and NEW not in caplog.text and OLD not in caplog.text


def test_last4_shows_only_the_end_of_a_long_key() -> None:
    assert last4(HEYGEN_KEY) == "1234"
    assert last4("short-key") == ""  # four characters would give most of it away
    assert last4("") == ""


def test_python_m_prints_a_key_the_setting_takes() -> None:
    made = subprocess.run(
        [sys.executable, "-m", "bot.secret_box"], capture_output=True, text=True, check=True
    )
    key = made.stdout.strip()
    box = SecretBox.from_setting(key)
    assert box.decrypt(box.encrypt("x")) == "x"
