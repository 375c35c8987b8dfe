"""The private-address guard (SSRF) for every outgoing request.

In: a URL (after origin mapping) and the allow list.  Out: nothing, or RouteWatchError E103.
Refuses loopback, private, link-local, multicast, reserved and cloud-metadata addresses in every
spelling (literal IPs, 127.1, 0x7f000001, 2130706433, IPv6-mapped) and DNS names resolving there,
unless `host:port` is allow-listed. Never makes a connection itself (DNS look-up only).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from routewatch.errors import Code, RouteWatchError

ALLOWED_SCHEMES = ("http", "https")


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """inet_aton accepts the legacy forms (127.1, 0x7f000001, 2130706433, 0177.0.0.1)."""
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    h = host.strip("[]")
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    if all(c in "0123456789abcdefxABCDEFX." for c in h):
        return _legacy_ipv4(h)
    return None


def is_forbidden_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return is_forbidden_ip(mapped)
        if ip.teredo:
            return True
    return bool(
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
        or ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT)
    )


_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_PATCH_LOCK = threading.Lock()


def host_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as e:
        raise RouteWatchError(Code.E103, f"invalid port in URL {url!r}") from e
    return (parts.hostname or ""), port


def check_url(url: str, allow_hosts: list[str] | tuple[str, ...] = (), *, resolve: bool = True) -> None:
    """Raise E103 unless the URL may be requested."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise RouteWatchError(Code.E103, f"scheme {parts.scheme!r} refused: only http(s) URLs are fetched")
    host, port = host_port(url)
    if not host:
        raise RouteWatchError(Code.E103, f"URL has no host: {url!r}")
    default_port = 443 if parts.scheme.lower() == "https" else 80
    hp = f"{host}:{port or default_port}"
    if hp in allow_hosts or (port is None and host in allow_hosts):
        return
    ip = _literal_ip(host)
    if ip is not None:
        if is_forbidden_ip(ip):
            raise RouteWatchError(Code.E103, f"address {host} is private/loopback/link-local and not allow-listed")
        return
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        raise RouteWatchError(Code.E103, f"host {host} is loopback and not allow-listed")
    if not resolve:
        return
    try:
        infos = socket.getaddrinfo(host, port or default_port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as e:
        raise RouteWatchError(Code.E105, f"cannot resolve {host}: {e}") from e
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if is_forbidden_ip(addr):
            raise RouteWatchError(Code.E103, f"host {host} resolves to {addr}, a private address")


class _RefusedError(OSError):
    pass


@contextlib.contextmanager
def guarded_resolution(allow_hosts: list[str] | tuple[str, ...]) -> Iterator[dict[str, str]]:
    """Within the block, every name resolution in this process refuses private addresses.

    Tools that follow redirects on their own (yt-dlp) connect only after resolving; refusing at
    resolution catches the first URL, every redirect and DNS names pointing inside, whatever the
    spelling. `state["refused"]` tells the caller a refusal happened (→ E103).
    """
    state: dict[str, str] = {}
    real = socket.getaddrinfo

    def checked(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        infos = real(host, port, *args, **kwargs)
        h = host.decode() if isinstance(host, bytes) else str(host)
        if f"{h}:{port}" in allow_hosts or (f"[{h}]:{port}" in allow_hosts):
            return infos
        for info in infos:
            addr = ipaddress.ip_address(info[4][0].split("%")[0])
            if is_forbidden_ip(addr):
                state["refused"] = f"{h} resolves to {addr}, a private address"
                raise _RefusedError(f"refused by the private-address guard: {state['refused']}")
        return infos

    with _PATCH_LOCK:
        socket.getaddrinfo = checked
        try:
            yield state
        finally:
            socket.getaddrinfo = real
