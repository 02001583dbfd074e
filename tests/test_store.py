"""The store contract, run on SQLite and (with MONITOR_TEST_PG_URL) PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from monitor.adapters.base import RawItem
from monitor.config.sources import SourceConfig
from monitor.normalize import normalize
from monitor.store import Store, WriteGate
from monitor.store import models as m
from monitor.store.engine import current_revision, upgrade
from tests.conftest import NOW

SRC = SourceConfig(name="s1", kind="json", platform="jd")
CST = timezone(timedelta(hours=8))


def item(ext: str | None, text: str, rating: int | None = 5, author: str = "a") -> object:
    return normalize(
        RawItem(text=text, external_id=ext, rating=rating, author=author, published="2026-11-23 10:00:00"),
        SRC,
        NOW,
        CST,
    )


def save(store: Store, items: list[object]) -> tuple[int, int]:
    with store.transaction() as s:
        changes = store.diff(s, items)  # type: ignore[arg-type]
        store.save_items(s, changes, NOW)
    return sum(c.kind == "new" for c in changes), sum(c.kind == "updated" for c in changes)


def head() -> str:
    from alembic.script import ScriptDirectory

    from monitor.store.engine import MIGRATIONS

    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert len(heads) == 1, f"migrations must form one chain, found heads {heads}"
    return str(heads[0])


def test_migrations_are_idempotent(store: Store) -> None:
    assert current_revision(store.engine) == head()
    upgrade(store.engine)
    assert current_revision(store.engine) == head()


def test_the_migration_files_head_is_read_without_alembic() -> None:
    from monitor.store.engine import script_head

    assert script_head() == head()


def test_a_database_at_head_opens_without_running_a_migration(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.store import engine

    Store.open(store_url).close()

    def no(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("no migration for a database at head")

    monkeypatch.setattr(engine, "upgrade", no)
    monkeypatch.setattr(engine, "upgrade_in_child", no)
    st = Store.open(store_url)
    assert current_revision(st.engine) == head()
    st.close()


def test_the_daemon_process_migrates_in_a_child_and_never_imports_alembic(tmp_path: object) -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from monitor.store import Store\n"
        "from monitor.store.engine import current_revision\n"
        f"url = 'sqlite:///{tmp_path}/monitor.db'\n"
        "for _ in range(2):\n"
        "    st = Store.open(url)\n"
        "    print(current_revision(st.engine))\n"
        "    st.close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split("\n")[:3] == [head(), head(), "[]"], out.stderr


def test_a_failed_migration_in_the_child_says_why(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import text

    from monitor.store import StoreError, engine

    monkeypatch.setattr(engine, "MIGRATE_IN_CHILD", True)
    url = f"sqlite:///{tmp_path}/monitor.db"
    Store.open(url).close()
    st = Store.open(url)
    with st.engine.begin() as conn:  # a database written by a newer version of the monitor
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    st.close()
    with pytest.raises(StoreError) as err:
        Store.open(url)
    assert str(err.value).startswith(f"cannot open the database {url}: ")
    assert "Can't locate revision identified by '9999'" in str(err.value)


def test_the_migration_child_dies_with_its_parent() -> None:
    """A daemon killed during a migration leaves no migration running on (PR_SET_PDEATHSIG)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    parent = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import os, time; from monitor.store.migrate import "
        "die_with_parent; die_with_parent(os.getppid()); print(1, flush=True); time.sleep(60)'], "
        "stdout=subprocess.PIPE)\n"
        "child.stdout.readline()\n"
        "print(child.pid, flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        proc.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the child outlived its parent")


