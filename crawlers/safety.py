"""The private-address guard (SSRF) for every outgoing request.

In: a URL (after origin mapping) and the allow list.  Out: nothing, or RouteWatchError E103.
Refuses loopback, private, link-local, multicast, reserved and cloud-metadata addresses in every
spelling (literal IPs, 127.1, 0x7f000001, 2130706433, IPv6-mapped) and DNS names resolving there,
unless `host:port` is allow-listed. Never makes a connection itself (DNS look-up only). Also the total
time budget of one download (`Deadline`), which cuts the sockets a slow server keeps open.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from routewatch.core.errors import Code, RouteWatchError

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


# White space, controls and the format characters (zero-width, bidi, soft hyphen, tags) a URL never holds
_BAD_URL_CHAR = re.compile("[\\s\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
                           "\u2060-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]")


def check_url_form(url: str, max_chars: int) -> None:
    """Raise E109 for a URL longer than `max_chars`, E108 for one that cannot be parsed (an unclosed
    IPv6 bracket, white space or control characters, no scheme or host); ports and schemes are
    `check_url`'s (E103) and the crawlers' (E106) to judge."""
    if len(url) > max_chars:
        raise RouteWatchError(Code.E109, f"URL of {len(url):,} characters is over crawl.max_url_chars ({max_chars:,})")
    bad = _BAD_URL_CHAR.search(url)
    if bad is not None:
        raise RouteWatchError(Code.E108, f"URL contains U+{ord(bad.group(0)):04X} (white space or a control character)")
    try:
        parts = urlsplit(url)
    except ValueError as e:
        raise RouteWatchError(Code.E108, f"URL cannot be parsed: {e}") from e
    if parts.scheme.lower() in ALLOWED_SCHEMES and not parts.netloc:
        raise RouteWatchError(Code.E108, "URL has no host")


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


class DeadlinePassedError(TimeoutError):
    """A connection refused, or cut, because the download's total time budget ran out."""


class Deadline:
    """A total time budget for one download, beside the idle time-out of each read.

    An idle time-out alone never ends a server that sends a few bytes every second. Within
    `with Deadline(seconds):`, every socket this thread connects is remembered; when the budget runs
    out a timer shuts them down (a blocked read returns at once) and later connects fail with
    `DeadlinePassedError`. `expired` tells the caller to report E210. Other threads are not affected.
    """

    _local = threading.local()
    _install_lock = threading.Lock()

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.expired = False
        self._sockets: list[tuple[int, Any, Any]] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._started = 0.0

    @classmethod
    def _install(cls) -> None:
        # One wrapper around socket.connect for the whole process; it only looks at the calling thread's
        # active deadline, so sockets of other threads are never touched. Checked on every use: another
        # library (pytest-socket, gevent) may have replaced connect since, and then it is wrapped again.
        with cls._install_lock:
            if getattr(socket.socket.connect, "_rw_deadline", False):
                return
            real = socket.socket.connect

            def connect(sock: socket.socket, address: Any) -> None:
                dl = getattr(cls._local, "deadline", None)
                if dl is not None:
                    dl.check_open()
                real(sock, address)
                if dl is not None:
                    dl._track(sock)

            connect._rw_deadline = True  # type: ignore[attr-defined]
            socket.socket.connect = connect  # type: ignore[method-assign]

    def check_open(self) -> None:
        if self.expired:
            raise DeadlinePassedError(f"download time budget of {self.seconds:g} s used up")

    def _track(self, sock: socket.socket) -> None:
        # By descriptor and both addresses, not by object: TLS wraps the socket and detaches the object
        # connect() saw, but the descriptor and the connection stay the same.
        try:
            entry = (sock.fileno(), sock.getsockname(), sock.getpeername())
        except OSError:
            return
        with self._lock:
            self._sockets.append(entry)

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            entries, self._sockets = self._sockets, []
        for fd, local, peer in entries:
            try:
                s = socket.socket(fileno=fd)
            except OSError:
                continue  # closed already
            try:
                if s.getsockname() == local and s.getpeername() == peer:  # still that connection
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            finally:
                s.detach()

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def check(self) -> None:
        """Raise DeadlinePassedError when the budget is used up (for progress hooks and read loops)."""
        if self.expired or self.elapsed() > self.seconds:
            self.expired = True
            raise DeadlinePassedError(f"download time budget of {self.seconds:g} s used up")

    def __enter__(self) -> Deadline:
        self._install()
        self._started = time.monotonic()
        self._outer = getattr(self._local, "deadline", None)
        self._local.deadline = self
        self._timer = threading.Timer(self.seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._local.deadline = self._outer
        with self._lock:
            self._sockets = []


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
