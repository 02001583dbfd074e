"""Shop tokens, encrypted at rest.

Access and refresh tokens are sealed with Fernet (``cryptography``: AES-128-CBC + HMAC-SHA256,
authenticated) before they reach the database; the database holds only the sealed box and the
lifetimes. The key is ``MONITOR_TOKEN_KEY`` when set (one Fernet key, or several separated by commas:
the first seals, all open, for rotation); otherwise it is derived with HKDF-SHA256 from the daemon's
secret — ``MONITOR_SECRET``, or ``<data_dir>/secret.key`` that the daemon creates — the secret that also
signs acknowledge links, so every replica already shares it. A box that cannot be opened (the key
changed) is reported as such: re-authorise.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from monitor.store import Store
from monitor.store import models as m

if TYPE_CHECKING:  # cryptography (~7 MB) is imported when a token is sealed or opened (#18 memory)
    from cryptography.fernet import MultiFernet

KEY_ENV = "MONITOR_TOKEN_KEY"
_INFO = b"opinion-monitor shop tokens v1"


class VaultError(Exception):
    """A stored token cannot be used: what happened and what to do."""


@dataclass
class Grant:
    """What an OAuth token answer gives, whatever the platform calls the fields."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    refresh_expires_at: datetime | None
    account: str = ""
    scope: str = ""


def _derived_key(secret: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)
    return base64.urlsafe_b64encode(raw)


def _is_fernet_key(key: bytes) -> bool:
    """What ``Fernet(key)`` accepts: 32 bytes in url-safe base64."""
    try:
        return len(base64.urlsafe_b64decode(key)) == 32
    except ValueError:
        return False


class Box:
    """The token cipher (a ``MultiFernet``), built when a token is first sealed or opened: most
    daemons hold no shop token, and ``cryptography`` costs ~7 MB imported (#18 memory)."""

    def __init__(self, keys: list[bytes] | None = None, secret: bytes | None = None) -> None:
        self._keys, self._secret = keys, secret
        self._fernet: MultiFernet | None = None

    def _multi(self) -> MultiFernet:
        if self._fernet is None:
            from cryptography.fernet import Fernet, MultiFernet

            keys = self._keys if self._keys is not None else [_derived_key(self._secret or b"")]
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        return self._fernet

    def encrypt(self, data: bytes) -> bytes:
        return self._multi().encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        return self._multi().decrypt(token)


def cipher(data_dir: Path) -> Box:
    """The token cipher: ``MONITOR_TOKEN_KEY`` or a key derived from the daemon's secret. A malformed
    ``MONITOR_TOKEN_KEY`` raises ``VaultError`` here, before any token is needed."""
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        try:
            keys = [k.strip().encode("ascii") for k in env.split(",") if k.strip()]
        except UnicodeEncodeError:
            keys = []
        if not keys or not all(_is_fernet_key(k) for k in keys):
            raise VaultError(
                f"{KEY_ENV} is not a Fernet key (32 url-safe base64 bytes; make one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
            )
        return Box(keys=keys)
    from monitor.signing import load_secret

    return Box(secret=load_secret(data_dir))


class TokenVault:
    """Read and write shop tokens; every method is one short transaction."""

    def __init__(self, store: Store, box: Box | MultiFernet) -> None:
        self.store = store
        self.box = box

    def seal(self, grant: Grant) -> str:
        body = {
            "access_token": grant.access_token,
            "refresh_token": grant.refresh_token,
            "scope": grant.scope,
        }
        return self.box.encrypt(json.dumps(body).encode("utf-8")).decode("ascii")

    def open(self, row: m.ShopToken) -> tuple[str, str | None]:
        from cryptography.fernet import InvalidToken

        try:
            body = json.loads(self.box.decrypt(row.secret_box.encode("ascii")))
        except (InvalidToken, ValueError):
            raise VaultError(
                f"the stored token of {row.platform}/{row.shop} cannot be decrypted: the key changed "
                f"(MONITOR_SECRET, {KEY_ENV} or data_dir/secret.key); re-authorise the shop"
            ) from None
        return str(body["access_token"]), body.get("refresh_token")

    def put(self, platform: str, shop: str, grant: Grant, now: datetime, *, refreshed: bool = False) -> None:
        with self.store.transaction() as s:
            row = s.scalar(
                select(m.ShopToken).where(m.ShopToken.platform == platform, m.ShopToken.shop == shop)
            )
            if row is None:
                row = m.ShopToken(platform=platform, shop=shop, obtained_at=now)
                s.add(row)
            row.secret_box = self.seal(grant)
            row.account = grant.account or row.account or ""
            row.expires_at, row.refresh_expires_at = grant.expires_at, grant.refresh_expires_at
            if refreshed:
                row.refreshed_at = now
            else:
                row.obtained_at, row.refreshed_at = now, None
            row.invalid_reason = row.invalid_at = row.warned_at = None

    def get(self, platform: str, shop: str) -> m.ShopToken | None:
        with self.store.session() as s:
            return s.scalar(
                select(m.ShopToken).where(m.ShopToken.platform == platform, m.ShopToken.shop == shop)
            )

    def all(self) -> list[m.ShopToken]:
        with self.store.session() as s:
            return list(s.scalars(select(m.ShopToken).order_by(m.ShopToken.platform, m.ShopToken.shop)))

    def mark_invalid(self, platform: str, shop: str, reason: str, now: datetime) -> bool:
        """Mark the token rejected; True when this is news (it was not marked yet)."""
        with self.store.transaction() as s:
            row = s.scalar(
                select(m.ShopToken).where(m.ShopToken.platform == platform, m.ShopToken.shop == shop)
            )
            if row is None or row.invalid_reason is not None:
                return False
            row.invalid_reason, row.invalid_at = reason[:1000], now
            return True
