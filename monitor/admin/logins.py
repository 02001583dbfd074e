"""Logging in, throttled: per account name and per client address, kept in the database.

The probe sent 200 wrong passwords in 125 s, all answered, and the right one worked straight after.
Now (``web.login``, defaults in brackets): after ``max_failures`` [5] failed logins of one name, or
``max_failures_per_address`` [20] from one address (an IPv6 /64 counts as one), further attempts are
refused for ``lockout`` [1 min] *without checking the password*, doubling with each failure after a
lock up to ``max_lockout`` [15 min]. The counts live in ``login_throttle``: they survive a restart and
every replica sees them. A successful login forgets the account's failures (not the address's: one
valid account must not reset an attacker's address).

No oracle: an unknown name is counted and locked like a real one and costs the same argon2 check
(``users.authenticate``); a locked name answers the same whether or not it exists. Every failure and
every lock is logged with the name (``%r``: no forged log lines) and the address, never the password;
refusals while locked at INFO.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.admin.users import authenticate
from monitor.config.settings import Login
from monitor.store import Store, accounts
from monitor.store import models as m

__all__ = ["Attempt", "address_key", "attempt", "lock_for", "locks", "minutes_left", "unlock"]

log = logging.getLogger(__name__)
MAX_NAME = 80  # longer names cannot exist (users.add_user); keys stay bounded


@dataclass(frozen=True)
class Attempt:
    """The outcome of one login: the user, or why not (``locked_until`` set: throttled)."""

    user: m.User | None
    locked_until: datetime | None = None


def address_key(address: str) -> str:
    """``addr:<address>``, an IPv6 address by its /64 (one subscriber's whole prefix)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address[:100]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"addr:{ip.ipv4_mapped}"
        return f"addr:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"addr:{ip}"


def _user_key(name: str) -> str:
    return f"user:{name[:MAX_NAME]}"


def lock_for(failures: int, threshold: int, policy: Login) -> timedelta | None:
    """The lock ``failures`` earn: none below the threshold, then ``lockout`` doubling per failure."""
    if failures < threshold:
        return None
    doublings = min(failures - threshold, 30)
    lock: timedelta = min(policy.lockout * (2**doublings), policy.max_lockout)
    return lock


def minutes_left(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


def attempt(store: Store, policy: Login, name: str, password: str, address: str, now: datetime) -> Attempt:
    """Check ``name``/``password`` from ``address`` unless throttled; count a failure."""
    keys = [_user_key(name), address_key(address)]
    with store.session() as s:
        until = accounts.login_locked_until(s, keys, now)
    if until is not None:  # the lock itself was logged when it started; this is the attacker's volume
        log.info("登录被拒 login refused (locked until %s) for %r from %s", until.isoformat(), name, address)
        return Attempt(None, until)
    user = authenticate(store, name, password, now)
    if user is not None:
        with store.transaction() as s:
            accounts.clear_logins(s, [keys[0]])
        log.info("login of %r from %s", name, address)
        return Attempt(user)
    forget_before = now - policy.forget_after
    locked: list[tuple[str, int, datetime]] = []
    with store.transaction() as s:
        counts = [accounts.login_failure(s, key, now, forget_before) for key in keys]
        for key, n, threshold in zip(
            keys, counts, (policy.max_failures, policy.max_failures_per_address), strict=True
        ):
            lock = lock_for(n, threshold, policy)
            if lock is not None:
                accounts.lock_login(s, key, now + lock)
                locked.append((key, n, now + lock))
        accounts.purge_logins(s, forget_before, now)
    log.warning(
        "登录失败 login failed for %r from %s (%d failures of the name, %d from the address)",
        name,
        address,
        *counts,
    )
    for key, n, end in locked:
        log.warning("登录锁定 %s locked until %s after %d failed logins", key, end.isoformat(), n)
    return Attempt(None, max((end for _, _, end in locked), default=None))


def unlock(store: Store, who: str) -> int:
    """Forget the failures and lock of a user name or a client address (``monitor users unlock``)."""
    keys = [_user_key(who), address_key(who)]
    with store.transaction() as s:
        return accounts.clear_logins(s, keys)


def locks(store: Store, now: datetime) -> list[m.LoginThrottle]:
    """The account names and addresses locked now."""
    return accounts.login_locks(store, now)
