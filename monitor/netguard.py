"""An httpx transport that connects only to addresses the network policy allows (``monitor.config.
netpolicy``): it resolves the host itself, checks every address, and connects to a checked address,
so a DNS answer that changes between the check and the connection (rebinding) cannot slip through.

httpx does not let a caller choose how its connection pool opens sockets, so this is a small
transport over httpcore's public API (the same two libraries httpx itself is built on) with
httpcore's network backend wrapped; TLS still verifies the certificate against the host name.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpcore
import httpx

from monitor.config.netpolicy import NetworkPolicy

_CORE_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
)


class AddressRefused(Exception):
    """The host resolves only to addresses the policy refuses (private, loopback, link-local …)."""


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, policy: Callable[[], NetworkPolicy]) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        policy = self._policy()
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        refused: str | None = None
        last: Exception | None = None
        for *_, sockaddr in infos:
            address = str(sockaddr[0]).split("%", 1)[0]
            ip = ipaddress.ip_address(address)
            if ip.version == 6 and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            problem = policy.address_problem(host, ip)
            if problem:
                refused = refused or problem
                continue
            try:  # the checked address itself, never the name again
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        if last is not None:
            raise last
        raise AddressRefused(refused or f"{host} has no address")


def _mapped(exc: Exception, request: httpx.Request) -> httpx.TransportError:
    """httpcore's exception as the same-named httpx one (the tree httpx documents)."""
    cls = getattr(httpx, type(exc).__name__, httpx.TransportError)
    if not (isinstance(cls, type) and issubclass(cls, httpx.TransportError)):
        cls = httpx.TransportError
    return cls(str(exc), request=request)


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except _CORE_ERRORS as exc:
            raise _mapped(exc, self._request) from exc

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class GuardedTransport(httpx.BaseTransport):
    """Plain HTTP/1.1 over a pool whose sockets only go to allowed addresses."""

    def __init__(self, policy: Callable[[], NetworkPolicy]) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        req = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            resp = self._pool.handle_request(req)
        except _CORE_ERRORS as exc:
            raise _mapped(exc, request) from exc
        assert isinstance(resp.stream, Iterable)
        return httpx.Response(
            status_code=resp.status,
            headers=resp.headers,
            stream=_Body(resp.stream, request),
            extensions=resp.extensions,
        )

    def close(self) -> None:
        self._pool.close()
