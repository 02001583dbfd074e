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
        "silence_id": 1,
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
    token = create_token(daemon.store, role, "test", NOW, scope="admin")  # all the role allows
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


def test_admins_see_the_robots_refusals_of_the_last_day(client: TestClient, daemon: Any) -> None:
    """#15: a robot answering 130101 or 310000 is retried and falls back; the admins see it on the console."""
    from datetime import timedelta

    from monitor.store import models as m

    with daemon.store.transaction() as s:
        box = m.Outbox(
            idempotency_key="alert-1-firing-1-oncall",
            channel="oncall",
            title="假货质疑 <b>SKU</b>",
            event="firing",
            message={},
            status="sent",
            attempts=2,
            created_at=NOW - timedelta(hours=1),
            next_attempt_at=NOW,
        )
        s.add(box)
        s.flush()
        s.add(
            m.Delivery(
                outbox_id=box.id,
                channel="oncall",
                at=NOW - timedelta(minutes=50),
                ok=False,
                error="dingtalk errcode 310000: keywords not in content <img src=x>",
            )
        )
        s.add(
            m.Delivery(
                outbox_id=box.id,
                channel="oncall",
                at=NOW - timedelta(hours=30),
                ok=False,
                error="errcode 130101: send too fast (a day and more ago)",
            )
        )
        s.add(
            m.Delivery(
                outbox_id=box.id, channel="fallback", at=NOW - timedelta(minutes=49), ok=True, error=None
            )
        )
    login(client, "admin")
    text = client.get("/settings").text
    section = text[text.index('id="failed-deliveries"') :]
    assert "errcode 310000" in section and "已送达（重试或备用渠道）" in section
    assert "&lt;img src=x&gt;" in section and "<img src=x>" not in section
    assert "&lt;b&gt;SKU&lt;/b&gt;" in section
    assert "a day and more ago" not in section  # older than a day
    login(client, "viewer")
    assert client.get("/settings").status_code in (302, 303, 403)


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


# ---- the API follows the console's roles (#17 item 16) ---------------------------------------
# Each API route and the console route for the same thing; a new API route must be paired here.
CONSOLE_TWIN: dict[tuple[str, str], tuple[str, str] | None] = {
    ("GET", "/api/v1/openapi.json"): None,  # the description itself: anyone with a token reads it
    ("GET", "/api/v1/items"): ("GET", "/items"),
    ("GET", "/api/v1/items/{item_id:int}"): ("GET", "/items"),
    ("GET", "/api/v1/alerts"): ("GET", "/alerts"),
    ("GET", "/api/v1/alerts/{alert_id:int}"): ("GET", "/alerts/{alert_id:int}"),
    ("POST", "/api/v1/alerts/{alert_id:int}/ack"): ("POST", "/alerts/{alert_id:int}/ack"),
    ("POST", "/api/v1/alerts/{alert_id:int}/resolve"): ("POST", "/alerts/{alert_id:int}/resolve"),
    ("GET", "/api/v1/incidents"): ("GET", "/incidents"),
    ("GET", "/api/v1/incidents/{incident_id:int}"): ("GET", "/incidents/{incident_id:int}"),
    ("POST", "/api/v1/incidents/{incident_id:int}/steps/{step_id:int}"): (
        "POST",
        "/incidents/{incident_id:int}/steps/{step_id:int}",
    ),
    ("GET", "/api/v1/rules"): ("GET", "/rules"),
    ("POST", "/api/v1/rules/test"): ("POST", "/rules/{name}/test"),
}


def test_every_api_route_needs_what_the_console_needs_for_the_same_thing(app: Any) -> None:
    perms = {(method, path): perm for method, path, perm in guarded(app)}
    api = {k: v for k, v in perms.items() if k[1].startswith("/api/")}
    assert set(api) == set(CONSOLE_TWIN), "pair each API route with its console route in CONSOLE_TWIN"
    wrong = {
        f"{m} {p}": (perm, perms[twin] if twin else "read")
        for (m, p), perm in api.items()
        if perm != (perms[twin] if (twin := CONSOLE_TWIN[(m, p)]) else "read")
    }
    assert wrong == {}


def test_viewers_get_no_keywords_and_nobody_a_server_path(
    client: TestClient, daemon: Any, tmp_path: Any
) -> None:
    viewer = create_token(daemon.store, "viewer", "t", NOW, scope="admin")
    r = client.get("/api/v1/rules", headers={"Authorization": f"Bearer {viewer}"})
    assert r.status_code == 403 and "keywords" not in r.text
    r = client.post(
        "/api/v1/rules/test", headers={"Authorization": f"Bearer {viewer}"}, json={"text": "假货"}
    )
    assert r.status_code == 403
    admin = create_token(daemon.store, "admin", "t", NOW, scope="admin")
    rules = client.get("/api/v1/rules", headers={"Authorization": f"Bearer {admin}"}).json()["rules"]
    assert rules and all(r["keywords"] for r in rules)
    files = {r["file"] for r in rules}
    assert all(re.fullmatch(r"rules/[\w.-]+\.ya?ml:\d+", f) for f in files), files
    assert str(tmp_path) not in client.get("/api/v1/rules", headers={"Authorization": f"Bearer {admin}"}).text


