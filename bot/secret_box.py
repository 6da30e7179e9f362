"""Secrets at rest (a workspace's HeyGen key): encrypted with Fernet under `ENCRYPTION_KEY`.

A database dump or a backup must not hand out every workspace's HeyGen account, so a key is
stored only as a Fernet token (AES-128-CBC with an HMAC-SHA256 tag, from the `cryptography`
package): text that fits any TEXT column, useless without the encryption key.

`ENCRYPTION_KEY` holds one Fernet key (32 url-safe base64-encoded bytes; print a new one
with `python -m bot.secret_box`) or several, comma-separated: the first encrypts, every one
decrypts. Rotation: put a new key first and restart (old tokens still decrypt), re-encrypt
the stored tokens with `SecretBox.rotate` (`is_current` says which need it), then drop the
old key. A malformed setting stops the program with one line naming `ENCRYPTION_KEY` and
which entry is wrong, never the value; nothing here logs, and no error carries a key, a
token or a plaintext.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .config import ConfigError

SETTING = "ENCRYPTION_KEY"
HINT_MIN_LENGTH = 12  # shorter secrets show no last four: they would give too much away


class SecretBoxError(Exception):
    """Base of the errors below, for callers that treat every one the same."""


class EncryptionKeyError(SecretBoxError, ConfigError):
    """`ENCRYPTION_KEY` is missing or malformed; the message names it, never its value."""


class UndecryptableSecret(SecretBoxError):
    """A token no configured key opens: encrypted under a key since removed, or altered."""


class SecretBox:
    """Encrypts and decrypts small secrets with the keys of `ENCRYPTION_KEY`."""

    def __init__(self, keys: Sequence[str], setting: str = SETTING) -> None:
        if not keys:
            raise EncryptionKeyError(
                f"{setting} is required (make a key with `python -m bot.secret_box`)"
            )
        self._fernets = [_fernet(key, n, len(keys), setting) for n, key in enumerate(keys, 1)]
        self._box = MultiFernet(self._fernets)
        self._setting = setting

    @classmethod
    def from_setting(cls, raw: str | None, setting: str = SETTING) -> SecretBox:
        """The box for a setting's value: one key, or several separated by commas."""
        entries = [entry.strip() for entry in (raw or "").split(",")]
        if entries == [""]:
            return cls([], setting)
        if "" in entries:
            where = entries.index("") + 1
            raise EncryptionKeyError(f"{setting}: entry {where} of {len(entries)} is empty")
        return cls(entries, setting)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SecretBox:
        return cls.from_setting(environ.get(SETTING))

    @staticmethod
    def new_key() -> str:
        """A fresh random key, in the form `ENCRYPTION_KEY` takes."""
        return Fernet.generate_key().decode("ascii")

    @property
    def key_count(self) -> int:
        return len(self._fernets)

    def encrypt(self, plaintext: str) -> str:
        """A token for `plaintext`, under the first key (a new random IV every call)."""
        return self._box.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """The plaintext of a token made under any configured key."""
        try:
            return self._box.decrypt(_bytes(token)).decode("utf-8")
        except InvalidToken:
            raise self._undecryptable() from None

    def rotate(self, token: str) -> str:
        """The same secret re-encrypted under the first key (after a new key was prepended)."""
        try:
            return self._box.rotate(_bytes(token)).decode("ascii")
        except InvalidToken:
            raise self._undecryptable() from None

    def is_current(self, token: str) -> bool:
        """Whether the first key opens this token (False: `rotate` it, or it opens not at all)."""
        try:
            self._fernets[0].decrypt(_bytes(token))
        except InvalidToken:
            return False
        return True

    def _undecryptable(self) -> UndecryptableSecret:
        return UndecryptableSecret(
            f"a stored secret opens with no key in {self._setting} "
            "(encrypted under a key since removed, or altered)"
        )

    def __repr__(self) -> str:
        """Never the keys: only how many there are."""
        return f"SecretBox(keys={self.key_count})"


def last4(secret: str) -> str:
    """The last four characters, to show which key is set (`…abcd`); empty for a secret so
    short that four characters would give most of it away."""
    return secret[-4:] if len(secret) >= HINT_MIN_LENGTH else ""


def _fernet(key: str, n: int, count: int, setting: str) -> Fernet:
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError):
        where = f"entry {n} of {count}" if count > 1 else "the key"
        raise EncryptionKeyError(
            f"{setting}: {where} is not a Fernet key (32 url-safe base64-encoded bytes; "
            "make one with `python -m bot.secret_box`)"
        ) from None


def _bytes(token: str) -> bytes:
    """A token as Fernet takes it; one that is not even ASCII is simply not a token."""
    try:
        return token.encode("ascii")
    except (UnicodeEncodeError, AttributeError):
        raise InvalidToken from None


if __name__ == "__main__":
    print(SecretBox.new_key())
