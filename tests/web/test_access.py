"""Every route refuses unauthenticated and wrong-role callers. Routes are enumerated from
``app.routes``: a new route without a permission fails here."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from monitor.admin.users import ROLES, create_token
from monitor.web import PUBLIC_PATHS, create_app
from monitor.web.auth import PERMISSIONS, ROLE_PERMISSIONS
from tests.conftest import NOW
from tests.web.conftest import login


def concrete(path: str, ids: dict[str, int]) -> str:
    values = {
        "alert_id": ids["alert"],
        "incident_id": ids["incident"],
        "step_id": ids["step"],
        "item_id": ids["item"],
        "report_id": 1,
        "version_id": 1,
        "name": "default.yaml",
        "sop_id": "negative_burst",
    }
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda mt: str(values[mt.group(1)]), path)


def guarded(app: Any) -> list[tuple[str, str, str]]:
    """(method, path, permission) of every non-public route; fails on a route without permission."""
    out = []
    for r in app.routes:
        if isinstance(r, Mount):
            assert r.path in PUBLIC_PATHS, f"mount {r.path} is not on the public allow-list"
            continue
        assert isinstance(r, Route)
        if r.path in PUBLIC_PATHS:
            continue
        perm = getattr(r.endpoint, "permission", None)
        assert perm in PERMISSIONS, f"route {r.path} has no permission (wrap it with page() or api())"
        for method in sorted((r.methods or set()) - {"HEAD"}):
            out.append((method, r.path, perm))
    return out


def test_every_route_is_known(app: Any) -> None:
    routes = guarded(app)
    assert len(routes) > 30
    assert {p for _, p, _ in routes if p.startswith("/api/v1")}


def test_unauthenticated_is_refused(app: Any, client: TestClient, ids: dict[str, int]) -> None:
    for method, path, _ in guarded(app):
        r = client.request(method, concrete(path, ids), follow_redirects=False)
        if path.startswith("/api/"):
            assert r.status_code == 401, (method, path, r.status_code)
        elif method == "GET":
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), (method, path)
        else:
            assert r.status_code == 401, (method, path, r.status_code)


@pytest.mark.parametrize("role", ROLES)
def test_wrong_role_is_refused_and_right_role_passes(
    app: Any, daemon: Any, client: TestClient, ids: dict[str, int], role: str
) -> None:
    csrf = login(client, role)
    token = create_token(daemon.store, role, "test", NOW)
    allowed = ROLE_PERMISSIONS[role]
    for method, path, perm in guarded(app):
        url = concrete(path, ids)
        if path.startswith("/api/"):
            r = client.request(method, url, headers={"Authorization": f"Bearer {token}"}, json={})
        elif path == "/logout":
            continue  # would end the session the loop uses
        else:
            r = client.request(
                method, url, data={"csrf": csrf} if method == "POST" else None, follow_redirects=False
            )
        if perm in allowed:
            assert r.status_code not in (401, 403), (role, method, path, r.status_code, r.text[:300])
        else:
            assert r.status_code == 403, (role, method, path, r.status_code)


def test_post_without_csrf_is_refused(client: TestClient, ids: dict[str, int], daemon: Any) -> None:
    login(client, "admin")
    r = client.post(f"/alerts/{ids['alert']}/ack", data={}, follow_redirects=False)
    assert r.status_code == 403
    r = client.post(f"/alerts/{ids['alert']}/ack", data={"csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    with daemon.store.session() as s:
        from monitor.store import models as m

        assert s.get(m.Alert, ids["alert"]).state == "firing"


def test_login_rejects_wrong_password_and_sets_safe_cookie(client: TestClient) -> None:
    r = client.get("/login")
    csrf = r.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = client.post("/login", data={"name": "admin", "password": "wrong password", "csrf": csrf})
    assert r.status_code == 401
    r = client.get("/login")
    csrf = r.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = client.post(
        "/login",
        data={"name": "admin", "password": "correct horse battery", "csrf": csrf, "next": "//evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie


def test_login_form_needs_its_csrf_cookie(client: TestClient) -> None:
    r = client.post("/login", data={"name": "admin", "password": "correct horse battery", "csrf": "x"})
    assert r.status_code == 403


def test_ack_link_still_works_without_login(client: TestClient, daemon: Any, ids: dict[str, int]) -> None:
    from monitor.alerting.compose import ack_url

    url = ack_url(daemon.config, ids["alert"], NOW)
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200
    token = path.split("?t=", 1)[1]
    r = client.post(f"/ack/{ids['alert']}", data={"t": token, "by": "王五"})
    assert r.status_code == 200 and "已确认" in r.text
    assert client.post(f"/ack/{ids['alert'] + 1}", data={"t": token, "by": "x"}).status_code == 403


def test_english_on_request(client: TestClient) -> None:
    login(client, "viewer")
    assert "Reviews" in client.get("/items?lang=en").text
    assert "Reviews" in client.get("/items").text  # kept in a cookie
    assert "评价看板" in client.get("/items?lang=zh").text


def test_settings_mask_secrets(client: TestClient, daemon: Any) -> None:
    login(client, "admin")
    text = client.get("/settings").text
    assert "json://12***" in text or "***" in text
    assert "127.0.0.1:9/hook" not in text


# ---- page-derived URLs, the CSP, gaps on /sources ----------------------------------------------
def _item_with_url(daemon: Any, ext: str, url: str, platform: str = "jd") -> None:
    """Stored as older versions stored it (before URLs were checked at the door)."""
    from datetime import timedelta

    from monitor.store import models as m

    with daemon.store.transaction() as s:
        s.add(m.Item(source="jd-cup", platform=platform, external_id=ext, text=f"评价 {ext}", url=url,
                     published_at=NOW - timedelta(minutes=5), fetched_at=NOW, updated_at=NOW,
                     payload_hash=ext, attrs={}))  # fmt: skip


def test_the_review_board_links_only_to_the_platforms_own_http_hosts(
    client: TestClient, daemon: Any, ids: dict[str, int]
) -> None:
    _item_with_url(daemon, "xss1", "javascript:fetch('/settings').then(r=>r.text()).then(alert)")
    _item_with_url(daemon, "xss2", "JAVA\tSCRIPT:alert(1)")
    _item_with_url(daemon, "xss3", "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==")
    _item_with_url(daemon, "foreign", "https://phishing.example/jd-login")
    _item_with_url(daemon, "disguised", "https://phishing.example\\@item.jd.com/")  # browsers: phishing
    _item_with_url(daemon, "own", "https://item.jd.com/100012043978.html")
    login(client, "viewer")
    page = client.get("/items")
    assert page.status_code == 200
    hrefs = re.findall(r'href="([^"]*)"', page.text)
    assert not [h for h in hrefs if "script" in h.lower() or h.startswith("data:") or "phishing" in h], hrefs
    assert "https://item.jd.com/100012043978.html" in hrefs
    for ext in ("xss1", "xss2", "xss3", "foreign", "disguised"):
        assert f"评价 {ext}" in page.text  # the review itself is still shown, as text


def _header_problems(r: Any, https: bool = False) -> list[str]:
    h = r.headers
    csp = h.get("content-security-policy", "")
    wanted = ("script-src 'self' 'nonce-", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'")
    out = [f"CSP lacks {w}" for w in wanted if w not in csp]
    if "unsafe-inline" in csp.split("script-src", 1)[1].split(";", 1)[0]:
        out.append("inline scripts allowed")
    for name, value in (
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
    ):
        if h.get(name) != value:
            out.append(f"{name}: {h.get(name)!r}")
    if ("strict-transport-security" in h) != https:
        out.append(f"HSTS {h.get('strict-transport-security')!r} with https={https}")
    if not r.url.path.startswith("/static/") and h.get("cache-control") != "no-store":
        out.append(f"cache-control {h.get('cache-control')!r}")
    return out


def test_every_response_carries_the_security_headers(
    app: Any, client: TestClient, daemon: Any, ids: dict[str, int]
) -> None:
    """Every route (enumerated), as a visitor and as an admin, errors and redirects included, and the
    acknowledge page: CSP without inline script, no framing, nosniff, no referrer, no caching."""
    from monitor.alerting.compose import ack_url

    ack = "/" + ack_url(daemon.config, ids["alert"], NOW).split("://", 1)[1].split("/", 1)[1]
    public = ["/login", "/healthz", "/readyz", "/metrics", "/static/style.css", ack, "/ack/1?t=forged"]
    gets = [concrete(p, ids) for method, p, _ in guarded(app) if method == "GET"]
    missing = ["/no-such-page", "/alerts/987654", "/api/v1/items/987654"]
    problems: dict[str, list[str]] = {}
    for who in ("visitor", "admin"):
        if who == "admin":
            login(client, "admin")
        for path in [*public, *gets, *missing]:
            r = client.get(path, follow_redirects=False)
            problems.update({f"{who} GET {path} {r.status_code}": p for p in [_header_problems(r)] if p})
        for method, path, _ in guarded(app):
            if method == "POST":  # refused (no CSRF token): the refusal carries them too
                r = client.post(concrete(path, ids), data={}, follow_redirects=False)
                problems.update({f"{who} POST {path} {r.status_code}": p for p in [_header_problems(r)] if p})
    assert problems == {}
    nonces = {client.get("/login").headers["content-security-policy"].split("'nonce-")[1][:22] for _ in "ab"}
    assert len(nonces) == 2  # one per response


def test_https_base_url_adds_hsts(daemon: Any) -> None:
    import dataclasses

    web = daemon.config.settings.web.model_copy(update={"base_url": "https://monitor.example.com"})
    settings = daemon.config.settings.model_copy(update={"web": web})
    daemon.config = dataclasses.replace(daemon.config, settings=settings)
    with TestClient(create_app(daemon)) as c:
        for path in ("/login", "/healthz", "/static/style.css", "/alerts"):
            r = c.get(path, follow_redirects=False)
            assert _header_problems(r, https=True) == [], path
            assert r.headers["strict-transport-security"] == "max-age=31536000"


def test_sources_page_lists_recorded_gaps(client: TestClient, daemon: Any) -> None:
    from datetime import timedelta

    from monitor.store import models as m

    with daemon.store.transaction() as s:
        s.add(m.SourceGap(source="jd-cup", from_at=NOW - timedelta(hours=3), to_at=NOW - timedelta(hours=1),
                          why="the platform's paging ends before the last item seen", pages=7,
                          recorded_at=NOW))  # fmt: skip
    login(client, "viewer")
    text = client.get("/sources").text
    assert "数据缺口" in text and "2026-11-23 09:00 → 2026-11-23 11:00" in text and "paging ends" in text


def test_readyz_without_login_reveals_no_database_address_or_driver_error(
    app: Any, client: TestClient, daemon: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg
    from sqlalchemy.exc import OperationalError

    refused = psycopg.OperationalError(
        'connection failed: connection to server at "10.20.30.40", port 6432 failed: Connection refused'
    )

    def down() -> dict[str, Any]:
        raise OperationalError("SELECT count(*) FROM outbox", {}, refused)

    monkeypatch.setattr(daemon, "status", down)
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json() == {"status": "not ready", "reason": "database unavailable"}
    for secret in ("10.20.30.40", "6432", "psycopg", "outbox", "Connection refused"):
        assert secret not in r.text
    with TestClient(app) as viewer:
        login(viewer, "viewer")
        assert "error" not in viewer.get("/readyz").json()
    login(client, "admin")  # the details, to an admin (here only status() fails, not the sessions)
    assert "10.20.30.40" in client.get("/readyz").json()["error"]
