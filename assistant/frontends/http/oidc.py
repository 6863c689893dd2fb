"""The OpenID Connect provider as Newsdesk uses it: its published configuration and keys, the tokens
it signs, and the archive permissions its groups give (``oidc_*`` settings).

:class:`IdentityProvider` reads ``<issuer>/.well-known/openid-configuration`` and the provider's
JWKS on first use (never at start: a server starts, and its API keys work, with the provider
down), each request bounded by ``oidc_timeout_s`` and kept for ``CACHE_S``; a token signed by a key
it does not know makes it read the JWKS again (at most every ``KEYS_REFRESH_S``). A token is
checked with joserfc: signature by a published key (asymmetric algorithms only), issuer,
audience, expiry (``oidc_leeway_s`` of clock difference). A provider that does not answer is an
:class:`IdentityProviderError` (503), a token that does not pass a :class:`TokenRejectedError`
(401), each naming what failed. The code flow of the chat's sign-in (:mod:`.signin`) uses
Authlib's client with PKCE (S256).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import KeySet
from joserfc.jwt import ClaimsOption

from assistant.core.access import NO_ACCESS, Grants
from assistant.core.errors import ConfigError, IdentityProviderError, TokenRejectedError
from assistant.core.sections import AuthSettings
from assistant.frontends.http.principals import Principal

logger = logging.getLogger(__name__)

CACHE_S = 3600.0  # the provider's configuration and keys are read again after this
KEYS_REFRESH_S = 30.0  # an unknown key id reads the keys again at most this often
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
Claims = dict[str, Any]


@dataclass
class _Cached:
    value: Any = None
    read_at: float = float("-inf")


class IdentityProvider:
    """The configured provider (``settings.oidc_issuer``); thread-safe, read lazily."""

    def __init__(self, settings: AuthSettings) -> None:
        if not settings.oidc_client_id:
            raise ConfigError("oidc_issuer is set but oidc_client_id is not: name the chat's client")
        self.settings = settings
        self.issuer = settings.oidc_issuer.strip().rstrip("/")
        self.audience = settings.oidc_audience or settings.oidc_client_id
        self._config = _Cached()
        self._keys = _Cached()
        self._lock = threading.Lock()

    # --- what the provider publishes ---------------------------------------------------------
    def configuration(self) -> dict[str, Any]:
        """The provider's discovery document (cached); IdentityProviderError when it does not answer."""
        with self._lock:
            if time.monotonic() - self._config.read_at < CACHE_S:
                return dict(self._config.value)
        found = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
        if str(found.get("issuer", "")).rstrip("/") != self.issuer:
            raise IdentityProviderError(
                f"the provider at {self.issuer} names another issuer ({found.get('issuer')!r})"
            )
        with self._lock:
            self._config = _Cached(found, time.monotonic())
        return found

    def endpoint(self, name: str) -> str:
        """An endpoint of the discovery document (``token_endpoint``); IdentityProviderError if none."""
        url = self.configuration().get(name)
        if not isinstance(url, str) or not url:
            raise IdentityProviderError(f"the provider at {self.issuer} publishes no {name}")
        return url

    def keys(self, again: bool = False) -> KeySet:
        """The provider's signing keys (cached; read again when ``again`` and not just read)."""
        with self._lock:
            age = time.monotonic() - self._keys.read_at
            if self._keys.value is not None and (age < KEYS_REFRESH_S or (age < CACHE_S and not again)):
                return self._keys.value  # type: ignore[no-any-return]
        published = self._get_json(self.endpoint("jwks_uri"))
        try:
            found = KeySet.import_key_set(published)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise IdentityProviderError(
                f"the provider at {self.issuer} publishes keys that cannot be read"
            ) from exc
        with self._lock:
            self._keys = _Cached(found, time.monotonic())
        return found

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=self.settings.oidc_timeout_s, follow_redirects=False)
            response.raise_for_status()
            found = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("identity provider %s: %s", url, exc)
            raise IdentityProviderError(
                f"the sign-in provider at {self.issuer} does not answer ({type(exc).__name__}): "
                "sign-in and its tokens are unavailable for now; API keys still work"
            ) from exc
        if not isinstance(found, dict):
            raise IdentityProviderError(f"{url} did not answer with a JSON object")
        return found

    # --- tokens --------------------------------------------------------------------------------
    def verify(self, token: str, audience: str | None = None, nonce: str | None = None) -> Claims:
        """The claims of a JWT this provider signed for ``audience`` (the API's by default), not
        expired; TokenRejectedError naming what is wrong, IdentityProviderError when the keys
        cannot be read."""
        issuer = unverified_claims(token).get("iss")
        if str(issuer or "").rstrip("/") != self.issuer:
            raise TokenRejectedError(
                f"the token is from another issuer ({str(issuer)[:100]!r}), not {self.issuer}"
            )
        claims = self._signed_claims(token)
        expected = audience or self.audience
        options: dict[str, ClaimsOption] = {
            "iss": {"essential": True, "value": str(issuer)},
            "aud": {"essential": True, "value": expected},
            "exp": {"essential": True},
        }
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        registry = jwt.JWTClaimsRegistry(None, int(self.settings.oidc_leeway_s), **options)
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise TokenRejectedError("the token has expired: sign in again (or refresh it)") from exc
        except (InvalidClaimError, MissingClaimError) as exc:
            what = "audience" if "aud" in str(exc) else str(exc)
            if what == "audience":
                raise TokenRejectedError(
                    f"the token is not for this API (its audience is not {expected!r})"
                ) from exc
            raise TokenRejectedError(f"the token's claims do not pass: {what}") from exc
        except JoseError as exc:
            raise TokenRejectedError(f"the token's claims do not pass: {exc}") from exc
        return claims

    def _signed_claims(self, token: str) -> Claims:
        for again in (False, True):
            try:
                return dict(jwt.decode(token, self.keys(again), algorithms=ALGORITHMS).claims)
            except JoseError as exc:
                if again or "kid" not in str(exc).lower():
                    raise TokenRejectedError(f"the token's signature does not pass ({exc.error})") from exc
            except ValueError as exc:
                raise TokenRejectedError("the token is not a JWT") from exc
        raise TokenRejectedError("the token's signature does not pass")

    def userinfo(self, access_token: str) -> Claims:
        """The provider's userinfo of an access token (IdentityProviderError / TokenRejectedError)."""
        try:
            response = httpx.get(
                self.endpoint("userinfo_endpoint"),
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=self.settings.oidc_timeout_s,
            )
        except httpx.HTTPError as exc:
            raise IdentityProviderError(f"the sign-in provider at {self.issuer} does not answer") from exc
        if response.status_code in (401, 403):
            raise TokenRejectedError("the provider no longer accepts this sign-in")
        try:
            response.raise_for_status()
            found = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IdentityProviderError(f"the provider's userinfo did not answer usably: {exc}") from exc
        return found if isinstance(found, dict) else {}

    # --- groups and principals -----------------------------------------------------------------
    def groups(self, claims: Mapping[str, Any]) -> list[str]:
        """The groups in ``claims`` (``oidc_groups_claim``, dotted for a nested claim)."""
        value: Any = claims
        for part in self.settings.oidc_groups_claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str):
            return [value]
        return [str(g) for g in value] if isinstance(value, list) else []

    def grants(self, groups: list[str]) -> Grants:
        """What ``groups`` may read and write (``oidc_group_permissions``; a leading ``/`` of a
        Keycloak group path ignored)."""
        permissions = self.settings.oidc_group_permissions
        found = [permissions.get(g) or permissions.get(g.lstrip("/")) for g in groups]
        return Grants.union(Grants.parse(spec) for spec in found if spec) if found else NO_ACCESS

    def principal(self, token: str) -> Principal:
        """The person a bearer access token names, with the grants of its groups now."""
        claims = self.verify(token)
        return Principal(f"user:{claims.get('sub', '?')}", self.grants(self.groups(claims)), "user")

    # --- the code flow (Authlib) ---------------------------------------------------------------
    def client(self, redirect_uri: str = "") -> OAuth2Client:
        secret = self.settings.oidc_client_secret.get_secret_value()
        return OAuth2Client(
            client_id=self.settings.oidc_client_id,
            client_secret=secret or None,
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            scope=self.settings.oidc_scopes,
            redirect_uri=redirect_uri or None,
            code_challenge_method="S256",
            timeout=self.settings.oidc_timeout_s,
        )

    def token_request(self, redirect_uri: str, **form: str) -> dict[str, Any]:
        """A request to the token endpoint (a code or a refresh token): the token response."""
        endpoint = self.endpoint("token_endpoint")
        with self.client(redirect_uri) as client:
            try:
                if form.get("grant_type") == "refresh_token":
                    client.scope = None  # the scopes granted at sign-in, not asked again
                    found = client.refresh_token(endpoint, refresh_token=form["refresh_token"])
                else:
                    found = client.fetch_token(endpoint, **form)
            except transport_errors() as exc:
                raise IdentityProviderError(
                    f"the sign-in provider at {self.issuer} does not answer ({type(exc).__name__})"
                ) from exc
            except AuthlibBaseError as exc:
                raise TokenRejectedError(f"the provider refused the sign-in ({exc.error})") from exc
        return dict(found)


def unverified_claims(token: str) -> Claims:
    """The payload of a JWT before any check (to name its issuer); TokenRejectedError if not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejectedError("the token is neither an API key nor a JWT")
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError as exc:
        raise TokenRejectedError("the token is neither an API key nor a JWT") from exc
    if not isinstance(payload, dict):
        raise TokenRejectedError("the token is neither an API key nor a JWT")
    return payload


def transport_errors() -> tuple[type[Exception], ...]:
    """The errors of the HTTP clients that talk to the provider: httpx's, and httpx2's (Authlib's
    client uses httpx2 when it is installed)."""
    found: list[type[Exception]] = [httpx.HTTPError]
    try:
        import httpx2
    except ImportError:
        return tuple(found)
    found.append(httpx2.HTTPError)
    return tuple(found)


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")
