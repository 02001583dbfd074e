"""Where sources may connect: ``http(s)`` only, and by default only to public addresses.

A source's URL is written by an admin, but the URLs it leads to are not: next-page links and
redirects come from the page, so a hostile or compromised page could point the daemon at the
cloud metadata service, the database or an intranet console (SSRF). Intranet sources (an
RSSHub inside the company, a test server on 127.0.0.1) are allowed by name in ``monitor.yaml``::

    fetch:
      allow_private: [127.0.0.1, 10.8.0.0/16, rsshub.internal]

The same rules run twice: on the configured URLs when the config loads (``monitor check`` names
``path:line: key: message``), and on every connection, after DNS resolution, against the address
actually connected to (``monitor.fetch``), so a name that resolves to a public address at check
time and to an internal one later (DNS rebinding) is still refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from monitor.config.yamlload import ConfigError, LoadedYaml, dotted

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SCHEMES = ("http", "https")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def parse_allow_entry(entry: str) -> IPNetwork | str:
    """An address, a network (CIDR) or a host name (``*.corp.example`` for a whole domain)."""
    text = entry.strip().lower().rstrip(".")
    if not text:
        raise ValueError("empty entry")
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    name = text[2:] if text.startswith("*.") else text
    labels = name.split(".")
    if "/" in text or not all(lab and len(lab) <= 63 and lab.replace("-", "").isalnum() for lab in labels):
        raise ValueError(f"{entry!r} is neither an IP address, a network such as 10.0.0.0/8, nor a host name")
    return text


def _ip(host: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip


def is_public(ip: IPAddress) -> bool:
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


@dataclass(frozen=True)
class NetworkPolicy:
    """``allow``: networks and host names that may be private (everything public is allowed)."""

    networks: tuple[IPNetwork, ...] = ()
    names: tuple[str, ...] = ()

    @classmethod
    def allowing(cls, entries: Iterable[str]) -> NetworkPolicy:
        nets: list[IPNetwork] = []
        names: list[str] = []
        for e in entries:
            parsed = parse_allow_entry(e)
            if isinstance(parsed, str):
                names.append(parsed)
            else:
                nets.append(parsed)
        return cls(tuple(nets), tuple(names))

    def name_allowed(self, host: str) -> bool:
        h = host.lower().rstrip(".")
        return any(h == n or (n.startswith("*.") and (h == n[2:] or h.endswith(n[1:]))) for n in self.names)

    def address_problem(self, host: str, ip: IPAddress) -> str | None:
        """Why connecting to ``ip`` (which ``host`` resolved to) is refused, or None."""
        if is_public(ip) or self.name_allowed(host) or any(ip in net for net in self.networks):
            return None
        what = host if host.strip("[]") == str(ip) else f"{host} ({ip})"
        return (
            f"{what} is a private, loopback or link-local address; sources may only reach public "
            "addresses unless monitor.yaml lists it under fetch.allow_private"
        )

    def url_problem(self, url: str) -> str | None:
        """What is wrong with ``url`` before any DNS lookup: its scheme, a missing host, a literal
        private address or a local name. None when it may be fetched (subject to the connect check)."""
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError as exc:
            return f"not a valid URL ({exc})"
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            return f"only http and https URLs can be fetched, not {scheme + ':' if scheme else 'this'!r}"
        if not host:
            return "the URL has no host"
        ip = _ip(host)
        if ip is not None:
            return self.address_problem(host, ip)
        h = host.lower().rstrip(".")
        if (h in _LOCAL_NAMES or h.endswith(".localhost")) and not self.name_allowed(h):
            return self.address_problem(h, ipaddress.ip_address("127.0.0.1"))
        return None


def url_errors(
    url: str, policy: NetworkPolicy, entry: Mapping[str, Any], loaded: LoadedYaml, kp: Sequence[str | int]
) -> list[ConfigError]:
    """``monitor check``: the source's first URL against the policy, located at the key that holds it."""
    problem = policy.url_problem(url)
    if problem is None:
        return []
    key = next((k for k in ("url", "instance", "base_url") if k in entry), None)
    where = [*kp, key] if key else list(kp)
    return [ConfigError(loaded.path, loaded.line_of(where), dotted(where), problem)]
