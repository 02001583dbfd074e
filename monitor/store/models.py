"""Tables. Times are stored as timezone-aware UTC."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from monitor.clock import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """DateTime that always comes back aware in UTC (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass aware UTC times")
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class SourceState(Base):
    __tablename__ = "source_state"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    cursor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_poll_at: Mapped[datetime | None]
    last_ok_at: Mapped[datetime | None]
    last_verdict: Mapped[str | None] = mapped_column(String(16))
    last_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    blind_since: Mapped[datetime | None]
    polls: Mapped[int] = mapped_column(default=0)
    had_items: Mapped[bool] = mapped_column(default=False)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None]
    next_due_at: Mapped[datetime | None] = mapped_column(index=True)  # claimable from then (monitor.cluster)


class Poll(Base):
    __tablename__ = "polls"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    verdict: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    pages: Mapped[int] = mapped_column(default=0)
    items_seen: Mapped[int] = mapped_column(default=0)
    items_new: Mapped[int] = mapped_column(default=0)
    items_updated: Mapped[int] = mapped_column(default=0)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_items_source_external"),
        Index("ix_items_published", "published_at"),
        Index("ix_items_sku_published", "sku", "published_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    platform: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(200))
    parent_external_id: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    rating: Mapped[int | None]
    product: Mapped[str | None] = mapped_column(String(300))
    sku: Mapped[str | None] = mapped_column(String(200))
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    published_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    payload_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(default=1)


class ItemRevision(Base):
    """The previous content of an item each time the platform changed it."""

    __tablename__ = "item_revisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    rating: Mapped[int | None]
    payload_hash: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]


class ItemFullText(Base):
    """The whole text of an item whose ``items.text`` was capped (``monitor.hygiene.TEXT_CAP``): kept
    like an attachment, read only when someone asks for it, never loaded with the review board."""

    __tablename__ = "item_full_texts"
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    chars: Mapped[int]


class SourceGap(Base):
    """Items a source may have missed: after an interruption, catching up could not reach back to the
    last item seen before it (the platform's paging ends first, or the catch-up budget ran out)."""

    __tablename__ = "source_gaps"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    from_at: Mapped[datetime | None]  # the newest item seen before the interruption
    to_at: Mapped[datetime | None]  # the oldest item reached after it; items in between may be missing
    why: Mapped[str] = mapped_column(Text)
    pages: Mapped[int] = mapped_column(default=0)  # pages fetched trying to close it
    recorded_at: Mapped[datetime]


class Analysis(Base):
    __tablename__ = "analyses"
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    normalized: Mapped[str] = mapped_column(Text)
    rules: Mapped[list[Any]] = mapped_column(default=list)
    hits: Mapped[list[Any]] = mapped_column(default=list)
    sentiment: Mapped[str] = mapped_column(String(8))
    sentiment_score: Mapped[float]
    dimensions: Mapped[list[Any]] = mapped_column(default=list)
    grade: Mapped[int | None]
    grade_reasons: Mapped[list[Any]] = mapped_column(default=list)
    severity: Mapped[str | None] = mapped_column(String(16))
    rules_version: Mapped[str] = mapped_column(String(64), default="")
    analyzed_at: Mapped[datetime]


class DayCount(Base):
    """Items with an analysis per (local day, platform, product, SKU, sentiment), kept by
    ``monitor.store.rollup`` in the transaction that writes the items and analyses; the daily and
    weekly reports read their trend, day totals, drifts and SKU rates here (#18). A missing product
    or SKU is stored as ''."""

    __tablename__ = "day_counts"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    platform: Mapped[str] = mapped_column(String(40), primary_key=True)
    product: Mapped[str] = mapped_column(String(300), primary_key=True)
    sku: Mapped[str] = mapped_column(String(200), primary_key=True)
    sentiment: Mapped[str] = mapped_column(String(8), primary_key=True)
    items: Mapped[int]


class RollupState(Base):
    """The timezone ``day_counts`` was counted in; counted again when the configured one differs."""

    __tablename__ = "rollup_state"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_state", "state"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(300), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # keyword | burst | new_problem | source_health | system
    state: Mapped[str] = mapped_column(String(16), default="firing")  # firing|acknowledged|resolved
    rule_id: Mapped[str | None] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(16))
    grade: Mapped[int | None]
    platform: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(String(200))
    sku: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    item_count: Mapped[int] = mapped_column(default=0)
    inhibited_by: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_notified_at: Mapped[datetime | None]
    acked_by: Mapped[str | None] = mapped_column(String(120))
    acked_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    last_item_at: Mapped[datetime | None]
    notified_item_count: Mapped[int] = mapped_column(default=0)
    escalation_level: Mapped[int] = mapped_column(default=0)
    message_seq: Mapped[int] = mapped_column(default=0)


