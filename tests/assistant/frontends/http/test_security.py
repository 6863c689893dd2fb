"""API keys, the rate limits, host names and the allowed-origins setting (the pure parts of the security
layer)."""

from __future__ import annotations

import socket

import anyio
import pytest
from starlette.datastructures import Headers

from assistant.core.errors import ConfigError
from assistant.core.settings import Settings
from assistant.frontends.http.hosts import HostNames, request_host
from assistant.frontends.http.principals import KeyRing, bearer_token
from assistant.frontends.http.ratelimit import RateLimits, RateLimitUnavailableError
from assistant.frontends.http.responses import route_path
from assistant.frontends.http.security import counts_against_the_limit, ui_auth

RW = "first-key-0123456789abcdef"
RO = "second-key-0123456789abcdef"


def test_keys_are_comma_separated_and_ro_suffix_makes_a_key_read_only() -> None:
    ring = KeyRing(f" {RW} , {RO}:ro ,")
    assert ring.enabled
    first, second = ring.lookup(RW), ring.lookup(RO)
    assert first is not None and (first.key_id, first.read_only) == ("key#1", False)
    assert second is not None and (second.key_id, second.read_only) == ("key#2", True)
    assert ring.lookup(RO + ":ro") is None
    assert ring.lookup("nope") is None


def test_empty_key_setting_disables_authentication() -> None:
    assert not KeyRing("").enabled
    assert ui_auth(Settings(api_keys=""), KeyRing("")) == {}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("short:ro", "key #1 must be at least 16 characters"),
        (f"{RW},{RO}:admin", "key #2 has suffix 'admin'"),
        (f"{RW},{RW}:ro", "the same key twice"),
        ("has a space in the middle of it", "without spaces"),
    ],
)
def test_bad_key_settings_are_config_errors_that_never_show_the_key(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        KeyRing(spec)
    assert RW not in str(raised.value)


def test_keys_are_not_shown_by_the_settings_repr() -> None:
    settings = Settings(api_keys=f"{RW},{RO}:ro")
    assert RW not in repr(settings) and RW not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("header", "token"),
    [(f"Bearer {RW}", RW), (f"bearer  {RW} ", RW), (f"Basic {RW}", None), ("Bearer", None), ("", None)],
)
def test_bearer_token_is_read_only_from_a_bearer_authorization_header(header: str, token: str | None) -> None:
    assert bearer_token(Headers({"authorization": header})) == token


def test_ui_login_accepts_only_read_write_keys() -> None:
    auth = ui_auth(Settings(api_keys=f"{RW},{RO}:ro"), KeyRing(f"{RW},{RO}:ro"))
    check = auth["auth"]
    assert check("anyone", RW) is True
    assert check("anyone", RO) is False
    assert check("anyone", "wrong") is False


def test_trusted_proxy_header_replaces_the_ui_login() -> None:
    settings = Settings(api_keys=RW, trusted_user_header="X-Forwarded-User")
    auth = ui_auth(settings, KeyRing(RW))
    assert set(auth) == {"auth_dependency"}

    class FakeRequest:  # only the headers attribute is read
        def __init__(self, headers: dict[str, str]) -> None:
            self.headers = Headers(headers)

    assert auth["auth_dependency"](FakeRequest({"x-forwarded-user": "amy"})) == "amy"
    assert auth["auth_dependency"](FakeRequest({})) is None


def acquire_all(limits: RateLimits, identities: list[str]) -> list[float]:
    async def run() -> list[float]:
        return [await limits.acquire(identity) for identity in identities]

    return anyio.run(run)


def test_rate_limits_allow_the_budget_then_say_how_long_to_wait() -> None:
    limits = RateLimits(3)
    waits = acquire_all(limits, ["key#1"] * 4 + ["key#2"])
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 1.0 <= waits[3] <= 60.0  # the oldest of the three leaves the 60 s window by then
    assert waits[4] == 0.0  # budgets are per identity


