"""OpenAPI 3.0 description of ``/api/v1`` (served at ``/api/v1/openapi.json``).

Hand-written; ``tests/web/test_api.py`` checks that it names exactly the routes the app has.
"""

from __future__ import annotations

from typing import Any

_ID = {"type": "integer", "minimum": 1}
_NULL_STR = {"type": "string", "nullable": True}
_NULL_INT = {"type": "integer", "nullable": True}
_ERR = {"$ref": "#/components/responses/Error"}
_COMMON = {"401": _ERR, "403": _ERR}


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _ID}


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _ok(ref: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


_ITEM_FILTERS = [
    _q("platform", {"type": "string"}, "platform, e.g. jd, tmall, weibo"),
    _q("sku", {"type": "string"}, "product SKU"),
    _q("rating", {"type": "integer", "minimum": 1, "maximum": 5}, "star rating"),
    _q("sentiment", {"type": "string", "enum": ["neg", "neu", "pos"]}, "sentiment"),
    _q("dimension", {"type": "string"}, "experience dimension (商品质量, 物流时效, 服务态度, 价格, 其他)"),
    _q("rule", {"type": "string"}, "id of a rule that fired"),
    _q("grade", {"type": "integer", "minimum": 1, "maximum": 5}, "difficulty grade"),
    _q("since", {"type": "string", "format": "date"}, "published on or after (local date)"),
    _q("until", {"type": "string", "format": "date"}, "published on or before (local date)"),
    _q("page", {"type": "integer", "minimum": 1}, "page (50 items each)"),
]

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "opinion-monitor API",
        "version": "1",
        "description": "Stored reviews and posts, alerts, incidents and rules. "
        "Authenticate with `Authorization: Bearer <token>` (`monitor users token NAME --scope read|write|"
        "admin`). Roles as in the console: viewer reads; oncall also acknowledges/resolves alerts; pr also "
        "ticks incident steps; admin everything, including the rules. A token acts within its scope: read "
        "(GET), write (also alerts and incident steps), admin (all its user's role allows).",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This description",
                "responses": {"200": {"description": "OpenAPI document"}, **_COMMON},
            }
        },
        "/api/v1/items": {
            "get": {
                "operationId": "listItems",
                "summary": "Stored items with their analysis, newest first (role: viewer)",
                "parameters": _ITEM_FILTERS,
                "responses": {"200": _ok("#/components/schemas/ItemPage"), **_COMMON},
            }
        },
        "/api/v1/items/{item_id}": {
            "get": {
                "operationId": "getItem",
                "summary": "One item with its analysis",
                "parameters": [_path_id("item_id")],
                "responses": {"200": _ok("#/components/schemas/Item"), "404": _ERR, **_COMMON},
            }
        },
        "/api/v1/alerts": {
            "get": {
                "operationId": "listAlerts",
                "summary": "Alerts, newest first",
                "parameters": [
                    _q(
                        "state",
                        {"type": "string", "enum": ["open", "firing", "acknowledged", "resolved", "all"]},
                        "default: open (firing or acknowledged)",
                    )
                ],
                "responses": {"200": _ok("#/components/schemas/AlertList"), "400": _ERR, **_COMMON},
            }
        },
        "/api/v1/alerts/{alert_id}": {
            "get": {
                "operationId": "getAlert",
                "summary": "One alert with its latest items",
                "parameters": [_path_id("alert_id")],
                "responses": {"200": _ok("#/components/schemas/Alert"), "404": _ERR, **_COMMON},
            }
        },
        "/api/v1/alerts/{alert_id}/ack": {
            "post": {
                "operationId": "ackAlert",
                "summary": "Acknowledge (role: oncall or admin): stops reminders and escalation",
                "parameters": [_path_id("alert_id")],
                "responses": {"200": _ok("#/components/schemas/Alert"), "400": _ERR, "404": _ERR, **_COMMON},
            }
        },
        "/api/v1/alerts/{alert_id}/resolve": {
            "post": {
                "operationId": "resolveAlert",
                "summary": "Resolve by hand (role: oncall or admin)",
                "parameters": [_path_id("alert_id")],
                "responses": {"200": _ok("#/components/schemas/Alert"), "400": _ERR, "404": _ERR, **_COMMON},
            }
        },
        "/api/v1/incidents": {
            "get": {
                "operationId": "listIncidents",
                "summary": "Incidents with their checklist and clocks",
                "responses": {"200": _ok("#/components/schemas/IncidentList"), **_COMMON},
            }
        },
        "/api/v1/incidents/{incident_id}": {
            "get": {
                "operationId": "getIncident",
                "summary": "One incident",
                "parameters": [_path_id("incident_id")],
                "responses": {"200": _ok("#/components/schemas/Incident"), "404": _ERR, **_COMMON},
            }
        },
        "/api/v1/incidents/{incident_id}/steps/{step_id}": {
            "post": {
                "operationId": "setIncidentStep",
                "summary": "Tick (done), skip, reopen (todo) or start (doing) a step (role: pr or admin)",
                "parameters": [_path_id("incident_id"), _path_id("step_id")],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StepChange"}}},
                },
                "responses": {
                    "200": _ok("#/components/schemas/Incident"),
                    "400": _ERR,
                    "404": _ERR,
                    **_COMMON,
                },
            }
        },
        "/api/v1/rules": {
            "get": {
                "operationId": "listRules",
                "summary": "The keyword rules running now (role: admin)",
                "responses": {"200": _ok("#/components/schemas/RuleList"), **_COMMON},
            }
        },
        "/api/v1/rules/test": {
            "post": {
                "operationId": "testRules",
                "summary": "Analyze a sentence with the running rules, nothing stored (role: admin)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RuleTest"}}},
                },
                "responses": {"200": _ok("#/components/schemas/RuleTestResult"), "400": _ERR, **_COMMON},
            }
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "responses": {
            "Error": {
                "description": "Problem",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            "Analysis": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "rules": {"type": "array", "items": {"type": "string"}},
                    "sentiment": {"type": "string"},
                    "sentiment_score": {"type": "number"},
                    "dimensions": {"type": "array", "items": {"type": "string"}},
                    "grade": _NULL_INT,
                    "severity": _NULL_STR,
                },
            },
            "Item": {
                "type": "object",
                "required": ["id", "source", "platform", "text"],
                "properties": {
                    "id": {"type": "integer"},
                    "source": {"type": "string"},
                    "platform": {"type": "string"},
                    "text": {"type": "string"},
                    "rating": _NULL_INT,
                    "sku": _NULL_STR,
                    "published_at": _NULL_STR,
                    "tags": {"type": "array", "items": {}},
                    "analysis": {"$ref": "#/components/schemas/Analysis"},
                },
            },
            "ItemPage": {
                "type": "object",
                "required": ["items"],
                "properties": {
                    "page": {"type": "integer"},
                    "more": {"type": "boolean"},
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                },
            },
            "Alert": {
                "type": "object",
                "required": ["id", "kind", "state", "title"],
                "properties": {
                    "id": {"type": "integer"},
                    "kind": {"type": "string"},
                    "state": {"type": "string", "enum": ["firing", "acknowledged", "resolved"]},
                    "rule": _NULL_STR,
                    "severity": {"type": "string"},
                    "sku": _NULL_STR,
                    "title": {"type": "string"},
                    "item_count": {"type": "integer"},
                    "acked_by": _NULL_STR,
                },
            },
            "AlertList": {
                "type": "object",
                "properties": {"alerts": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}},
            },
            "Step": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "key": {"type": "string"},
                    "title": {"type": "string"},
                    "owner": {"type": "string"},
                    "state": {"type": "string"},
                    "due_at": _NULL_STR,
                    "clock": {"type": "string", "enum": ["none", "pending", "overdue", "met", "missed"]},
                },
            },
            "Incident": {
                "type": "object",
                "required": ["id", "title", "state", "steps"],
                "properties": {
                    "id": {"type": "integer"},
                    "alert_id": _NULL_INT,
                    "sop": {"type": "string"},
                    "title": {"type": "string"},
                    "state": {"type": "string"},
                    "steps": {"type": "array", "items": {"$ref": "#/components/schemas/Step"}},
                },
            },
            "IncidentList": {
                "type": "object",
                "properties": {
                    "incidents": {"type": "array", "items": {"$ref": "#/components/schemas/Incident"}}
                },
            },
            "StepChange": {
                "type": "object",
                "properties": {
                    "action": {"type": "string", "enum": ["done", "skip", "todo", "doing"]},
                    "reason": {"type": "string", "maxLength": 1000},
                },
            },
            "Rule": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "title": {"type": "string"},
                    "category": {"type": "string"},
                    "dimension": {"type": "string"},
                    "severity": {"type": "string"},
                    "grade": {"type": "integer"},
                    "enabled": {"type": "boolean"},
                    "file": _NULL_STR,
                },
            },
            "RuleList": {
                "type": "object",
                "properties": {
                    "rules": {"type": "array", "items": {"$ref": "#/components/schemas/Rule"}},
                    "priority_words": {"type": "array", "items": {"type": "string"}},
                },
            },
            "RuleTest": {
                "type": "object",
                "required": ["text"],
                "properties": {
                    "text": {"type": "string", "minLength": 1, "maxLength": 5000},
                    "rating": {"type": "integer", "minimum": 1, "maximum": 5, "nullable": True},
                },
            },
            "RuleTestResult": {
                "type": "object",
                "properties": {
                    "normalized": {"type": "string"},
                    "rules": {"type": "array", "items": {"type": "string"}},
                    "sentiment": {"type": "string"},
                    "dimensions": {"type": "array", "items": {"type": "string"}},
                    "grade": _NULL_INT,
                },
            },
        },
    },
}
