"""Bounded, SSRF-guarded HTTP(S) fetching of article pages, feeds, PDFs and plain text.

Every hop of a fetch (the URL and each redirect target) is checked before any connection is made:
only http/https; never this server's own address (settings ``host`` and ``port``: with a host of
0.0.0.0 or ::, every loopback or local address of the machine on that port), whatever else is
allowed; and the host's addresses (an IP literal, or every address ``getaddrinfo`` gives) must be
public unicast addresses unless ``fetch_allow_private`` is set or an entry of ``fetch_allowed_hosts``
names the host or address with the hop's scheme and port (``host:port``; a host without a port
opens only port 80 for http and 443 for https). The request then goes to one of exactly those
checked addresses (the ``Host`` header and TLS server name stay the URL's host), so a DNS answer
that changes between the check and the connection (DNS rebinding) cannot lead elsewhere. Proxies
from the environment are ignored for the same reason. Bodies are streamed and cut off at
``fetch_max_bytes``; the whole fetch, redirects included, must finish within ``fetch_timeout_s``.

A conditional GET (``validators``: an ETag and/or Last-Modified from an earlier fetch) sends
``If-None-Match`` / ``If-Modified-Since``; a ``304 Not Modified`` answer is then a :class:`Fetched`
with ``status`` 304 and no body, not an error (ingest/feeds/sync.py polls feeds this way). A caller
may ask for other media types (``types``: gzip sitemaps) or another size limit (``max_bytes``:
sitemaps, robots.txt) for one fetch; an HTTP error status is the :class:`FetchError`'s ``status``.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import TracebackType
from urllib.parse import urljoin

import httpx

from assistant.core.errors import FetchError, UnwantedTypeError
from assistant.core.sections import IngestSettings, ServerSettings
from assistant.core.setting_values import normal_host

ACCEPTED_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        "application/pdf",
        "text/plain",
    }
)
_ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/pdf;q=0.9,"
    "application/xml;q=0.9,text/plain;q=0.8"
)
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CHECKS = (
    ("is_loopback", "a loopback"),
    ("is_unspecified", "an unspecified"),
    ("is_link_local", "a link-local"),
    ("is_multicast", "a multicast"),
    ("is_reserved", "a reserved"),
    ("is_private", "a private"),
)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class _Asked:
    """What one fetch asks for: extra request headers, the media types taken and the size limit."""

    headers: dict[str, str]
    types: frozenset[str]
    max_bytes: int


@dataclass(frozen=True)
class Fetched:
    """A fetched body: ``url`` is the final URL (after redirects), ``content_type`` the bare media
    type in lower case ("" when the server sent none) and ``charset`` the declared charset;
    ``etag`` and ``last_modified`` are the validators the server sent for a conditional GET later
    (status 304: the conditional GET found the resource unchanged, and ``body`` is empty)."""

    url: str
    content_type: str
    charset: str | None
    body: bytes
    status: int = 200
    etag: str = ""
    last_modified: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def conditional_headers(etag: str, last_modified: str) -> dict[str, str]:
    """``If-None-Match`` / ``If-Modified-Since`` for the validators of an earlier fetch."""
    headers = {"If-None-Match": etag} if etag else {}
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def format_size(n_bytes: int, trim: bool = False) -> str:
    """``25.0 MB``, ``1.5 KB``, ``300 bytes``; ``trim`` drops a trailing ``.0`` (for limits)."""
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n_bytes >= scale:
            text = f"{n_bytes / scale:.1f} {unit}"
            return text.replace(".0 ", " ") if trim else text
    return f"{n_bytes} bytes"


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` must not be contacted (``"a loopback"`` ...), or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        address = address.ipv4_mapped or address.sixtofour or address
    for attribute, label in _CHECKS:
        if getattr(address, attribute):
            return label
    return None if address.is_global else "a non-public"


class OwnAddress:
    """Where this Newsdesk serves (settings ``host`` and ``port``), which it never fetches: a feed item
    or a redirect pointing there would read its own API. A host of 0.0.0.0 or :: listens on every
    address of the machine, so then every loopback or local address on that port is its own; a
    loopback host makes every loopback address on the port its own."""

    def __init__(self, server: ServerSettings) -> None:
        self.port = server.port
        self._host = server.host.strip().strip("[]").lower().rstrip(".")
        self._everywhere = self._host in ("", "0.0.0.0", "::")  # noqa: S104 - names it, binds nothing

    @cached_property
    def _addresses(self) -> frozenset[IPAddress]:
        """The addresses the server's host names, resolved when first needed (none when it does
        not resolve: then nothing listens there)."""
        if self._everywhere:
            return frozenset()
        try:
            found = _resolve(self._host, self._host, self.port)
        except FetchError:
            return frozenset()
        return frozenset(_plain(ipaddress.ip_address(address)) for address in found)

    def is_own(self, address: str, port: int) -> bool:
        """True when ``address``:``port`` reaches this server."""
        if port != self.port:
            return False
        ip = _plain(ipaddress.ip_address(address))
        if ip.is_unspecified or ip in self._addresses:  # connecting to 0.0.0.0 reaches this machine
            return True
        if ip.is_loopback:
            return self._everywhere or any(own.is_loopback for own in self._addresses)
        return self._everywhere and _is_local(ip)


class AddressGuard:
    """Resolves hosts and refuses this server's own address, and non-public addresses unless they
    are explicitly allowed (``fetch_allow_private``, or ``fetch_allowed_hosts`` for the port)."""

    def __init__(self, settings: IngestSettings, server: ServerSettings) -> None:
        self._allow_private = settings.fetch_allow_private
        self._allowed = settings.fetch_allowlist
        self._own = OwnAddress(server)

    def addresses(self, url: str, scheme: str, host: str, port: int) -> tuple[str, ...]:
        """The addresses of ``host`` to connect to on ``port``; FetchError if the host is refused."""
        host = normal_host(host)
        found = _resolve(url, host, port)
        for address in found:
            if self._own.is_own(address, port):
                raise FetchError(url, f"refused: {_subject(host, address)} is this server's own address")
        if self._allow_private or self._allows(host, scheme, port):
            return found
        for address in found:
            problem = address_problem(ipaddress.ip_address(address))
            if problem and not self._allows(address, scheme, port):
                refused = f"refused: {_subject(host, address)} is {problem} address"
                raise FetchError(url, refused + self._port_hint(host, address, scheme, port))
        return found

    def _allows(self, host: str, scheme: str, port: int) -> bool:
        return any(entry.host == host and entry.allows(scheme, port) for entry in self._allowed)

    def _port_hint(self, host: str, address: str, scheme: str, port: int) -> str:
        """Why an allowlisted host is still refused: the entry names other ports."""
        if any(entry.host in (host, address) for entry in self._allowed):
            return f" (fetch_allowed_hosts does not allow {scheme} on port {port})"
        return ""


def _subject(host: str, address: str) -> str:
    return address if address == host else f"{host} resolves to {address}, which"


def _plain(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address as IPv4, without an IPv6 scope."""
    if isinstance(address, ipaddress.IPv6Address):
        return address.ipv4_mapped or ipaddress.IPv6Address(str(address).split("%")[0])
    return address


