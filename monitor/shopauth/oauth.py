"""The OAuth 2 code flow of each merchant open platform, as documented.

* **Taobao (TOP)**: ``oauth.taobao.com/authorize?response_type=code&client_id&redirect_uri&state&view=web``;
  code and refresh exchanges are POSTed to ``oauth.taobao.com/token`` (``grant_type=authorization_code``
  / ``refresh_token``, ``client_id``, ``client_secret``); the answer has ``expires_in`` and
  ``re_expires_in`` (how long the refresh token lasts; 0: it cannot refresh) and ``taobao_user_nick``.
  TOP also offers ``taobao.top.auth.token.create`` for the exchange; which one new apps must use is
  unconfirmed, so the token URL is configurable.
* **JD (JOS)**: ``open-oauth.jd.com/oauth2/to_login?app_key&response_type=code&redirect_uri&state&scope``;
  ``GET /oauth2/access_token?app_key&app_secret&grant_type=authorization_code&code`` and
  ``GET /oauth2/refresh_token?…&grant_type=refresh_token&refresh_token``. How long a JD refresh token
  lasts is not stated: the access token's expiry is taken as the lapse date.
* **Kuaishou**: ``open.kwaixiaodian.com/oauth/authorize?app_id&redirect_uri&scope&response_type=code&state``;
  ``GET openapi.kwaixiaodian.com/oauth2/access_token?app_id&grant_type=code&code&app_secret`` and
  ``POST /oauth2/refresh_token`` (``grant_type=refresh_token``); access tokens last 48 h, refresh tokens
  180 days and keep their first expiry across refreshes; ``result: 1`` is success.

Every call goes to the configured URLs (tests point them at a loopback server).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlencode

import httpx

from monitor.shopauth.vault import Grant

PLATFORMS = ("taobao", "jd", "kuaishou")


class OAuthError(Exception):
    """The platform refused the exchange; the message carries its own words."""


@dataclass(frozen=True)
class OAuthApp:
    platform: str
    app_key: str
    app_secret: str
    authorize_url: str
    token_url: str
    refresh_url: str | None = None
    scope: str = ""


def authorize_link(app: OAuthApp, redirect_uri: str, state: str) -> str:
    """The page the shop owner opens, logs in on, and approves."""
    if app.platform == "taobao":
        q = {
            "response_type": "code",
            "client_id": app.app_key,
            "redirect_uri": redirect_uri,
            "state": state,
            "view": "web",
        }
    elif app.platform == "jd":
        q = {
            "app_key": app.app_key,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": app.scope or "snsapi_base",
        }
    else:
        q = {
            "app_id": app.app_key,
            "redirect_uri": redirect_uri,
            "scope": app.scope or "merchant_comment",
            "response_type": "code",
            "state": state,
        }
    sep = "&" if "?" in app.authorize_url else "?"
    return f"{app.authorize_url}{sep}{urlencode(q)}"


def _seconds(value: Any) -> int | None:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


def _json(resp: httpx.Response, what: str) -> Mapping[str, Any]:
    try:
        doc = resp.json()
    except ValueError:
        raise OAuthError(f"{what}: HTTP {resp.status_code}, not JSON: {resp.text[:120]!r}") from None
    if not isinstance(doc, dict):
        raise OAuthError(f"{what}: HTTP {resp.status_code}, unexpected answer")
    return doc


def _grant(app: OAuthApp, doc: Mapping[str, Any], now: datetime, what: str) -> Grant:
    error = doc.get("error") or doc.get("error_description") or doc.get("error_msg")
    failed = (app.platform == "kuaishou" and doc.get("result") != 1) or (
        app.platform == "jd" and str(doc.get("code", "0")) not in ("0", "")
    )
    if failed or error or not doc.get("access_token"):
        said = (
            doc.get("error_description")
            or doc.get("error_msg")
            or doc.get("msg")
            or error
            or "no access_token"
        )
        raise OAuthError(f"{what} refused by {app.platform}: {said}")
    expires = _seconds(doc.get("expires_in"))
    if app.platform == "taobao":
        refresh_s, account = (
            _seconds(doc.get("re_expires_in")),
            unquote(str(doc.get("taobao_user_nick") or "")),
        )
    elif app.platform == "kuaishou":
        refresh_s, account = _seconds(doc.get("refresh_token_expires_in")), str(doc.get("open_id") or "")
    else:
        refresh_s, account = None, str(doc.get("uid") or doc.get("open_id") or "")
    raw_scopes = doc.get("scopes")
    scopes: list[Any] = raw_scopes if isinstance(raw_scopes, list) else [doc.get("scope") or ""]
    return Grant(
        access_token=str(doc["access_token"]),
        refresh_token=str(doc["refresh_token"]) if doc.get("refresh_token") else None,
        expires_at=now + timedelta(seconds=expires) if expires else None,
        refresh_expires_at=now + timedelta(seconds=refresh_s) if refresh_s else None,
        account=account,
        scope=",".join(str(s) for s in scopes if s),
    )


def exchange_code(client: httpx.Client, app: OAuthApp, code: str, redirect_uri: str, now: datetime) -> Grant:
    try:
        if app.platform == "taobao":
            resp = client.post(
                app.token_url,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "client_id": app.app_key,
                    "client_secret": app.app_secret,
                    "redirect_uri": redirect_uri,
                    "view": "web",
                },
            )
        elif app.platform == "jd":
            resp = client.get(
                app.token_url,
                params={
                    "app_key": app.app_key,
                    "app_secret": app.app_secret,
                    "grant_type": "authorization_code",
                    "code": code,
                },
            )
        else:
            resp = client.get(
                app.token_url,
                params={
                    "app_id": app.app_key,
                    "grant_type": "code",
                    "code": code,
                    "app_secret": app.app_secret,
                },
            )
    except httpx.HTTPError as exc:
        raise OAuthError(
            f"the {app.platform} token endpoint cannot be reached: {type(exc).__name__}"
        ) from None
    return _grant(app, _json(resp, "code exchange"), now, "code exchange")


def refresh(client: httpx.Client, app: OAuthApp, refresh_token: str, now: datetime) -> Grant:
    url = app.refresh_url or app.token_url
    try:
        if app.platform == "taobao":
            resp = client.post(
                url,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token,
                    "client_id": app.app_key,
                    "client_secret": app.app_secret,
                },
            )
        elif app.platform == "jd":
            resp = client.get(
                url,
                params={
                    "app_key": app.app_key,
                    "app_secret": app.app_secret,
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token,
                },
            )
        else:
            resp = client.post(
                url,
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token,
                    "app_id": app.app_key,
                    "app_secret": app.app_secret,
                },
            )
    except httpx.HTTPError as exc:
        raise OAuthError(
            f"the {app.platform} token endpoint cannot be reached: {type(exc).__name__}"
        ) from None
    return _grant(app, _json(resp, "token refresh"), now, "token refresh")
