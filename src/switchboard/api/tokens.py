"""Bearer-token authentication for the REST API and the event WebSocket."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from switchboard.api.errors import ApiError
from switchboard.api.sessions import CONSOLE_HEADER, SAFE_METHODS, owns_mailbox, session_of
from switchboard.store.tokens import SqlTokenStore

bearer = HTTPBearer(auto_error=False, description="A token from `switchboard api-token create`")


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header value, if it is one."""
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def token_name(tokens: SqlTokenStore, token: str | None) -> str | None:
    """The name of a valid token; None when it is missing, unknown or revoked."""
    if not token:
        return None
    return tokens.check(token)


async def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    """The calling token's name, or a 401."""
    tokens: SqlTokenStore = request.app.state.context.tokens
    name = token_name(tokens, credentials.credentials if credentials is not None else None)
    if name is None:
        raise ApiError(401, "a valid API token is required (Authorization: Bearer TOKEN)")
    return name


async def require_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    """A Bearer token's name (checked exactly as :func:`require_token`), or else the web
    console's session: an admin's anywhere, a mailbox user's only on routes of their own
    mailbox (403 elsewhere); by cookie, changes need the console header (CSRF)."""
    if credentials is not None:
        return await require_token(request, credentials)
    session = session_of(request)
    if session is None:
        raise ApiError(401, "a valid API token is required (Authorization: Bearer TOKEN)")
    if request.method not in SAFE_METHODS and request.headers.get(CONSOLE_HEADER) != "1":
        raise ApiError(403, f"changes from the console need the {CONSOLE_HEADER} header")
    if session.role == "admin":
        return f"console:{session.subject}"
    mailbox = request.path_params.get("mailbox")
    if mailbox is None or not owns_mailbox(request, session, str(mailbox)):
        raise ApiError(403, "this session may only use its own mailbox")
    return f"mailbox:{session.subject}"