def _is_local(address: IPAddress) -> bool:
    """True when ``address`` is an address of this machine (a socket can be bound to it)."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return False
    return True


def _resolve(url: str, host: str, port: int) -> tuple[str, ...]:
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(url, f"could not resolve host {host}") from exc
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


class Fetcher:
    """Fetches one URL at a time with the limits of :class:`IngestSettings`; reuse it, then ``close()``."""

    def __init__(self, settings: IngestSettings, server: ServerSettings) -> None:
        self._timeout = settings.fetch_timeout_s
        self._max_bytes = settings.fetch_max_bytes
        self._max_redirects = settings.fetch_max_redirects
        self._guard = AddressGuard(settings, server)
        headers = {"User-Agent": settings.fetch_user_agent, "Accept": _ACCEPT}
        self._client = httpx.Client(headers=headers, follow_redirects=False, trust_env=False)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(
        self,
        url: str,
        validators: Mapping[str, str] | None = None,
        *,
        types: frozenset[str] = ACCEPTED_TYPES,
        max_bytes: int | None = None,
    ) -> Fetched:
        """GET ``url``, following up to ``fetch_max_redirects`` redirects, each hop checked first;
        ``validators`` (:func:`conditional_headers`) make it a conditional GET; a body of another
        media type than ``types``, or over ``max_bytes`` (default ``fetch_max_bytes``), is refused."""
        deadline = time.monotonic() + self._timeout
        asked = _Asked(dict(validators or {}), types, max_bytes or self._max_bytes)
        current = url
        for hop in range(self._max_redirects + 1):
            try:
                result = self._request(current, deadline, asked)
            except FetchError as exc:
                if hop == 0:
                    raise
                raise FetchError(url, f"{exc.reason} (redirected to {current})", exc.status) from exc
            if isinstance(result, Fetched):
                return result
            current = result
        raise FetchError(url, f"more than {self._max_redirects} redirects")

    def _request(self, url: str, deadline: float, asked: _Asked) -> Fetched | str:
        """One hop: the fetched body, or the absolute URL a redirect points to."""
        target = self._target(url)
        port = target.port or (443 if target.scheme == "https" else 80)
        addresses = self._guard.addresses(url, target.scheme, target.raw_host.decode("ascii"), port)
        error: httpx.ConnectError | None = None
        for address in addresses:
            try:
                return self._request_address(url, target, address, deadline, asked)
            except httpx.ConnectError as exc:
                error = exc
        raise FetchError(url, f"could not connect ({error})")

    def _target(self, url: str) -> httpx.URL:
        try:
            target = httpx.URL(url.strip())
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError(url, f"invalid URL ({exc})") from exc
        if target.scheme not in ("http", "https"):
            raise FetchError(url, f"unsupported URL scheme {target.scheme!r} (only http and https)")
        if not target.raw_host:
            raise FetchError(url, "URL has no host")
        return target

    def _request_address(
        self, url: str, target: httpx.URL, address: str, deadline: float, asked: _Asked
    ) -> Fetched | str:
        """GET ``target`` from the checked ``address``; ConnectError is left to the caller."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(url, f"timed out after {self._timeout:g} s")
        pinned = target.copy_with(host=address.split("%")[0])
        headers = {"Host": target.netloc.decode("ascii"), **asked.headers}
        extensions = {"sni_hostname": target.raw_host.decode("ascii")}
        try:
            with self._client.stream(
                "GET", pinned, headers=headers, extensions=extensions, timeout=httpx.Timeout(remaining)
            ) as response:
                return self._response(url, target, response, deadline, asked)
        except httpx.ConnectError:
            raise
        except httpx.TimeoutException as exc:
            raise FetchError(url, f"timed out after {self._timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise FetchError(url, f"request failed ({exc})") from exc

    def _response(
        self, url: str, target: httpx.URL, response: httpx.Response, deadline: float, asked: _Asked
    ) -> Fetched | str:
        status = response.status_code
        if status in _REDIRECT_CODES and response.headers.get("location"):
            return urljoin(str(target), response.headers["location"].strip())
        etag, modified = response.headers.get("etag", ""), response.headers.get("last-modified", "")
        if status == 304:  # only a conditional GET gets one; the caller keeps what it had
            return Fetched(str(target.copy_with(fragment=None)), "", None, b"", 304, etag, modified)
        if not 200 <= status < 300:
            raise FetchError(url, f"HTTP {status}", status)
        content_type, charset = _media_type(response.headers.get("content-type", ""))
        if content_type and content_type not in asked.types:
            raise UnwantedTypeError(url, f"unsupported content type {content_type}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > asked.max_bytes:
            raise FetchError(url, f"larger than {format_size(asked.max_bytes, trim=True)}")
        body = self._read_body(url, response, deadline, asked.max_bytes)
        return Fetched(
            str(target.copy_with(fragment=None)), content_type, charset, body, status, etag, modified
        )

    def _read_body(self, url: str, response: httpx.Response, deadline: float, max_bytes: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(url, f"larger than {format_size(max_bytes, trim=True)}")
            if time.monotonic() > deadline:
                raise FetchError(url, f"timed out after {self._timeout:g} s")
            chunks.append(chunk)
        return b"".join(chunks)


def _media_type(header: str) -> tuple[str, str | None]:
    """``("text/html", "utf-8")`` from ``text/html; charset=UTF-8``."""
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'").lower()
    return media.strip().lower(), charset
