"""The bounded, SSRF-guarded fetcher, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest

from assistant.core.errors import ConfigError, FetchError
from assistant.core.sections import AllowedHost, allowed_host
from assistant.core.settings import Settings
from ingest.loading.fetch import Fetcher, address_problem, format_size
from tests.ingest.conftest import LocalServer


def allow(*servers: LocalServer, **settings: Any) -> Settings:
    """Settings allowing exactly the host:port of each test server (a bare host opens only 80/443)."""
    return Settings(fetch_allowed_hosts=[server.host_port for server in servers], **settings)


def fetcher_of(settings: Settings) -> Fetcher:
    return Fetcher(settings.ingest, settings.server)


def fetch_error(settings: Settings, url: str) -> str:
    with fetcher_of(settings) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert caught.value.source == url
    return caught.value.reason


def test_fetch_returns_body_media_type_and_charset(server: LocalServer) -> None:
    url = server.add("/page", "<p>héllo</p>", 'Text/HTML; Charset="UTF-8"')
    with fetcher_of(allow(server)) as fetcher:
        fetched = fetcher.fetch(url)
    assert fetched.body == "<p>héllo</p>".encode()
    assert (fetched.content_type, fetched.charset, fetched.url) == ("text/html", "utf-8", url)


def test_loopback_address_is_refused_by_default_without_sending_a_request(server: LocalServer) -> None:
    url = server.add("/page", "<p>secret</p>")
    assert fetch_error(Settings(), url) == "refused: 127.0.0.1 is a loopback address"
    assert server.requests == []


def test_host_name_resolving_to_loopback_is_refused(server: LocalServer) -> None:
    url = server.add("/page", "<p>secret</p>").replace("127.0.0.1", "localhost")
    reason = fetch_error(Settings(), url)
    assert reason.startswith("refused: localhost resolves to ")
    assert reason.endswith("which is a loopback address")
    assert server.requests == []


def test_allowed_address_also_allows_host_names_resolving_to_it(server: LocalServer) -> None:
    url = server.add("/page", "<p>local</p>").replace("127.0.0.1", "localhost")
    hosts = [server.host_port, f"[::1]:{server.port}"]
    with fetcher_of(Settings(fetch_allowed_hosts=hosts)) as fetcher:
        assert fetcher.fetch(url).body == b"<p>local</p>"


def test_allow_private_setting_lets_loopback_through(server: LocalServer) -> None:
    url = server.add("/page", "<p>intranet</p>")
    with fetcher_of(Settings(fetch_allow_private=True)) as fetcher:
        assert fetcher.fetch(url).body == b"<p>intranet</p>"


def test_relative_redirect_is_followed_and_final_url_reported(server: LocalServer) -> None:
    server.add("/old", "", status=301, headers={"Location": "/new"})
    final = server.add("/new", "<p>moved</p>")
    with fetcher_of(allow(server)) as fetcher:
        fetched = fetcher.fetch(server.url("/old"))
    assert (fetched.url, fetched.body) == (final, b"<p>moved</p>")
    assert server.requests == ["/old", "/new"]


def test_redirect_to_ipv6_loopback_is_refused_before_connecting(
    server: LocalServer, ipv6_server: LocalServer
) -> None:
    target = ipv6_server.add("/admin", "<p>secret</p>")
    start = server.add("/go", "", status=302, headers={"Location": target})
    reason = fetch_error(allow(server), start)
    assert reason == f"refused: ::1 is a loopback address (redirected to {target})"
    assert ipv6_server.requests == []


def test_redirect_to_private_address_is_refused_before_connecting(server: LocalServer) -> None:
    # 10.0.0.1 is never contacted: the address check fails before any connection is attempted.
    start = server.add("/go", "", status=307, headers={"Location": "http://10.0.0.1/internal"})
    settings = allow(server, fetch_timeout_s=0.5)
    reason = fetch_error(settings, start)
    assert reason == "refused: 10.0.0.1 is a private address (redirected to http://10.0.0.1/internal)"


def test_redirect_loop_stops_after_the_configured_number_of_redirects(server: LocalServer) -> None:
    url = server.add("/loop", "", status=302, headers={"Location": "/loop"})
    settings = allow(server, fetch_max_redirects=3)
    assert fetch_error(settings, url) == "more than 3 redirects"
    assert len(server.requests) == 4


def test_declared_length_over_the_limit_is_refused(server: LocalServer) -> None:
    url = server.add("/big", b"x" * 5000)
    settings = allow(server, fetch_max_bytes=4096)
    assert fetch_error(settings, url) == "larger than 4 KB"


def test_streamed_body_without_length_is_cut_off_at_the_limit(server: LocalServer) -> None:
    url = server.add("/stream", b"y" * 300_000, send_length=False)
    settings = allow(server, fetch_max_bytes=100_000)
    assert fetch_error(settings, url) == "larger than 97.7 KB"


def test_body_exactly_at_the_limit_is_accepted(server: LocalServer) -> None:
    url = server.add("/exact", b"z" * 2048, "text/plain", send_length=False)
    with fetcher_of(allow(server, fetch_max_bytes=2048)) as fetcher:
        assert len(fetcher.fetch(url).body) == 2048


def test_slow_server_times_out(server: LocalServer) -> None:
    url = server.add("/slow", "<p>late</p>", delay_s=1.0)
    settings = allow(server, fetch_timeout_s=0.2)
    assert fetch_error(settings, url) == "timed out after 0.2 s"


def test_http_error_status_is_reported(server: LocalServer) -> None:
    assert fetch_error(allow(server), server.url("/missing")) == "HTTP 404"


def test_unsupported_content_type_is_refused(server: LocalServer) -> None:
    url = server.add("/photo", b"\x89PNG", "image/png")
    assert fetch_error(allow(server), url) == "unsupported content type image/png"


@pytest.mark.parametrize("url", ["ftp://example.com/a.txt", "file:///etc/passwd"])
def test_schemes_other_than_http_and_https_are_refused(url: str) -> None:
    assert fetch_error(Settings(), url).startswith("unsupported URL scheme")


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "a loopback"),
        ("::1", "a loopback"),
        ("::ffff:127.0.0.1", "a loopback"),
        ("0.0.0.0", "an unspecified"),
        ("169.254.169.254", "a link-local"),
        ("fe80::1", "a link-local"),
        ("224.0.0.1", "a multicast"),
        ("10.0.0.1", "a private"),
        ("172.16.5.4", "a private"),
        ("192.168.1.1", "a private"),
        ("fd00::1", "a private"),
        ("240.0.0.1", "a reserved"),
        ("100.64.0.1", "a non-public"),
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_problem_names_every_non_public_kind(address: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(address)) == problem


@pytest.mark.parametrize(
    ("field", "value"),
    [("fetch_timeout_s", 0), ("fetch_max_bytes", -1), ("fetch_max_redirects", -1), ("max_file_bytes", 0)],
)
def test_bad_fetch_limits_are_a_config_error_of_the_settings_naming_them(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=rf"{field}\n.*input_value={value}"):
        Settings.load(None, **{field: value})


def test_sizes_are_formatted_for_messages() -> None:
    assert format_size(25 * 1024 * 1024) == "25.0 MB"
    assert format_size(20 * 1024 * 1024, trim=True) == "20 MB"
    assert format_size(1536) == "1.5 KB"
    assert format_size(300) == "300 bytes"


# --- the allowlist names ports; the server's own address is never fetched ----------------------


def other_server() -> LocalServer:
    return LocalServer("127.0.0.1")


def test_bare_allowlisted_host_does_not_open_every_port(server: LocalServer) -> None:
    # NEWSDESK_FETCH_ALLOWED_HOSTS=127.0.0.1 once let a feed item read http://127.0.0.1:8201/secret.txt
    url = server.add("/secret.txt", "internal", "text/plain")
    reason = fetch_error(Settings(fetch_allowed_hosts=["127.0.0.1"]), url)
    assert reason == "refused: 127.0.0.1 is a loopback address" + (
        f" (fetch_allowed_hosts does not allow http on port {server.port})"
    )
    assert server.requests == []


def test_allowlisted_host_does_not_open_other_ports(server: LocalServer) -> None:
    other = other_server()
    try:
        secret = other.add("/secret.txt", "internal", "text/plain")
        settings = allow(server)
        with fetcher_of(settings) as fetcher:
            assert fetcher.fetch(server.add("/page", "<p>ok</p>")).body == b"<p>ok</p>"
        assert fetch_error(settings, secret).startswith("refused: 127.0.0.1 is a loopback address")
        assert other.requests == []
    finally:
        other.stop()


def test_allowlist_entry_with_a_scheme_opens_only_that_scheme(server: LocalServer) -> None:
    url = server.add("/page", "<p>local</p>")
    https_only = Settings(fetch_allowed_hosts=[f"https://{server.host_port}"])
    assert fetch_error(https_only, url).startswith("refused")
    with fetcher_of(Settings(fetch_allowed_hosts=[f"http://{server.host_port}/"])) as fetcher:
        assert fetcher.fetch(url).body == b"<p>local</p>"
    assert server.requests == ["/page"]


def test_own_api_is_never_fetched_even_when_allowlisted(server: LocalServer) -> None:
    # an item linking to Newsdesk's own /api/stats was fetched and ingested
    url = server.add("/api/stats", '{"articles": 12}', "text/plain")
    own = allow(server, host="127.0.0.1", port=server.port)
    assert fetch_error(own, url) == "refused: 127.0.0.1 is this server's own address"
    by_name = url.replace("127.0.0.1", "localhost")
    assert fetch_error(own, by_name).endswith("which is this server's own address")
    assert server.requests == []


def test_own_address_is_refused_with_fetch_allow_private_on_every_local_address(server: LocalServer) -> None:
    # host 0.0.0.0 listens everywhere: every loopback or local address on the port is its own
    own = Settings(fetch_allow_private=True, host="0.0.0.0", port=server.port)
    url = server.add("/api/stats", '{"articles": 12}', "text/plain")
    for address in ("127.0.0.1", "127.0.0.2", "0.0.0.0", "[::ffff:127.0.0.1]", "localhost"):
        assert "this server's own address" in fetch_error(own, url.replace("127.0.0.1", address))
    assert server.requests == []
    elsewhere = Settings(fetch_allow_private=True, host="0.0.0.0", port=server.port + 1)
    with fetcher_of(elsewhere) as fetcher:
        assert fetcher.fetch(url).body == b'{"articles": 12}'


def test_redirect_to_own_address_is_refused_before_connecting(server: LocalServer) -> None:
    newsdesk = other_server()
    try:
        target = newsdesk.add("/api/stats", '{"articles": 12}', "text/plain")
        start = server.add("/go", "", status=302, headers={"Location": target})
        settings = allow(server, newsdesk, host="127.0.0.1", port=newsdesk.port)
        reason = fetch_error(settings, start)
        assert reason == f"refused: 127.0.0.1 is this server's own address (redirected to {target})"
        assert newsdesk.requests == []
    finally:
        newsdesk.stop()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("127.0.0.1:8080", AllowedHost("127.0.0.1", None, 8080)),
        ("http://LocalHost.:8080", AllowedHost("localhost", "http", 8080)),
        ("https://intranet.example", AllowedHost("intranet.example", "https", None)),
        ("[::1]:8080", AllowedHost("::1", None, 8080)),
        ("::1", AllowedHost("::1", None, None)),
        ("10.0.0.5", AllowedHost("10.0.0.5", None, None)),
    ],
)
def test_allowlist_entries_name_a_host_and_a_port(entry: str, expected: AllowedHost) -> None:
    assert Settings(fetch_allowed_hosts=[entry]).ingest.fetch_allowlist == (expected,)


def test_a_bare_host_entry_opens_only_the_default_ports() -> None:
    bare = allowed_host("intranet.example")
    assert bare.allows("http", 80) and bare.allows("https", 443)
    assert not bare.allows("http", 443) and not bare.allows("http", 8080)


@pytest.mark.parametrize(
    "entry",
    ["127.0.0.1:99999", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:http", "ftp://127.0.0.1:21", "[::1",
     "[zz]:80", "host/path", "user@host:80", "http://"],
)  # fmt: skip
def test_a_malformed_allowlist_entry_is_a_config_error_naming_the_setting_and_entry(entry: str) -> None:
    with pytest.raises(ConfigError, match=rf"fetch_allowed_hosts\n.*{re.escape(repr(entry))}"):
        Settings.load(None, fetch_allowed_hosts=["127.0.0.1:8080", entry])
