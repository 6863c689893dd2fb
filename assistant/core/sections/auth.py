"""The section of who may do what: archive permissions of API keys, and OpenID Connect sign-in
(assistant/frontends/http/{keys,oidc,signin}.py). Each field is the one declaration of a flat setting."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr

from assistant.core.access import check_permission_map
from assistant.core.sections.base import Section

PermissionMap = Annotated[dict[str, str], AfterValidator(check_permission_map)]


class AuthSettings(Section):
    """Archive permissions and the OpenID Connect provider (docs/deploy.md has an example)."""

    key_permissions: PermissionMap = Field(
        default_factory=dict,
        description='Archive permissions of API keys by key number: {"key#2": "sports:read, '
        'politics:write"} (* = every archive). A key not named reads and writes every archive (":ro" '
        'keys: reads); a named key only what it lists, a ":ro" one never more than read.',
    )
    oidc_issuer: str = Field(
        "",
        description="OpenID Connect issuer URL (its /.well-known/openid-configuration is read): people "
        "sign in to the chat there, and the API accepts its JWT access tokens. Empty = off.",
    )
    oidc_client_id: str = Field("", description="The chat's client id at the OpenID provider.")
    oidc_client_secret: SecretStr = Field(
        SecretStr(""),
        description="The client's secret (environment only: refused in a settings file); empty = a "
        "public client (PKCE alone).",
    )
    oidc_audience: str = Field(
        "", description="The audience access tokens must name (aud); empty = the client id."
    )
    oidc_scopes: str = Field(
        "openid profile email offline_access", description="Scopes the chat's sign-in asks for."
    )
    oidc_groups_claim: str = Field(
        "groups",
        description="The claim holding a person's groups (dotted for a nested one: realm_access.roles), "
        "read from access tokens, ID tokens and userinfo.",
    )
    oidc_group_permissions: PermissionMap = Field(
        default_factory=dict,
        description='Archive permissions of each group: {"sports-desk": "sports:read", '
        '"archive-admins": "*:write"}. A person gets the highest level any of their groups gives; '
        "no listed group = no archive.",
    )
    oidc_redirect_url: str = Field(
        "",
        description="The chat's sign-in callback as the provider knows it (https://news.example/"
        "auth/callback); empty = this server's /auth/callback as the request reached it.",
    )
    oidc_timeout_s: float = Field(
        5.0, gt=0, description="Longest wait for the provider (discovery, keys, tokens, userinfo), seconds."
    )
    oidc_recheck_s: float = Field(
        60.0,
        ge=0,
        description="A signed-in person's groups are read again from the provider when older than this "
        "(seconds; 0 = at every request): who loses a group loses its archives then.",
    )
    oidc_leeway_s: float = Field(
        30.0, ge=0, description="Clock difference allowed when checking a token's expiry, seconds."
    )
    oidc_session_hours: float = Field(
        8.0, gt=0, description="Longest a chat sign-in lasts before signing in again, hours."
    )

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer.strip())
