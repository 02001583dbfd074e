"""Request signatures of the merchant open platforms, exactly as each documents them.

* **TOP** (Taobao / Tmall): every sent parameter except ``sign`` and empty ones, sorted by name,
  concatenated as ``name + value``; ``md5``: ``MD5(secret + s + secret)``; ``hmac``: HMAC-MD5 keyed by
  the secret over ``s``; ``hmac-sha256``: HMAC-SHA256 keyed by the secret over ``s``. Upper-case hex.
  Checked against TOP's own documentation example (``66987CB1…``, see the tests).
* **JOS** (JD): the same concatenation, ``UPPER(MD5(secret + s + secret))``; ``360buy_param_json`` is a
  parameter like any other.
* **Kuaishou** (快手电商开放平台): only ``method, appkey, access_token, version, signMethod, timestamp,
  param`` are signed, as ``name=value`` joined by ``&`` in name order, then ``&signSecret=<signSecret>``
  appended; ``MD5`` gives lower-case hex, ``HMAC_SHA256`` (keyed by the signSecret) gives Base64.

Pure functions of their inputs: no clock, no environment, no network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Literal

TopSignMethod = Literal["md5", "hmac", "hmac-sha256"]
KuaishouSignMethod = Literal["MD5", "HMAC_SHA256"]
KUAISHOU_SIGNED = ("method", "appkey", "access_token", "version", "signMethod", "timestamp", "param")


def _name_value_string(params: Mapping[str, str]) -> str:
    return "".join(k + params[k] for k in sorted(params) if k != "sign" and params[k] not in ("", None))


def top_sign(params: Mapping[str, str], secret: str, method: TopSignMethod = "md5") -> str:
    """The ``sign`` of a TOP request carrying ``params`` (which must include ``sign_method``)."""
    s = _name_value_string(params)
    key = secret.encode("utf-8")
    if method == "md5":
        digest = hashlib.md5((secret + s + secret).encode("utf-8")).hexdigest()
    elif method == "hmac":
        digest = hmac.new(key, s.encode("utf-8"), hashlib.md5).hexdigest()
    elif method == "hmac-sha256":
        digest = hmac.new(key, s.encode("utf-8"), hashlib.sha256).hexdigest()
    else:  # pragma: no cover - the Literal type and the config schema rule this out
        raise ValueError(f"unknown TOP sign method {method!r}")
    return digest.upper()


def jos_sign(params: Mapping[str, str], secret: str) -> str:
    """The ``sign`` of a JD JOS ``routerjson`` request."""
    s = _name_value_string(params)
    return hashlib.md5((secret + s + secret).encode("utf-8")).hexdigest().upper()


def kuaishou_sign_string(params: Mapping[str, str], sign_secret: str) -> str:
    signed = {k: params[k] for k in KUAISHOU_SIGNED if params.get(k) is not None}
    joined = "&".join(f"{k}={signed[k]}" for k in sorted(signed))
    return f"{joined}&signSecret={sign_secret}"


def kuaishou_sign(params: Mapping[str, str], sign_secret: str, method: KuaishouSignMethod = "MD5") -> str:
    """The ``sign`` of a Kuaishou open-platform request (``signMethod`` must be among ``params``)."""
    s = kuaishou_sign_string(params, sign_secret).encode("utf-8")
    if method == "MD5":
        return hashlib.md5(s).hexdigest()
    if method == "HMAC_SHA256":
        mac = hmac.new(sign_secret.encode("utf-8"), s, hashlib.sha256).digest()
        return base64.b64encode(mac).decode("ascii")
    raise ValueError(f"unknown Kuaishou sign method {method!r}")  # pragma: no cover
