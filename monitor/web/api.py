"""REST API ``/api/v1``: items, alerts (with ack/resolve), incidents (with steps), rules.

Bearer tokens only (``monitor users token NAME``); roles as in the console. The
OpenAPI description is ``monitor.web.openapi.SPEC``, kept in sync with these routes
by ``tests/web/test_api.py``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor.alerting import lifecycle
from monitor.store import models as m
from monitor.web import incidents as inc_mod
from monitor.web import queries as qs
from monitor.web.context import Req
from monitor.web.guard import ApiProblem, api
from monitor.web.openapi import SPEC


def _get(req: Req, model: Any, name: str) -> Any:
    row = None
    with req.console.store.session() as s:
        row = s.get(model, req.int_param(name))
    if row is None:
        raise ApiProblem(404, f"no {model.__tablename__[:-1]} #{req.param(name)}")
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
    f = qs.ItemFilter.from_query(req.q, req.console.config.settings.tz)
    with req.console.store.session() as s:
        rows = qs.list_items(s, f)
    return JSONResponse(
        {
            "page": f.page,
            "more": len(rows) > qs.PAGE_SIZE,
            "items": [qs.item_json(i, a) for i, a in rows[: qs.PAGE_SIZE]],
        }
    )


@api("read")
def item(req: Req) -> Response:
    row = _get(req, m.Item, "item_id")
    with req.console.store.session() as s:
        a = s.get(m.Analysis, row.id)
    return JSONResponse(qs.item_json(row, a))


@api("read")
def alerts(req: Req) -> Response:
    state = str(req.q.get("state", "open"))
    if state not in ("open", "firing", "acknowledged", "resolved", "all"):
        raise ApiProblem(400, "state must be open, firing, acknowledged, resolved or all")
    with req.console.store.session() as s:
        rows = qs.list_alerts(s, state)
    return JSONResponse({"alerts": [qs.alert_json(a) for a in rows]})


@api("read")
def alert(req: Req) -> Response:
    a = _get(req, m.Alert, "alert_id")
    with req.console.store.session() as s:
        rows = qs.alert_items(s, a.id)
    return JSONResponse({**qs.alert_json(a), "items": [qs.item_json(i, an) for i, an in rows]})


@api("alerts")
def alert_ack(req: Req) -> Response:
    _body(req)
    try:
        a = lifecycle.acknowledge(
            req.console.store, req.int_param("alert_id"), req.principal.name, req.console.now()
        )
    except lifecycle.AlertNotFound as exc:
        raise ApiProblem(404, str(exc)) from exc
    return JSONResponse(qs.alert_json(a))


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
    return JSONResponse(qs.alert_json(a))


@api("read")
def incidents(req: Req) -> Response:
    now = req.console.now()
    with req.console.store.session() as s:
        rows = list(s.scalars(select(m.Incident).order_by(m.Incident.id.desc()).limit(200)))
        out = [qs.incident_json(i, qs.incident_steps(s, i.id), now) for i in rows]
    return JSONResponse({"incidents": out})


@api("read")
def incident(req: Req) -> Response:
    inc = _get(req, m.Incident, "incident_id")
    with req.console.store.session() as s:
        steps = qs.incident_steps(s, inc.id)
    return JSONResponse(qs.incident_json(inc, steps, req.console.now()))


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
    inc = _get(req, m.Incident, "incident_id")
    with req.console.store.session() as s:
        steps = qs.incident_steps(s, inc.id)
    return JSONResponse(qs.incident_json(inc, steps, req.console.now()))


@api("read")
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
                    "file": str(c.origins[f"rule:{r.id}"].path) if f"rule:{r.id}" in c.origins else None,
                }
                for r in c.rules
            ],
            "priority_words": c.priority_words,
        }
    )


@api("read")
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
    result = try_sentence(c, RuleSet(c.rules, c.priority_words), text, MatchContext(rating=rating)).to_json()
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
