"""Keeping shop authorisations alive: tokens for the adapters, refreshed before they expire, and the
admins told when one was rejected or is about to lapse.

* A token is refreshed when less than a quarter of its lifetime (at least an hour) is left: lazily
  when a poll asks for it, and by the periodic check, so a shop whose sources poll rarely stays valid.
  On PostgreSQL the row is locked while refreshing, so two replicas never spend one refresh token.
* ``WARN_BEFORE`` (7 days) before an authorisation lapses for good — the refresh token's end, or the
  access token's when it cannot be refreshed — the admins get a "授权即将到期" alert; a rejected token
  (the platform says the session is invalid) raises a "请重新授权" alert at once. Both resolve when
  the shop is authorised again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from monitor.adapters.credentials import TokenUnavailable
from monitor.adapters.merchant_api import MerchantApiConfig, env_value
from monitor.config import Config
from monitor.shopauth.alerts import raise_admin_alert, resolve_admin_alert
from monitor.shopauth.oauth import OAuthApp, OAuthError, refresh
from monitor.shopauth.vault import TokenVault, VaultError
from monitor.store import models as m

log = logging.getLogger(__name__)
WARN_BEFORE = timedelta(days=7)
KINDS = {"taobao": "taobao_traderates", "jd": "jd_vender_comments", "kuaishou": "kuaishou_comments"}
COMMAND = "monitor auth {platform} --shop {shop}"


def oauth_app(config: Config, platform: str, shop: str) -> OAuthApp | None:
    """The app credentials and OAuth URLs of the first source of ``platform`` for ``shop``."""
    for src in config.sources.values():
        if src.kind == KINDS.get(platform) and isinstance(src, MerchantApiConfig) and src.shop == shop:
            return OAuthApp(
                platform,
                env_value(src.app_key, "app_key"),
                env_value(src.app_secret, "app_secret"),
                src.authorize_url,
                src.token_url,
                src.refresh_url,
            )
    return None


def lapse_at(row: m.ShopToken) -> datetime | None:
    return row.refresh_expires_at or row.expires_at


def refresh_due(row: m.ShopToken, now: datetime) -> bool:
    if row.expires_at is None or row.invalid_reason is not None:
        return False
    start = row.refreshed_at or row.obtained_at
    margin = max((row.expires_at - start) / 4, timedelta(hours=1))
    return row.expires_at - now <= margin


def _keys(platform: str, shop: str) -> tuple[str, str]:
    return f"shop_auth:{platform}:{shop}:invalid", f"shop_auth:{platform}:{shop}:lapse"


class StoreTokenProvider:
    """The token provider of a process that has the database (daemon, try-source, console)."""

    def __init__(self, vault: TokenVault, config: Callable[[], Config], client: httpx.Client) -> None:
        self.vault = vault
        self.config = config
        self.client = client

    # ---- adapters ------------------------------------------------------------------------------
    def access_token(self, platform: str, shop: str, now: datetime) -> str:
        how = COMMAND.format(platform=platform, shop=shop)
        try:
            row = self.vault.get(platform, shop)
        except SQLAlchemyError as exc:
            raise TokenUnavailable(
                f"the token store cannot be read ({type(exc).__name__}): `monitor db upgrade`, then `{how}`"
            ) from None
        if row is None:
            raise TokenUnavailable(f"shop {platform}/{shop} is not authorised yet: run `{how}`")
        if row.invalid_reason is not None:
            raise TokenUnavailable(
                f"店铺授权失效 {platform}/{shop}: {row.invalid_reason}; re-authorise: `{how}`"
            )
        if refresh_due(row, now):
            try:
                row = self.refresh(platform, shop, now) or row
            except (OAuthError, VaultError, KeyError) as exc:
                log.warning("shop %s/%s: refresh failed: %s", platform, shop, exc)
        if row.expires_at is not None and row.expires_at <= now:
            raise TokenUnavailable(
                f"店铺授权已过期 {platform}/{shop} expired {row.expires_at:%Y-%m-%d}: `{how}`"
            )
        try:
            return self.vault.open(row)[0]
        except VaultError as exc:
            raise TokenUnavailable(str(exc)) from None

    def report_invalid(self, platform: str, shop: str, source: str, reason: str, now: datetime) -> None:
        if not self.vault.mark_invalid(platform, shop, reason, now):
            return
        how = COMMAND.format(platform=platform, shop=shop)
        with self.vault.store.transaction() as s:
            raise_admin_alert(
                s,
                self.config(),
                now,
                key=_keys(platform, shop)[0],
                platform=platform,
                source=source,
                title=f"店铺授权失效，请重新授权 re-authorise shop: {platform}/{shop}",
                summary=f"{platform} rejected the shop's token ({reason}). Run `{how}` or use the console's "
                "店铺授权 page; the sources of this shop are blocked until then.",
            )

    # ---- refresh and warnings ------------------------------------------------------------------
    def refresh(self, platform: str, shop: str, now: datetime, *, force: bool = False) -> m.ShopToken | None:
        """Refresh the token if (still) due; the row as it is afterwards."""
        app = oauth_app(self.config(), platform, shop)
        if app is None:
            raise OAuthError(f"no {KINDS[platform]} source with shop {shop!r} names the app to refresh with")
        with self.vault.store.transaction() as s:
            q = select(m.ShopToken).where(m.ShopToken.platform == platform, m.ShopToken.shop == shop)
            row = s.scalar(q.with_for_update())
            if row is None or not (force or refresh_due(row, now)):
                return row  # another replica refreshed it meanwhile
            _access, refresh_token = self.vault.open(row)
            if not refresh_token:
                return row
            grant = refresh(self.client, app, refresh_token, now)
            row.secret_box = self.vault.seal(grant)
            row.expires_at = grant.expires_at
            row.refresh_expires_at = grant.refresh_expires_at or row.refresh_expires_at
            row.refreshed_at, row.warned_at = now, None
            log.info("shop %s/%s: token refreshed, valid until %s", platform, shop, row.expires_at)
            return row

    def check(self, now: datetime) -> dict[str, int]:
        """The periodic job: refresh what is due, warn about what lapses soon."""
        done = {"refreshed": 0, "warned": 0, "failed": 0}
        for row in self.vault.all():
            if row.invalid_reason is not None:
                continue
            if refresh_due(row, now):
                try:
                    if self.refresh(row.platform, row.shop, now):
                        done["refreshed"] += 1
                except (OAuthError, VaultError, KeyError) as exc:
                    done["failed"] += 1
                    log.warning("shop %s/%s: refresh failed: %s", row.platform, row.shop, exc)
                row = self.vault.get(row.platform, row.shop) or row
            end = lapse_at(row)
            if end is not None and end - now <= WARN_BEFORE and self._warn(row, end, now):
                done["warned"] += 1
        return done

    def _warn(self, row: m.ShopToken, end: datetime, now: datetime) -> bool:
        how = COMMAND.format(platform=row.platform, shop=row.shop)
        tz = self.config().settings.tz
        days = max(0, (end - now).days)
        with self.vault.store.transaction() as s:
            raised = raise_admin_alert(
                s,
                self.config(),
                now,
                key=_keys(row.platform, row.shop)[1],
                platform=row.platform,
                source=None,
                severity="medium",
                title=f"店铺授权即将到期 shop authorisation lapses in {days} days: {row.platform}/{row.shop}",
                summary=f"It ends {end.astimezone(tz):%Y-%m-%d %H:%M %Z} and cannot be refreshed past that. "
                f"Authorise the shop again before then: `{how}` or the console's 店铺授权 page.",
            )
            if raised:
                stored = s.get(m.ShopToken, row.id)
                if stored is not None:
                    stored.warned_at = now
        return raised

    def resolve(self, platform: str, shop: str, now: datetime) -> None:
        """After a new authorisation: close the shop's open alerts."""
        with self.vault.store.transaction() as s:
            for key in _keys(platform, shop):
                resolve_admin_alert(
                    s, self.config(), now, key=key, summary=f"恢复 {platform}/{shop} authorised again"
                )
