"""The scripted demo scenario: what the simulated storefront publishes, and when.

Times are seconds after the demo starts. ``expect`` records what the scenario is
meant to show, so the demo (and its test) can check the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Post:
    at: float
    channel: str  # jd | shop | weibo
    text: str
    rating: int | None = None
    sku: str | None = None
    author: str = "顾客"
    color: str = ""
    expect: str = ""  # "" ordinary | "negated" must not alert | "keyword" | "burst"


BURST_SKU = "100012043978"
CUP = "保温杯 500ml"

POSTS: list[Post] = [
    # Phase 1 (t=0): ordinary reviews, and negated mentions that must not alert.
    Post(0, "jd", "杯子很好看，保温效果不错，物流也快，好评！", 5, BURST_SKU, "j***1", "星空蓝"),
    Post(0, "jd", "包装完好，没有破损，保温时间挺长的。", 5, BURST_SKU, "小***花", "樱花粉", "negated"),
    Post(0, "jd", "在官方旗舰店买的，不是假货，放心。", 5, BURST_SKU, "王***", "星空蓝", "negated"),
    Post(0, "jd", "第二次回购了，家里人都喜欢，价格实惠。", 5, BURST_SKU, "l***e", "雅致白"),
    Post(0, "shop", "T恤质量很好，洗了两次没有掉色，尺码也标准。", 5, "200033", "阿***", "", "negated"),
    Post(0, "shop", "衣服挺舒服的，就是颜色比图片深一点。", 4, "200033", "周***"),
    Post(0, "shop", "耳机音质不错，续航也够用，客服回复很及时。", 5, "300077", "m***k"),
    Post(0, "shop", "快递三天才到，发货慢，希望改进。", 3, "300077", "陈***", "", "keyword"),
    Post(0, "weibo", "今天收到了示例旗舰店的保温杯，颜值很高，推荐给大家～", None, None, "生活家小美"),
    Post(
        0,
        "weibo",
        "说实话示例旗舰店的耳机并非假货，专柜验过了，大家别乱传。",
        None,
        None,
        "数码控老王",
        "",
        "negated",
    ),
    # Phase 2 (t=8): a burst of 破损 reviews on one SKU, all published at once so that one poll
    # sees the whole burst on every run (the keyword alert is absorbed before it is sent).
    Post(8, "jd", "收到杯子就是破损的，杯盖裂了一条缝！", 1, BURST_SKU, "张***", "星空蓝", "burst"),
    Post(8, "jd", "外包装压扁了，杯身有凹陷，破损严重。", 1, BURST_SKU, "t***9", "星空蓝", "burst"),
    Post(8, "jd", "杯子摔坏了一样，瓶口破损，要求退货。", 1, BURST_SKU, "刘***", "樱花粉", "burst"),
    Post(8, "jd", "又是破损！盖子碎了，快递太暴力。", 2, BURST_SKU, "赵***", "星空蓝", "burst"),
    Post(8, "jd", "到手破损，内胆有裂纹，没法用。", 1, BURST_SKU, "孙***", "雅致白", "burst"),
    Post(8, "jd", "商品破损，客服还让我自己找快递，气死了。", 1, BURST_SKU, "周***", "星空蓝", "burst"),
    Post(8, "jd", "买了两个都破损了，这质量控制太差。", 1, BURST_SKU, "吴***", "樱花粉", "burst"),
    # Phase 3 (t=16): a Weibo post accusing the store of selling fakes.
    Post(
        16,
        "weibo",
        "曝光一下！在示例旗舰店买的保温杯是假货，防伪码查不到，已经打12315投诉了，大家千万别买！",
        None,
        None,
        "维权的小李",
        "",
        "keyword",
    ),
]

END = max(p.at for p in POSTS)
