"""Signing, one table per scheme. Expected values were computed once from each platform's documented
algorithm (TOP's first row is the example in TOP's own documentation); the last test of each scheme
rebuilds the string to sign by hand and hashes it here, independently of the module."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from monitor.adapters.request_signing import jos_sign, kuaishou_sign, kuaishou_sign_string, top_sign

TOP_DOC = {
    "app_key": "12345678",
    "fields": "num_iid,title,nick,price,num",
    "format": "json",
    "method": "taobao.item.seller.get",
    "num_iid": "11223344",
    "session": "test",
    "sign_method": "md5",
    "timestamp": "2016-01-01 12:00:00",
    "v": "2.0",
}
TRADERATES = {
    "method": "taobao.traderates.get", "app_key": "23456789", "session": "6100e2",
    "timestamp": "2026-11-23 12:00:00", "v": "2.0", "format": "json", "sign_method": "md5",
    "rate_type": "get", "role": "buyer", "fields": "tid,oid,content",
    "start_date": "2026-11-20 00:00:00", "end_date": "2026-11-23 12:00:00", "page_no": "1",
    "page_size": "150", "use_has_next": "true", "result": "",
}  # fmt: skip


@pytest.mark.parametrize(
    ("params", "secret", "method", "expected"),
    [
        (TOP_DOC, "helloworld", "md5", "66987CB115214E59E6EC978214934FB8"),  # TOP's documentation example
        ({**TOP_DOC, "sign_method": "hmac"}, "helloworld", "hmac", "D56D7858309C31B6251083A874D48273"),
        (
            {**TOP_DOC, "sign_method": "hmac-sha256"},
            "helloworld",
            "hmac-sha256",
            "04DB15AD0774D5CFCE2C837DE43E3FCEA9011ED74F3038FB6AB5F3C4CEA119E8",
        ),
        # empty values are not signed; an existing `sign` is ignored
        (TRADERATES, "sekret", "md5", "D55F86E466FB5091FCC6FB0E9639E025"),
        ({**TRADERATES, "sign": "OLD"}, "sekret", "md5", "D55F86E466FB5091FCC6FB0E9639E025"),
    ],
)
def test_top_sign(params: dict[str, str], secret: str, method: str, expected: str) -> None:
    assert top_sign(params, secret, method) == expected  # type: ignore[arg-type]


def test_top_sign_depends_on_every_value_and_the_secret() -> None:
    base = top_sign(TOP_DOC, "helloworld")
    assert top_sign({**TOP_DOC, "num_iid": "11223345"}, "helloworld") != base
    assert top_sign(TOP_DOC, "helloworlD") != base


def test_top_sign_independently() -> None:
    s = (
        "helloworld"
        + "app_key12345678fieldsnum_iid,title,nick,price,numformatjsonmethodtaobao.item.seller.get"
    )
    s += "num_iid11223344sessiontestsign_methodmd5timestamp2016-01-01 12:00:00v2.0" + "helloworld"
    assert top_sign(TOP_DOC, "helloworld") == hashlib.md5(s.encode()).hexdigest().upper()
    body = (
        s.removeprefix("helloworld").removesuffix("helloworld").replace("sign_methodmd5", "sign_methodhmac")
    )
    mac = hmac.new(b"helloworld", body.encode(), hashlib.md5).hexdigest().upper()
    assert top_sign({**TOP_DOC, "sign_method": "hmac"}, "helloworld", "hmac") == mac


JOS = {
    "method": "jingdong.pop.PopCommentJsfService.getVenderCommentsForJos",
    "access_token": "at-123",
    "app_key": "jdkey",
    "timestamp": "2026-11-23 12:00:00",
    "v": "2.0",
    "format": "json",
    "360buy_param_json": '{"beginTime":"2026-11-20 00:00:00","endTime":"2026-11-23 12:00:00","page":1,"pageSize":50}',
}


@pytest.mark.parametrize(
    ("params", "secret", "expected"),
    [
        (JOS, "jdsecret", "10EB89402FECCD91E0A982885EC372CB"),
        ({**JOS, "sign": "X"}, "jdsecret", "10EB89402FECCD91E0A982885EC372CB"),
    ],
)
def test_jos_sign(params: dict[str, str], secret: str, expected: str) -> None:
    assert jos_sign(params, secret) == expected


def test_jos_sign_independently() -> None:
    order = ["360buy_param_json", "access_token", "app_key", "format", "method", "timestamp", "v"]
    s = "jdsecret" + "".join(k + JOS[k] for k in order) + "jdsecret"
    assert jos_sign(JOS, "jdsecret") == hashlib.md5(s.encode()).hexdigest().upper()
    assert jos_sign(JOS, "wrong") != jos_sign(JOS, "jdsecret")


KS = {
    "method": "open.comment.list.get",
    "appkey": "ks123",
    "access_token": "tok",
    "version": "1",
    "signMethod": "MD5",
    "timestamp": "1795400000000",
    "param": '{"limit":20,"offset":0}',
}


@pytest.mark.parametrize(
    ("params", "method", "expected"),
    [
        (KS, "MD5", "7b853fd6424dbc502e921123b8603ccd"),
        # parameters outside the signed set (the sign itself, anything else) do not change it
        ({**KS, "sign": "x", "extra": "y"}, "MD5", "7b853fd6424dbc502e921123b8603ccd"),
        ({**KS, "signMethod": "HMAC_SHA256"}, "HMAC_SHA256", "srGQxchv9aVryBvqAN2QkZix7GETDjS2eisDstGcpls="),
    ],
)
def test_kuaishou_sign(params: dict[str, str], method: str, expected: str) -> None:
    assert kuaishou_sign(params, "signsecret", method) == expected  # type: ignore[arg-type]


def test_kuaishou_sign_independently() -> None:
    s = (
        'access_token=tok&appkey=ks123&method=open.comment.list.get&param={"limit":20,"offset":0}'
        "&signMethod=MD5&timestamp=1795400000000&version=1&signSecret=signsecret"
    )
    assert kuaishou_sign_string(KS, "signsecret") == s
    assert kuaishou_sign(KS, "signsecret") == hashlib.md5(s.encode()).hexdigest()
    s2 = s.replace("signMethod=MD5", "signMethod=HMAC_SHA256")
    mac = base64.b64encode(hmac.new(b"signsecret", s2.encode(), hashlib.sha256).digest()).decode()
    assert kuaishou_sign({**KS, "signMethod": "HMAC_SHA256"}, "signsecret", "HMAC_SHA256") == mac
