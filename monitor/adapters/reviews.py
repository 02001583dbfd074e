"""What review kinds share: a review and its 追评 (follow-up review)."""

from __future__ import annotations

from monitor.adapters.base import RawItem


def with_after_comment(
    review: RawItem, text: str, published: object, images: list[str], suffix: str = "after"
) -> list[RawItem]:
    """``review`` and, when ``text`` is there, its 追评.

    The 追评 is an item of its own (id ``<review id>:<suffix>``, parent the review, the review's SKU and
    product), so it is analysed and alerted on with its own time; and it is a new revision of the review
    (the review's ``version`` changes), so the stored review is updated and its history kept.
    """
    if not text:
        return [review]
    review.version = f"{suffix}:{text}"
    review.attrs["has_after_comment"] = True
    attrs = {"after_comment": True, "sku_attrs": review.attrs.get("sku_attrs", {})}
    follow = RawItem(
        text=text,
        external_id=f"{review.external_id}:{suffix}",
        author=review.author,
        sku=review.sku,
        product=review.product,
        published=published if isinstance(published, str | int | float) else None,
        parent_external_id=review.external_id,
        attrs={**attrs, "images": images} if images else attrs,
    )
    return [review, follow]
