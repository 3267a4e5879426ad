"""The caller's identity as a dependency, failing closed: no verified claims, no access.

Deployed stages (dev, prod) trust only the claims API Gateway's JWT authorizer verified and never decode a bearer
token themselves, so a route that lost its authorizer answers 401 instead of opening up. Local and test runs, which
have no gateway, accept a local token instead (app/auth/local_token.py) when LOCAL_TOKEN_KEY is set.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from app.auth.claims import SUBJECT_MAX_LENGTH, authorizer_claims, token_scopes
from app.auth.local_token import verify_local_token
from app.common import messages
from app.common.errors import AppError
from app.common.settings import get_settings

# Publishes the scheme in the OpenAPI document, so /docs can authorize and clients know to send a bearer token; the
# app itself reads the header only in local and test runs.
bearer_scheme = HTTPBearer(scheme_name="bearer", bearerFormat="JWT", auto_error=False)


@dataclass(frozen=True)
class User:
    """A verified caller: the token's subject, its scopes and every claim (strings, as the gateway hands them)."""

    subject: str
    scopes: frozenset[str]
    claims: Mapping[str, str] = field(repr=False)


class NotAuthenticatedError(AppError):
    """The request carries no verified identity."""

    status_code = 401
    code = "not_authenticated"
    headers = {"WWW-Authenticate": "Bearer"}

    def __init__(self, message: str = messages.NOT_AUTHENTICATED) -> None:
        super().__init__(message)


class InvalidTokenError(NotAuthenticatedError):
    """A bearer token this run verifies itself (a local token) was sent and refused: forged, expired, or unusable
    claims. The answer never says which, and keeps the code of every 401 (not_authenticated): deployed stages, where
    the gateway refuses bad tokens before the app, would otherwise answer the same case with another code."""

    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}

    def __init__(self) -> None:
        super().__init__(messages.INVALID_TOKEN)


class MissingScopeError(AppError):
    """The caller is known but its token lacks a scope the route needs."""

    status_code = 403
    code = "insufficient_scope"

    def __init__(self, missing: list[str]) -> None:
        super().__init__(messages.MISSING_SCOPE.format(scopes=", ".join(missing)))
        self.headers = {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{" ".join(missing)}"'}


def usable_access_claims(claims: Mapping[str, str]) -> bool:
    """Whether verified claims can identify a caller of this API."""
    subject = claims.get("sub", "")
    # A subject is used exactly as the issuer wrote it, never trimmed (trimmed, "alice " would act as alice), and one
    # with surrounding whitespace is refused: MySQL and MariaDB compare owner_subject's utf8mb4_bin with trailing spaces
    # ignored (app/database/types.py), so "alice " would still list alice's rows. Issuers do not mint such subjects.
    usable_subject = bool(subject) and subject == subject.strip() and len(subject) <= SUBJECT_MAX_LENGTH
    # An ID token proves who signed in to a client, not that the client may call this API (Cognito marks them). A
    # subject too long for owner_subject could not own a row: refused here rather than failing the write.
    return usable_subject and claims.get("token_use", "access") == "access"


def verified_claims(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> tuple[dict[str, str], list[str]]:
    """The claims this request's caller proved, or NotAuthenticatedError (InvalidTokenError when this run verified
    the bearer token itself and refused it)."""
    from_authorizer = authorizer_claims(request.scope)
    if from_authorizer is not None:
        if not usable_access_claims(from_authorizer[0]):
            raise NotAuthenticatedError()
        return from_authorizer
    settings = get_settings()
    key = settings.local_token_key
    if key is None or settings.environment.is_deployed or credentials is None:
        raise NotAuthenticatedError()
    claims = verify_local_token(key.get_secret_value(), credentials.credentials)
    if claims is None or not usable_access_claims(claims):
        raise InvalidTokenError()
    return claims, []


async def current_user(
    security_scopes: SecurityScopes,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> User:
    """The caller, holding every scope the route requires (require_scopes); 401 or 403 otherwise."""
    claims, listed = verified_claims(request, credentials)
    user = User(subject=claims["sub"], scopes=token_scopes(claims, listed), claims=claims)
    missing = [scope for scope in security_scopes.scopes if scope not in user.scopes]
    if missing:
        raise MissingScopeError(missing)
    return user


def require_scopes(*scopes: str) -> Any:
    """The dependency of a route that needs these scopes, e.g. `Annotated[User, require_scopes("orders/write")]`;
    the scopes are listed in the operation's security requirement in the OpenAPI document."""
    return Security(current_user, scopes=list(scopes))


CurrentUser = Annotated[User, Security(current_user)]
