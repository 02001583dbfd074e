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

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from monitor.store import Store
from monitor.store import models as m

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
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)
    return base64.urlsafe_b64encode(raw)


def cipher(data_dir: Path) -> MultiFernet:
    """The token cipher: ``MONITOR_TOKEN_KEY`` or a key derived from the daemon's secret."""
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        try:
            return MultiFernet([Fernet(k.strip().encode("ascii")) for k in env.split(",") if k.strip()])
        except (ValueError, UnicodeEncodeError):
            raise VaultError(
                f"{KEY_ENV} is not a Fernet key (32 url-safe base64 bytes; make one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`)"
            ) from None
    from monitor.signing import load_secret

    return MultiFernet([Fernet(_derived_key(load_secret(data_dir)))])


class TokenVault:
    """Read and write shop tokens; every method is one short transaction."""

    def __init__(self, store: Store, box: MultiFernet) -> None:
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
