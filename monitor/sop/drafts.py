"""Reply drafts for a stored item, from the SOP of its fired rules' categories.

A draft is text for a person to check, edit and send; nothing here posts anything. Details
the store does not know (order number, carrier) become a visible 【…待补】 marker, never a
guess. The compensation offer is two options (二选一) within the SOP's ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from monitor.config import Config
from monitor.config.compliance import Finding
from monitor.config.sops import Sop
from monitor.reports.labels import platform as platform_name
from monitor.store import models as m

__all__ = ["Draft", "DraftError", "drafts_for_item", "offer_of", "sops_for_item"]

ORDER_KEYS = ("order", "order_id", "orderId", "order_no", "orderNo", "订单号")
CARRIER_KEYS = ("carrier", "express", "express_company", "logistics", "快递", "快递公司")
MISSING = {"order": "【订单号待补】", "carrier": "【快递公司待补】", "sku": "【SKU待补】"}


class DraftError(LookupError):
    pass


@dataclass
class Draft:
    sop: str
    name: str
    text: str
    offer: list[str]
    missing: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def addressed(author: str | None) -> str:
    """The nickname a reply greets, or "" when there is none or the platform masked it."""
    name = (author or "").strip()
    if not name or "*" in name or "＊" in name or name in ("匿名用户", "匿名"):
        return ""
    return name[:40]


def offer_of(sop: Sop) -> list[str]:
    """The first two options within the frontline ceiling (二选一 lowers the decision cost)."""
    return [o for o in sop.compensation.options if not sop.compensation.check(o)][:2]


def _attr(item: m.Item, keys: tuple[str, ...]) -> str | None:
    attrs = item.attrs or {}
    for k in keys:
        v = attrs.get(k)
        if v not in (None, ""):
            return str(v)
    return None


def sops_for_item(s: Session, config: Config, item: m.Item) -> list[Sop]:
    analysis = s.get(m.Analysis, item.id)
    categories = {r.id: r.category for r in config.rules}
    out: list[Sop] = []
    for rule_id in analysis.rules if analysis is not None else []:
        sop = config.sop_for(categories.get(str(rule_id)), "keyword", item.platform)
        if sop is not None and sop not in out:
            out.append(sop)
    return out


def drafts_for_item(s: Session, config: Config, item_id: int, sop_id: str | None = None) -> list[Draft]:
    item = s.get(m.Item, item_id)
    if item is None:
        raise DraftError(f"no item #{item_id}")
    if sop_id:
        chosen = config.sop(sop_id)
        if chosen is None:
            raise DraftError(f"no SOP {sop_id!r} (known: {', '.join(x.id for x in config.sops)})")
        sops = [chosen]
    else:
        sops = sops_for_item(s, config, item)
    if not sops:
        raise DraftError(f"item #{item_id} fired no rule with an SOP; choose one with --sop")
    values = {
        # the draft is addressed to this customer: their own nickname, never a masked one (a name the
        # platform already masked, "维***李", is left out: "您好，…")
        "customer": addressed(item.author),
        "product": item.product,
        "sku": item.sku,
        "order": _attr(item, ORDER_KEYS),
        "carrier": _attr(item, CARRIER_KEYS),
        "platform": platform_name(item.platform),
    }
    out: list[Draft] = []
    for sop in sops:
        offer = offer_of(sop)
        filled = {k: v or MISSING.get(k, "") for k, v in values.items()}
        filled["offer"] = "，或".join(f"{'①②'[i]}{o}" for i, o in enumerate(offer)) or "【补偿方案待定】"
        for name, template in sop.replies.items():
            used = {f for f in MISSING if "{" + f + "}" in template}
            # a template with its own {sku} gets the product without the SKU: never "（SKU …）（SKU …）"
            with_sku = item.sku and "{sku}" not in template
            filled["product"] = item.product or (f"商品（SKU {item.sku}）" if with_sku else "您购买的商品")
            text = template.format(**filled)
            missing = sorted(f for f in used if not values.get(f))
            out.append(Draft(sop.id, name, text, offer, missing, sop.compensation.check(text)))
    return out