class AlertItem(Base):
    __tablename__ = "alert_items"
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)


class Outbox(Base):
    """A notification, written in the same transaction as what caused it, sent later."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    channel: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(Text)  # the message's title, for lists and timelines
    event: Mapped[str] = mapped_column(String(20))  # firing | update | … (monitor.notify.message.Event)
    # the structured message (monitor.notify.message.Message as JSON), rendered per channel when sent
    message: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|suppressed
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class Delivery(Base):
    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime]
    ok: Mapped[bool]
    error: Mapped[str | None] = mapped_column(Text)


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    sop: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class IncidentStep(Base):
    __tablename__ = "incident_steps"
    __table_args__ = (UniqueConstraint("incident_id", "step_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    step_key: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(Text)
    owner_role: Mapped[str] = mapped_column(String(40))
    required: Mapped[bool] = mapped_column(default=True)
    due_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(16), default="todo")  # todo|doing|done|skipped
    by: Mapped[str | None] = mapped_column(String(120))
    at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)


class RuleVersion(Base):
    __tablename__ = "rule_versions"
    __table_args__ = (UniqueConstraint("path", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(400))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime]
    author: Mapped[str | None] = mapped_column(String(120))  # who saved it in the console; None: from disk


class DetectorState(Base):
    """Persisted state of an online detector (burst baselines) per scope."""

    __tablename__ = "detector_state"
    scope: Mapped[str] = mapped_column(String(300), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]
    elevated_since: Mapped[datetime | None] = mapped_column(index=True)  # a drift (slow rise) started


class Silence(Base):
    """Mutes notifications of alerts whose labels match, until ``ends_at``."""

    __tablename__ = "silences"
    id: Mapped[int] = mapped_column(primary_key=True)
    matchers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120), default="")
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


# ---- web console (users, sessions, API tokens, incident notes, report archive) -------------------
class User(Base):
    """A console user. Roles: admin | oncall | pr | viewer (``monitor.web.auth.ROLE_PERMISSIONS``)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class WebSession(Base):
    """A login; the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token for ``/api/v1``; stored as its SHA-256, shown once when created. It acts as its
    user, within its scope (read | write | admin, ``monitor.web.auth.SCOPE_PERMISSIONS``), until it
    expires or is revoked (disabling the user revokes it: enabling again revives nothing)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(8), default="read")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed logins of one account name (``user:NAME``) or client address (``addr:ADDRESS``), and the
    lock they earned (``monitor.admin.logins``); shared by every replica, kept across restarts."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[datetime] = mapped_column(index=True)
    locked_until: Mapped[datetime | None]


class IncidentNote(Base):
    __tablename__ = "incident_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    by: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text)


class Report(Base):
    """An archived daily (口碑分析日报) or weekly (复盘) report."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("kind", "period", name="uq_reports_kind_period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # daily | weekly
    period: Mapped[str] = mapped_column(String(20))  # 2026-11-23 | 2026-W47
    created_at: Mapped[datetime]
    markdown: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ClusterJob(Base):
    """A cluster-wide job (lifecycle, heartbeat ...): when it last ran and which replica ran it."""

    __tablename__ = "cluster_jobs"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(120))
    last_run_at: Mapped[datetime | None]


class Replica(Base):
    """A running daemon process; ``seen_at`` is refreshed while it lives."""

    __tablename__ = "replicas"
    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int]
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime]


class IncidentEvent(Base):
    """The incident timeline besides notes (``IncidentNote``): steps, overdue notices, reminders, closing."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident", "incident_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(20))  # opened|step|overdue|reminder|closed|follow_up
    step_key: Mapped[str | None] = mapped_column(String(100))
    by: Mapped[str | None] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text, default="")


class ShopToken(Base):
    """A shop's OAuth authorisation for a merchant open platform (``monitor auth``). The tokens are
    encrypted (``monitor.shopauth.vault``); only their lifetimes are readable here."""

    __tablename__ = "shop_tokens"
    __table_args__ = (UniqueConstraint("platform", "shop", name="uq_shop_tokens_platform_shop"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    shop: Mapped[str] = mapped_column(String(100))
    account: Mapped[str] = mapped_column(String(200), default="")  # the shop's nick / open id, for display
    secret_box: Mapped[str] = mapped_column(Text)  # Fernet token holding access and refresh tokens
    expires_at: Mapped[datetime | None]
    refresh_expires_at: Mapped[datetime | None]
    obtained_at: Mapped[datetime]
    refreshed_at: Mapped[datetime | None]
    invalid_reason: Mapped[str | None] = mapped_column(Text)
    invalid_at: Mapped[datetime | None]
    warned_at: Mapped[datetime | None]
