"""Signed, expiring acknowledge links: valid only for their alert, no login needed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

ACK_TTL = timedelta(days=3)


def load_secret(data_dir: Path) -> bytes:
    """``MONITOR_SECRET`` from the environment, else a random key kept in the data directory."""
    env = os.environ.get("MONITOR_SECRET")
    if env:
        return env.encode("utf-8")
    path = data_dir / "secret.key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32).encode("ascii")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        return key


@lru_cache(maxsize=8)
def secret_of(data_dir: Path) -> bytes:
    """``load_secret``, read once per data directory."""
    return load_secret(data_dir)


def _mac(secret: bytes, alert_id: int, expires: int, action: str) -> str:
    msg = f"{action}:{alert_id}:{expires}".encode()
    digest = hmac.new(secret, msg, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def ack_token(secret: bytes, alert_id: int, now: datetime, ttl: timedelta = ACK_TTL) -> str:
    expires = int((now + ttl).timestamp())
    return f"{expires}.{_mac(secret, alert_id, expires, 'ack')}"


def verify_ack(secret: bytes, alert_id: int, token: str, now: datetime) -> str | None:
    """None when valid, else the reason it is not."""
    try:
        exp_s, mac = token.split(".", 1)
        expires = int(exp_s)
    except ValueError:
        return "malformed link"
    if not hmac.compare_digest(mac, _mac(secret, alert_id, expires, "ack")):
        return "invalid signature"
    if now.timestamp() > expires:
        return "link expired"
    return None


# Links with a purpose and a person: 认领/确认 (``ack``) or 静默 1 小时 (``silence``), optionally bound to
# the person they were sent to (the name is then not asked, and cannot be changed).
ACTIONS = ("ack", "silence")


def action_token(
    secret: bytes, alert_id: int, now: datetime, ttl: timedelta, action: str = "ack", person: str = ""
) -> str:
    expires = int((now + ttl).timestamp())
    who = base64.urlsafe_b64encode(person.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{expires}.{who}.{_mac(secret, alert_id, expires, f'{action}:{person}')}"


def verify_action(
    secret: bytes, alert_id: int, token: str, now: datetime, action: str = "ack"
) -> tuple[str | None, str]:
    """(None, person) when valid (person "" for an unbound link), else (the reason, "")."""
    if token.count(".") == 1 and action == "ack":  # links sent before persons were bound
        return verify_ack(secret, alert_id, token, now), ""
    try:
        exp_s, who, mac = token.split(".", 2)
        expires = int(exp_s)
        person = base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return "malformed link", ""
    if not hmac.compare_digest(mac, _mac(secret, alert_id, expires, f"{action}:{person}")):
        return "invalid signature", ""
    if now.timestamp() > expires:
        return "link expired", ""
    return None, person