# ---- API tokens: scope, expiry, revocation (#17 item 15) ----------------------------------------
def test_a_token_acts_within_its_scope_its_role_and_its_lifetime(
    client: TestClient, daemon: Any, ids: dict[str, int]
) -> None:
    from datetime import timedelta

    def call(token: str, method: str, path: str) -> int:
        return client.request(method, path, headers={"Authorization": f"Bearer {token}"}, json={}).status_code

    ack, rules = f"/api/v1/alerts/{ids['alert']}/ack", "/api/v1/rules"
    read = create_token(daemon.store, "admin", "dashboards", NOW, scope="read")
    assert call(read, "GET", "/api/v1/items") == 200 and call(read, "POST", ack) == 403
    write = create_token(daemon.store, "admin", "chatops", NOW, scope="write")
    assert call(write, "GET", rules) == 403 and call(write, "POST", ack) == 200
    assert call(create_token(daemon.store, "admin", "ops", NOW, scope="admin"), "GET", rules) == 200
    assert (
        call(create_token(daemon.store, "oncall", "x", NOW, scope="admin"), "GET", rules) == 403
    )  # role cap
    short = create_token(daemon.store, "viewer", "short", NOW, lifetime=timedelta(hours=1))
    assert call(short, "GET", "/api/v1/items") == 200
    daemon.clock[0] = NOW + timedelta(hours=1, seconds=1)
    assert call(short, "GET", "/api/v1/items") == 401  # expired
    assert call(read, "GET", "/api/v1/items") == 200  # 90 days by default


def test_revoking_one_token_leaves_the_others_and_reenabling_a_user_revives_none(
    client: TestClient, daemon: Any
) -> None:
    import hashlib

    from sqlalchemy import select

    from monitor.admin.users import list_tokens, revoke_token, set_disabled
    from monitor.store import models as m

    def status(token: str) -> int:
        return client.get("/api/v1/items", headers={"Authorization": f"Bearer {token}"}).status_code

    first, second = (create_token(daemon.store, "viewer", label, NOW) for label in ("a", "b"))
    by_label = {t.label: t for t in list_tokens(daemon.store, "viewer")}
    assert revoke_token(daemon.store, by_label["a"].id, NOW).state(NOW) == "revoked"
    assert status(first) == 401 and status(second) == 200
    set_disabled(daemon.store, "viewer", True, NOW)
    assert status(second) == 401
    set_disabled(daemon.store, "viewer", False, NOW)
    assert status(second) == 401  # the disable revoked it for good
    third = create_token(daemon.store, "viewer", "c", NOW)
    assert status(third) == 200
    assert [t.state(NOW) for t in list_tokens(daemon.store, "viewer")] == ["active", "revoked", "revoked"]
    with daemon.store.session() as s:  # stored hashed: the values are nowhere in the table
        rows = [tuple(str(v) for v in r) for r in s.execute(select(m.ApiToken.__table__))]
        hashes = set(s.scalars(select(m.ApiToken.token_hash)))
    assert not [r for r in rows for v in r for t in (first, second, third) if t in v]
    assert {hashlib.sha256(t.encode()).hexdigest() for t in (first, second, third)} == hashes


# ---- login throttling (#17 item 8) --------------------------------------------------------------
def _try_login(client: TestClient, name: str, password: str) -> Any:
    r = client.get("/login")
    csrf = r.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return client.post(
        "/login", data={"name": name, "password": password, "csrf": csrf}, follow_redirects=False
    )


