"""A 新问题 alert's suggested rule opens in the console's rule editor with a replay preview (#12 item 4)."""

from __future__ import annotations

import html

import yaml
from starlette.testclient import TestClient

from monitor.alerting.alerts import raise_alert
from monitor.alerting.new_problems import rule_id, suggest_rule, with_suggested_rule
from tests.conftest import NOW
from tests.web.conftest import ConsoleDaemon, app, client, daemon, login  # noqa: F401  (fixtures)

PHRASE = "充电头发烫"


def new_problem(console: ConsoleDaemon) -> int:
    with console.store.transaction() as s:
        alert = raise_alert(
            s,
            NOW,
            dedup_key=f"new_problem:{PHRASE}",
            kind="new_problem",
            rule_id=None,
            category="new_problem",
            severity="high",
            grade=None,
            platform=None,
            source=None,
            sku=None,
            title=f"新问题：「{PHRASE}」",
            summary="新问题",
            labels={"phrase": PHRASE, "suggested_rule": suggest_rule(PHRASE)},
        )
        return alert.id


def test_an_admin_opens_the_suggested_rule_in_the_editor_with_a_replay_preview(
    daemon: ConsoleDaemon,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    alert_id = new_problem(daemon)
    login(client, "admin")
    page = client.get(f"/alerts/{alert_id}").text
    assert "建议规则" in page and f"keywords: [{PHRASE}]" in page
    form = page.split('action="/rules/', 1)[1].split("</form>", 1)[0]
    name = form.split("/replay", 1)[0]
    csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    text = html.unescape(form.split("<textarea", 1)[1].split(">", 1)[1].split("</textarea>", 1)[0])
    rules = yaml.safe_load(text)["rules"]
    assert rules[-1]["keywords"] == [PHRASE] and len(rules) > 1  # the file's rules and the suggestion
    r = client.post(f"/rules/{name}/replay", data={"csrf": csrf, "text": text, "days": "7"})
    assert r.status_code == 200, r.text[:500]
    assert PHRASE in r.text  # the editor holds the suggestion, with the replay's preview below
    preview = r.text.split('id="replayed"', 1)[1]
    assert f'data-rule="{rule_id(PHRASE)}"' in preview


def test_viewers_see_the_suggestion_but_no_editor_form(
    daemon: ConsoleDaemon,  # noqa: F811
    client: TestClient,  # noqa: F811
) -> None:
    alert_id = new_problem(daemon)
    login(client, "viewer")
    page = client.get(f"/alerts/{alert_id}").text
    assert "建议规则" in page and 'action="/rules/' not in page


def test_the_suggestion_lands_at_the_end_of_the_rules_list_whatever_follows_it() -> None:
    rule = suggest_rule(PHRASE)
    text = "# comment\nrules:\n- id: a\n  title: a\n  keywords: [x]\n\npriority_words: [y]\n"
    out = with_suggested_rule(text, rule)
    assert out is not None and out.startswith("# comment\n")
    data = yaml.safe_load(out)
    assert data["rules"][0]["id"] == "a" and data["rules"][1]["keywords"] == [PHRASE]
    assert data["priority_words"] == ["y"]
    assert yaml.safe_load(with_suggested_rule("concepts: {}\n", rule) or "")["rules"][0]["title"] == PHRASE
    assert with_suggested_rule("rules: []\n", rule) is None  # flow style: not offered
