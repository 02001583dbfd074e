"""REST API ``/api/v1``: items, alerts (with ack/resolve), incidents (with steps), rules.

Bearer tokens only (``monitor users token NAME``), within their scope; each route needs the same
permission as the console's page for the same thing (``tests/web/test_access.py`` checks the pairs).
The OpenAPI description is ``monitor.web.openapi.SPEC``, kept in sync with these routes by
``tests/web/test_api.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor.alerting import lifecycle
from monitor.config import Config
from monitor.web import incidents as inc_mod
from monitor.web import readmodel as rm
from monitor.web.context import Req
from monitor.web.guard import ApiProblem, api
from monitor.web.openapi import SPEC

T = TypeVar("T")


def _found(row: T | None, what: str) -> T:
    if row is None:
        raise ApiProblem(404, f"no {what}")
    return row


def _body(req: Req) -> dict[str, Any]:
    if req.body is None:
        return {}
    if not isinstance(req.body, dict):
        raise ApiProblem(400, "the body must be a JSON object")
    return req.body


@api("read")
def openapi(req: Req) -> Response:
    return JSONResponse(SPEC)


@api("read")
def items(req: Req) -> Response:
    f = rm.ItemFilter.from_query(req.q, req.console.config.settings.tz)
    rows = rm.items(req.console.store, f)
    return JSONResponse(
        {
            "page": f.page,
            "more": len(rows) > rm.PAGE_SIZE,
            "items": [rm.item_json(i, a) for i, a in rows[: rm.PAGE_SIZE]],
        }
    )


@api("read")
def item(req: Req) -> Response:
    row, a = _found(rm.item(req.console.store, req.int_param("item_id")), f"item #{req.param('item_id')}")
    return JSONResponse(rm.item_json(row, a))


@api("read")
def alerts(req: Req) -> Response:
    state = str(req.q.get("state", "open"))
    if state not in ("open", "firing", "acknowledged", "resolved", "all"):
        raise ApiProblem(400, "state must be open, firing, acknowledged, resolved or all")
    rows = rm.alerts(req.console.store, state)
    return JSONResponse({"alerts": [rm.alert_json(a) for a in rows]})


@api("read")
def alert(req: Req) -> Response:
    a = _found(rm.alert(req.console.store, req.int_param("alert_id")), f"alert #{req.param('alert_id')}")
    rows = rm.alert_items(req.console.store, a.id)
    return JSONResponse({**rm.alert_json(a), "items": [rm.item_json(i, an) for i, an in rows]})


@api("alerts")
def alert_ack(req: Req) -> Response:
    _body(req)
    try:
        a = lifecycle.acknowledge(
            req.console.store, req.int_param("alert_id"), req.principal.name, req.console.now()
        )
    except lifecycle.AlertNotFound as exc:
        raise ApiProblem(404, str(exc)) from exc
    return JSONResponse(rm.alert_json(a))


@api("alerts")
def alert_resolve(req: Req) -> Response:
    _body(req)
    c = req.console
    try:
        a = lifecycle.resolve_by_hand(
            c.store, c.config, req.int_param("alert_id"), req.principal.name, c.now()
        )
    except lifecycle.AlertNotFound as exc:
        raise ApiProblem(404, str(exc)) from exc
    return JSONResponse(rm.alert_json(a))


@api("read")
def incidents(req: Req) -> Response:
    now = req.console.now()
    out = [rm.incident_json(inc, steps, now) for inc, steps in rm.incidents(req.console.store)]
    return JSONResponse({"incidents": out})


@api("read")
def incident(req: Req) -> Response:
    return _incident(req)


def _incident(req: Req) -> Response:
    found = rm.incident(req.console.store, req.int_param("incident_id"))
    inc, steps = _found(found, f"incident #{req.param('incident_id')}")
    return JSONResponse(rm.incident_json(inc, steps, req.console.now()))


@api("incidents")
def incident_step(req: Req) -> Response:
    body = _body(req)
    action = body.get("action", "done")
    reason = body.get("reason", "")
    if action not in inc_mod.STEP_ACTIONS or not isinstance(reason, str):
        raise ApiProblem(400, f"action must be one of {sorted(inc_mod.STEP_ACTIONS)}; reason a string")
    incident_id, step_id = req.int_param("incident_id"), req.int_param("step_id")
    try:
        found = inc_mod.set_step(req.console, incident_id, step_id, action, req.principal.name, reason)
    except inc_mod.StepRefused as exc:
        raise ApiProblem(409, str(exc)) from None
    if not found:
        raise ApiProblem(404, f"no step #{step_id} in incident #{incident_id}")
    return _incident(req)


@api("rules")  # as the console's rule pages: keywords are the admins' business
def rules(req: Req) -> Response:
    c = req.console.config
    return JSONResponse(
        {
            "rules": [
                {
                    "id": r.id,
                    "title": r.title,
                    "category": r.category,
                    "dimension": r.dimension,
                    "severity": r.severity,
                    "grade": r.effective_grade,
                    "enabled": r.enabled,
                    "keywords": r.keywords,
                    "file": _rule_file(c, r.id),
                }
                for r in c.rules
            ],
            "priority_words": c.priority_words,
        }
    )


def _rule_file(c: Config, rule_id: str) -> str | None:
    """Where a rule is defined, relative to the configuration (never a server path)."""
    origin = c.origins.get(f"rule:{rule_id}")
    if origin is None:
        return None
    return f"{Path(c.settings.rules_dir).as_posix().rstrip('/')}/{Path(origin.path).name}:{origin.line}"


@api("rules")  # the console's rule tester is the admins' too; its hits name the keywords
def rules_test(req: Req) -> Response:
    from monitor.admin.rules import try_sentence
    from monitor.analyze import MatchContext, RuleSet

    body = _body(req)
    text, rating = body.get("text"), body.get("rating")
    if not isinstance(text, str) or not text.strip() or len(text) > 5000:
        raise ApiProblem(400, "text must be a non-empty string of at most 5000 characters")
    if rating is not None and (
        not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5
    ):
        raise ApiProblem(400, "rating must be 1-5 or null")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ApiProblem(400, "text is not valid Unicode") from exc
    c = req.console.config
    result = try_sentence(c, RuleSet(c.rules, c.priority_words), text, MatchContext(rating=rating))
    return JSONResponse(
        {
            k: result[k]
            for k in (
                "normalized",
                "rules",
                "sentiment",
                "sentiment_score",
                "dimensions",
                "grade",
                "severity",
                "hits",
            )
        }
    )


def routes() -> list[Route]:
    p = "/api/v1"
    return [
        Route(f"{p}/openapi.json", openapi, methods=["GET"]),
        Route(f"{p}/items", items, methods=["GET"]),
        Route(f"{p}/items/{{item_id:int}}", item, methods=["GET"]),
        Route(f"{p}/alerts", alerts, methods=["GET"]),
        Route(f"{p}/alerts/{{alert_id:int}}", alert, methods=["GET"]),
        Route(f"{p}/alerts/{{alert_id:int}}/ack", alert_ack, methods=["POST"]),
        Route(f"{p}/alerts/{{alert_id:int}}/resolve", alert_resolve, methods=["POST"]),
        Route(f"{p}/incidents", incidents, methods=["GET"]),
        Route(f"{p}/incidents/{{incident_id:int}}", incident, methods=["GET"]),
        Route(f"{p}/incidents/{{incident_id:int}}/steps/{{step_id:int}}", incident_step, methods=["POST"]),
        Route(f"{p}/rules", rules, methods=["GET"]),
        Route(f"{p}/rules/test", rules_test, methods=["POST"]),
    ]