def test_a_first_migration_cut_short_leaves_nothing_and_the_next_start_migrates(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemon killed during its first start left tables without a recorded revision on SQLite (the
    driver committed each CREATE on its own): every later start failed with "table … already exists"."""
    import alembic.op
    from sqlalchemy import inspect

    from monitor.store.engine import make_engine

    real, made = alembic.op.create_table, []

    def create_then_die(*args: object, **kwargs: object) -> object:
        made.append(real(*args, **kwargs))  # type: ignore[arg-type]
        if len(made) == 3:
            raise KeyboardInterrupt("killed")  # as good as a SIGKILL for the transaction
        return made[-1]

    engine = make_engine(f"sqlite:///{tmp_path}/monitor.db")
    monkeypatch.setattr(alembic.op, "create_table", create_then_die)
    with pytest.raises(KeyboardInterrupt):
        upgrade(engine)
    assert len(made) == 3 and inspect(engine).get_table_names() == []
    monkeypatch.undo()
    upgrade(engine)
    assert current_revision(engine) == head()
    engine.dispose()


def test_models_and_migrations_agree(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), m.Base.metadata)
    assert diff == [], f"a model change needs a migration: {diff}"


def test_dedupe_on_source_and_external_id(store: Store) -> None:
    assert save(store, [item("1", "好"), item("2", "不错"), item("1", "好")]) == (2, 0)
    assert save(store, [item("1", "好"), item("2", "不错"), item("3", "一般")]) == (1, 0)
    assert store.count(m.Item) == 3


def test_same_id_in_another_source_is_another_item(store: Store) -> None:
    other = normalize(RawItem(text="好", external_id="1"), SourceConfig(name="s2", kind="json"), NOW, CST)
    assert save(store, [item("1", "好"), other]) == (2, 0)


def test_edit_updates_and_keeps_history(store: Store) -> None:
    save(store, [item("1", "还行", rating=4)])
    assert save(store, [item("1", "还行。追评：用了一周就坏了", rating=2)]) == (0, 1)
    with store.session() as s:
        row = s.scalars(select(m.Item)).one()
        assert row.revision == 2 and row.rating == 2 and "坏了" in row.text
        rev = s.scalars(select(m.ItemRevision)).one()
        assert rev.text == "还行" and rev.rating == 4 and rev.revision == 1


def test_content_hash_when_platform_has_no_id(store: Store) -> None:
    a, b = item(None, "没有编号的评价", author="x"), item(None, "没有编号的评价", author="y")
    assert a.external_id.startswith("h:") and a.external_id != b.external_id  # type: ignore[attr-defined]
    assert save(store, [a, b, item(None, "没有编号的评价", author="x")]) == (2, 0)


def test_times_are_utc(store: Store) -> None:
    save(store, [item("1", "好")])
    with store.session() as s:
        row = s.scalars(select(m.Item)).one()
    assert row.published_at == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert row.fetched_at == NOW and row.fetched_at.tzinfo is not None


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"), store.transaction() as s:
        s.add(m.RuleVersion(path="x", sha256="y", content="", loaded_at=datetime(2026, 1, 1)))
        s.flush()


def test_a_failed_transaction_stores_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as s:
        store.save_items(s, store.diff(s, [item("1", "好")]), NOW)
        raise RuntimeError("crash before commit")
    assert store.count(m.Item) == 0


def test_unique_constraint_holds_under_a_race(store: Store) -> None:
    """Two writers that both saw the id as new: the second commit fails, nothing is duplicated."""
    with store.session() as s1, store.session() as s2:
        c1 = store.diff(s1, [item("9", "a")])
        c2 = store.diff(s2, [item("9", "a")])
        store.save_items(s1, c1, NOW)
        s1.commit()
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            store.save_items(s2, c2, NOW)
            s2.commit()
    assert store.count(m.Item) == 1


# ---- text hygiene at the door: the same on SQLite and PostgreSQL --------------------------------
HOSTILE = "差评\x00：盖子\x07漏水\u202e（反向）\u2066隔离\u2069\ud800\x9b结束\ufffe"


def test_hostile_characters_in_every_page_field_are_stored_clean(store: Store) -> None:
    """NUL made PostgreSQL refuse the whole poll; lone surrogates and over-long names failed both."""
    raw = RawItem(
        text=HOSTILE,
        external_id="id\x00-1",
        url="https://item.jd.com/1.html\x00",
        author="张\x00三\u202e" + "长" * 400,
        sku="10001\x00",
        product="保温杯\u202d",
        parent_external_id="p\x00",
        published="2026-11-23 10:00:00",
        attrs={"k\x00": ["v\x00", {"deep\u202e": "\ud800"}], "n": 3},
    )
    it = normalize(raw, SRC, NOW, CST)
    assert save(store, [it]) == (1, 0)
    assert save(store, [normalize(raw, SRC, NOW, CST)]) == (0, 0)  # the same item next poll: no change
    with store.session() as s:
        row = s.scalars(select(m.Item)).one()
    stored = [row.text, row.external_id, row.url, row.author, row.sku, row.product, row.parent_external_id]
    stored.append(str(row.attrs))
    for value in stored:
        assert value is not None
        assert not any(c in value for c in "\x00\x07\x9b\u202e\u202d\u2066\u2069\ufffe\ud800"), value
    assert row.text == "差评：盖子漏水（反向）隔离\ufffd结束"
    assert row.external_id == "id-1" and row.sku == "10001" and row.parent_external_id == "p"
    assert row.author is not None and len(row.author) == 200 and row.author.startswith("张三长")
    assert row.attrs == {"k": ["v", {"deep": "\ufffd"}], "n": 3}


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("javascript:alert(document.cookie)", None),
        ("java\tscript:alert(1)", None),
        (" JaVaScRiPt:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox(1)", None),
        ("//img30.360buyimg.com/a.jpg", "https://img30.360buyimg.com/a.jpg"),
        ("https://user:pw@evil.example/", None),
        ("/relative/only", None),
        ("https://item.jd.com/100012043978.html", "https://item.jd.com/100012043978.html"),
    ],
)
def test_page_urls_are_kept_only_as_http(store: Store, url: str, kept: str | None) -> None:
    raw = RawItem(text="好", external_id="u", url=url, published="2026-11-23 10:00:00")
    save(store, [normalize(raw, SRC, NOW, CST)])
    with store.session() as s:
        assert s.scalars(select(m.Item.url)).one() == kept


def test_a_huge_review_is_capped_and_its_full_text_kept_apart(store: Store) -> None:
    from monitor.hygiene import TEXT_CAP

    body = "很好用" * 100_000 + "，可惜是假货"  # a 300,000-character review with its point at the end
    it = normalize(RawItem(text=body, external_id="big"), SRC, NOW, CST)
    assert it.analysis_text == body  # the analyzer reads all of it: the keyword at the end still alerts
    save(store, [it])
    with store.session() as s:
        row = s.scalars(select(m.Item)).one()
        assert len(row.text) < TEXT_CAP + 50 and "已截断" in row.text
        assert store.full_text(s, row.id) == body
    shorter = normalize(RawItem(text="改短了：假货", external_id="big"), SRC, NOW, CST)
    assert save(store, [shorter]) == (0, 1)  # an edit that makes it short drops the kept full text
    assert store.count(m.ItemFullText) == 0


def test_outbox_rows_written_before_messages_were_structured_are_carried_over(store_url: str) -> None:
    """Pending rows from an older version still go out after the upgrade: their rendered text becomes
    the message, and their event (once only in the idempotency key) a column."""
    from sqlalchemy import text

    from monitor.notify.message import Message
    from monitor.store.engine import make_engine

    engine = make_engine(store_url)
    upgrade(engine, "0007")
    old = (
        "INSERT INTO outbox (idempotency_key, channel, title, body, status, attempts, created_at,"
        " next_attempt_at, body_format, attachments) VALUES (:k, 'webhook', :t, :b, 'pending', 0, :now,"
        " :now, :f, :a)"
    )
    with engine.begin() as conn:
        for key, body, fmt, files in (
            ("alert-7-reminder-2-webhook", "**破损** 7 items", "markdown", "[]"),
            ("incident-3-follow-up-webhook", "**回访 follow-up**", "markdown", "[]"),
            (
                "report-daily-2026-11-22-mail",
                "<h1>日报</h1>",
                "html",
                '[{"name": "t.svg", "content": "<svg/>"}]',
            ),
        ):
            conn.execute(text(old), {"k": key, "t": "标题", "b": body, "f": fmt, "a": files, "now": NOW})
    upgrade(engine)
    st = Store(engine)
    try:
        with st.session() as s:
            rows = {r.idempotency_key: r for r in s.scalars(select(m.Outbox))}
        events = {k: r.event for k, r in rows.items()}
        assert events == {
            "alert-7-reminder-2-webhook": "reminder",
            "incident-3-follow-up-webhook": "follow_up",
            "report-daily-2026-11-22-mail": "report",
        }
        messages = {k: Message.from_json(r.message) for k, r in rows.items()}
        assert messages["alert-7-reminder-2-webhook"].text == "**破损** 7 items"
        report = messages["report-daily-2026-11-22-mail"]
        assert report.html == "<h1>日报</h1>" and [a.name for a in report.attachments] == ["t.svg"]
    finally:
        st.close()


def test_write_gate_wakes_waiters_one_by_one_urgent_ones_first() -> None:
    """A release wakes one waiter (#18 throughput): every waiter still gets the gate, and an urgent one
    that starts waiting after the others goes before them."""
    gate = WriteGate()
    order: list[str] = []
    gate.acquire()

    def take(name: str, urgent: bool) -> None:
        gate.acquire(urgent)
        gate.acquire(urgent)  # re-entrant
        order.append(name)
        gate.release()
        gate.release()

    threads = [threading.Thread(target=take, args=(f"n{i}", False)) for i in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.2)  # all six waiting
    urgent = threading.Thread(target=take, args=("urgent", True))
    urgent.start()
    time.sleep(0.2)
    gate.release()
    for t in [*threads, urgent]:
        t.join(5)
    assert order[0] == "urgent"
    assert sorted(order[1:]) == [f"n{i}" for i in range(6)]


def test_replicas_starting_together_record_a_rule_version_once(store_url: str) -> None:
    """Two replicas load the same rules file at the same moment: both look the version up, find none,
    insert it. The second insert meets the unique key and counts as "known already" instead of stopping
    the replica (seen with three replicas in bench.load)."""
    from sqlalchemy import event

    from monitor.store import rules as stored

    if not store_url.startswith("postgresql"):
        pytest.skip("one SQLite daemon per database: no replicas to race")
    first, second = Store.open(store_url), Store.open(store_url)
    raced: list[bool] = []

    def other_replica_first(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("INSERT INTO rule_versions") and not raced:
            raced.append(stored.add_version(second, "rules/default.yaml", "abc", "x", NOW))

    event.listen(first.engine, "before_cursor_execute", other_replica_first)
    try:
        assert stored.add_version(first, "rules/default.yaml", "abc", "x", NOW) is False
    finally:
        event.remove(first.engine, "before_cursor_execute", other_replica_first)
        second.close()
    assert raced == [True]
    assert len(stored.versions(first, "rules/default.yaml")) == 1
    first.close()