def test_rate_limit_of_zero_means_no_limit() -> None:
    assert set(acquire_all(RateLimits(0), ["ip:127.0.0.1"] * 1000)) == {0.0}


def test_an_unknown_rate_limit_storage_is_a_config_error_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="rate_limit_storage 'nosuch://x'"):
        RateLimits(10, "nosuch://x")


def test_a_rate_limit_storage_that_does_not_answer_refuses_instead_of_counting_nothing() -> None:
    with socket.socket() as sock:  # a port nothing listens on: redis-py's connection is refused at once
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pytest.importorskip("redis")
    limits = RateLimits(10, f"redis://127.0.0.1:{port}", timeout_s=1.0)
    with pytest.raises(RateLimitUnavailableError, match="rate-limit storage"):
        acquire_all(limits, ["key#1"])


@pytest.mark.parametrize(
    ("method", "path", "counted"),
    [
        ("POST", "/gradio_api/queue/join", True),
        ("POST", "/gradio_api/upload", True),
        ("GET", "/api/stats", True),
        ("POST", "/login", True),
        ("GET", "/auth/login", True),  # each OpenID sign-in started costs the server a kept state
        ("GET", "/auth/callback", True),
        ("GET", "/gradio_api/queue/data", False),
        ("GET", "/assets/index.js", False),
    ],
)
def test_every_way_in_counts_against_the_one_rate_limit(method: str, path: str, counted: bool) -> None:
    assert counts_against_the_limit(method, path) is counted


def test_the_default_host_names_are_the_bound_address_and_localhost() -> None:
    names = HostNames.of([], "127.0.0.1")
    assert all(names.allows(request_host(h)) for h in ["127.0.0.1:7860", "localhost:7860", "[::1]:7860"])
    assert all(names.allows(request_host(h)) for h in ["LOCALHOST.", "[0:0:0:0:0:0:0:1]:80"])
    assert not any(names.allows(request_host(h)) for h in ["rebind.evil.example:7860", "", "127.0.0.1:x"])
    assert not names.allows(request_host("localhost.evil.example"))


def test_configured_host_names_replace_the_defaults_and_take_subdomain_wildcards() -> None:
    settings = Settings(allowed_hosts="news.example.com, *.portal.example.com")
    names = HostNames.of(settings.allowed_hosts, "127.0.0.1")
    assert names.allows("news.example.com") and names.allows("desk.portal.example.com")
    assert not names.allows("portal.example.com.evil.example") and not names.allows("localhost")
    assert HostNames.of(Settings(allowed_hosts="*").allowed_hosts, "127.0.0.1").allows("anything.example")


@pytest.mark.parametrize("entry", ["http://news.example.com", "news.example.com:7860", "bad host", "a/b"])
def test_allowed_hosts_entries_are_names_without_port_or_scheme(entry: str) -> None:
    with pytest.raises(ConfigError, match="allowed host"):
        Settings.load(allowed_hosts=entry)


def test_allowed_origins_setting_takes_a_comma_separated_list() -> None:
    settings = Settings(allowed_origins="https://portal.example.com/, http://127.0.0.1:8080")
    assert settings.allowed_origins == ["https://portal.example.com", "http://127.0.0.1:8080"]


@pytest.mark.parametrize("origin", ["*", "portal.example.com", "https://portal.example.com/path", "ftp://x"])
def test_allowed_origins_must_be_scheme_host_and_port(origin: str) -> None:
    with pytest.raises(ConfigError, match="allowed origin"):
        Settings.load(allowed_origins=origin)


def test_route_path_strips_the_root_path_prefix() -> None:
    assert route_path({"path": "/newsdesk/api/ask", "root_path": "/newsdesk"}) == "/api/ask"
    assert route_path({"path": "/newsdeskx/api/ask", "root_path": "/newsdesk"}) == "/newsdeskx/api/ask"
    assert route_path({"path": "/api/ask", "root_path": ""}) == "/api/ask"