def test_thirty_wrong_passwords_lock_the_account_until_the_window_passes(
    app: Any, client: TestClient, daemon: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    from datetime import timedelta

    caplog.set_level(logging.INFO, logger="monitor.admin.logins")
    wrong = "wrong-password-%d"
    codes = [_try_login(client, "admin", wrong % i).status_code for i in range(30)]
    assert codes == [401] * 4 + [429] * 26
    right = _try_login(client, "admin", "correct horse battery")
    assert right.status_code == 429 and "尝试次数过多，请 1 分钟后再试" in right.text
    assert int(right.headers["retry-after"]) == 60
    with TestClient(create_app(daemon)) as other:  # a restart, or another replica: the same lock
        assert _try_login(other, "admin", "correct horse battery").status_code == 429
    daemon.clock[0] = NOW + timedelta(seconds=61)
    assert _try_login(client, "admin", "correct horse battery").status_code == 303
    # the failures and the lock are in the log, with the name and the address, never a password
    assert "login failed for 'admin' from testclient" in caplog.text and "locked until" in caplog.text
    assert "wrong-password" not in caplog.text and "correct horse" not in caplog.text
    # a success forgets the account's failures: a typo afterwards does not lock again at once
    assert _try_login(client, "admin", "typo").status_code == 401


def test_unknown_names_are_throttled_and_checked_exactly_like_real_ones(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.admin import users

    verified: list[str] = []
    hasher = users._hasher

    class Counting:
        def verify(self, stored: str, password: str) -> bool:
            verified.append(password)
            return hasher.verify(stored, password)

        def __getattr__(self, name: str) -> Any:
            return getattr(hasher, name)

    monkeypatch.setattr(users, "_hasher", Counting())
    real = [_try_login(client, "pr", f"guess {i}") for i in range(7)]
    ghost = [_try_login(client, "nobody-here", f"guess {i}") for i in range(7)]
    assert [r.status_code for r in real] == [r.status_code for r in ghost] == [401] * 4 + [429] * 3
    assert [r.text.count("尝试次数过多") for r in real] == [r.text.count("尝试次数过多") for r in ghost]
    assert len(verified) == 10  # one argon2 check per unlocked attempt, for real and unknown names alike


def test_one_address_failing_on_many_names_is_locked_other_addresses_are_not(app: Any) -> None:
    with TestClient(app, client=("203.0.113.7", 40000)) as attacker:
        codes = [_try_login(attacker, f"user{i}", "guess").status_code for i in range(21)]
        assert codes == [401] * 19 + [429] * 2
        assert _try_login(attacker, "viewer", "correct horse battery").status_code == 429
    with TestClient(app, client=("198.51.100.2", 40000)) as colleague:
        assert _try_login(colleague, "viewer", "correct horse battery").status_code == 303


def test_addresses_are_keyed_by_ipv6_prefix_and_garbage_is_kept_bounded() -> None:
    from monitor.admin.logins import address_key

    assert (
        address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9") == "addr:2001:db8:1:2::/64"
    )
    assert address_key("::ffff:203.0.113.7") == address_key("203.0.113.7") == "addr:203.0.113.7"
    assert len(address_key("x" * 10_000)) <= 105


def test_an_admin_lifts_a_lockout_from_the_command_line(client: TestClient, daemon: Any) -> None:
    from click.testing import CliRunner

    from monitor.admin.logins import locks
    from monitor.cli.users import users_group

    for i in range(5):
        _try_login(client, "oncall", f"guess {i}")
    assert [(r.key, r.failures) for r in locks(daemon.store, NOW)] == [("user:oncall", 5)]
    assert _try_login(client, "oncall", "correct horse battery").status_code == 429
    r = CliRunner().invoke(users_group, ["unlock", "oncall", "-c", str(daemon.config_path)])
    assert r.exit_code == 0 and "oncall: unlocked" in r.output
    assert _try_login(client, "oncall", "correct horse battery").status_code == 303


@pytest.mark.parametrize("trusted", [["127.0.0.1"], []], ids=["behind-a-proxy", "proxy-not-trusted"])
def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(
    app: Any, store_url: str, trusted: list[str]
) -> None:
    """uvicorn believes X-Forwarded-For only from ``web.trusted_proxies``: then each client behind the
    proxy has its own count; otherwise the connecting address (the proxy) is the one counted."""
    import socket
    import time

    import httpx

    from monitor.web import Server

    if not store_url.startswith("sqlite"):
        pytest.skip("one backend is enough for the HTTP server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = Server(app, f"127.0.0.1:{port}", trusted)
    server.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)

    def attempt(forwarded_for: str, name: str, password: str) -> int:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"X-Forwarded-For": forwarded_for}
        ) as c:
            page = c.get("/login").text
            csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            return c.post("/login", data={"name": name, "password": password, "csrf": csrf}).status_code

    try:
        codes = [attempt("203.0.113.9", f"user{i}", "guess") for i in range(20)]
        assert codes[-1] == 429
        other_client = attempt("198.51.100.4", "viewer", "correct horse battery")
    finally:
        server.stop()
    assert other_client == (303 if trusted else 429)


def test_a_database_outage_during_a_request_answers_503_and_is_logged_once(
    client: TestClient, daemon: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    import psycopg
    from sqlalchemy.exc import OperationalError

    from monitor.web import readmodel

    login(client, "viewer")
    token = create_token(daemon.store, "viewer", "t", NOW)

    def away(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT", {}, psycopg.OperationalError("server closed the connection"))

    monkeypatch.setattr(readmodel, "items", away)
    caplog.set_level(logging.DEBUG)
    pages = [client.get("/items") for _ in range(3)]
    api = client.get("/api/v1/items", headers={"Authorization": f"Bearer {token}"})
    assert [r.status_code for r in pages] == [503] * 3 and "数据库暂时不可用" in pages[0].text
    assert api.status_code == 503 and api.json() == {"error": "database unavailable; retry later"}
    assert pages[0].headers["retry-after"] == "30" and _header_problems(pages[0]) == []
    assert caplog.text.count("数据库不可用 database unavailable since") == 1
    assert "Traceback" not in caplog.text

    def bug(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("a bug is a bug")

    monkeypatch.setattr(readmodel, "items", bug)
    # not swallowed: the server's 500 and its traceback, as ever
    with pytest.raises(ValueError, match="a bug is a bug"):
        client.get("/items")
