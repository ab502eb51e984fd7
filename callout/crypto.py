"""Encryption at rest of contact details, and keyed hashes to find them without storing them."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class InvalidKey(ValueError):
    """A data_key that is not a Fernet key."""


def check_key(key: str) -> None:
    """Raise InvalidKey unless key is a Fernet key."""
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        raise InvalidKey("not a Fernet key (32 url-safe base64-encoded bytes)") from None


def new_key() -> str:
    """Return a new random data_key."""
    return Fernet.generate_key().decode()


class Vault:
    """Encrypt and decrypt contact details with data_key; the first key encrypts, all decrypt."""

    def __init__(self, key: str, *old_keys: str) -> None:
        for k in (key, *old_keys):
            check_key(k)
        self._fernet = MultiFernet([Fernet(k.encode()) for k in (key, *old_keys)])
        self._mac_key = hashlib.sha256(b"callout-contact-key:" + key.encode()).digest()

    def encrypt(self, text: str) -> str:
        """Return the ciphertext of text."""
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str | None:
        """Return the plain text of token, or None if no key opens it."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None

    def rotate(self, token: str) -> str:
        """Return token re-encrypted under the first key; raise InvalidToken if no key opens it."""
        return self._fernet.rotate(token.encode()).decode()

    def lookup_key(self, number: str) -> str:
        """Return a keyed hash of a phone number: finds a sender's open request, reveals nothing."""
        return hmac.new(self._mac_key, number.encode(), hashlib.sha256).hexdigest()


def sid_hash(sid: str) -> str:
    """Return a digest of a provider message id, kept only to process a retry once."""
    return hashlib.sha256(sid.encode()).hexdigest()
