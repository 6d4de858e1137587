"""Bearer-token authentication for the REST API and the event WebSocket."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from switchboard.api.errors import ApiError
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
