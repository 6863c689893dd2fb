"""API keys, the rate limiter and the allowed-origins setting (the pure parts of the security layer)."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from assistant.frontends.http.security import KeyRing, RateLimiter, bearer_token, route_path, ui_auth
from ingest.errors import ConfigError
from ingest.settings import Settings

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


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_the_budget_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock)
    assert [limiter.acquire("key#1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("key#1") == pytest.approx(20.0)  # one request per 20 s at 3 per minute
    assert limiter.acquire("key#2") == 0.0  # budgets are per identity
    clock.now += 20.0
    assert limiter.acquire("key#1") == 0.0
    assert limiter.acquire("key#1") > 0


def test_rate_limit_of_zero_means_no_limit() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.acquire("ip:127.0.0.1") == 0.0 for _ in range(1000))


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
