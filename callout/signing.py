"""The console's secret: signs session cookies and encrypts TOTP secrets, the same in every process.

It is derived (HKDF-SHA256) from `[console] secret_key` when one is set, else from `[privacy] data_key`.
With neither (the embedded defaults) a random secret is made once and kept in the database, so that every
gunicorn worker, and the next start, signs with the same key. Changing its source ends every session and
voids every TOTP enrolment.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from callout.config import Config
from callout.db import insert_new
from callout.models import StoredSecret

STORED_NAME = "console"


def _hkdf(material: bytes, info: bytes) -> bytes:
    """Return 32 bytes derived from material for one purpose."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"callout-console", info=info).derive(material)


def _stored(session: Session, now: datetime) -> bytes:
    """Return the random secret kept in the database, making it first if no process has yet."""
    insert_new(session, StoredSecret, name=STORED_NAME, value=secrets.token_urlsafe(48), created_at=now)
    value = session.scalar(select(StoredSecret.value).where(StoredSecret.name == STORED_NAME))
    assert value is not None
    return value.encode()


def master_secret(session: Session, config: Config, now: datetime) -> bytes:
    """Return the console's master secret (see the module's docstring for where it comes from)."""
    if config.console.secret_key:
        material = b"secret_key:" + config.console.secret_key.encode()
    elif config.privacy.data_key:
        material = b"data_key:" + config.privacy.data_key.encode()
    else:
        material = b"stored:" + _stored(session, now)
    return _hkdf(material, b"master")


def session_key(master: bytes) -> str:
    """Return the key that signs the console's session cookies."""
    return _hkdf(master, b"session cookies").hex()


class SecretBox:
    """Encrypt and decrypt small secrets (TOTP seeds) under a key derived from the master secret."""

    def __init__(self, master: bytes) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(_hkdf(master, b"totp secrets")))

    def seal(self, text: str) -> str:
        """Return the ciphertext of text."""
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, token: str) -> str | None:
        """Return the plain text of token, or None when it was sealed under another key."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None
