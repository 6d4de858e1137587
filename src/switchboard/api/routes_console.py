"""The web console at ``/``: login (API token for admins, mailbox and PIN for users), the
pages (dashboard, endpoints, CDR search, visual voicemail) as server-rendered shells the
console's JavaScript fills from /api, and its static files, all served locally.

A failed login counts as a security offence of the client's address, as a failed SIP
authentication does (``VoicemailLoginFailed`` for a wrong PIN, ``InvalidPassword`` for an
unknown token), so guessing from the web ends in the same ban.
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path
from string import Template

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from switchboard.api.errors import ApiError
from switchboard.api.service import ApiContext
from switchboard.api.sessions import (
    CONSOLE_HEADER,
    COOKIE,
    SESSION_SECONDS,
    Session,
    SessionSigner,
    session_of,
)
from switchboard.api.tokens import token_name
from switchboard.services.voicemail.service import VoicemailLoginFailed

FILES = Path(__file__).parent / "console"
LAYOUT = Template((FILES / "layout.html").read_text(encoding="utf-8"))

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; media-src 'self'; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

ADMIN_PAGES = {
    "dashboard": "Dashboard",
    "endpoints": "Endpoints",
    "cdrs": "Call records",
    "voicemail": "Voicemail",
}
USER_PAGES = {"voicemail": "Voicemail"}

router = APIRouter(include_in_schema=False)


class Login(BaseModel):
    """Either ``token`` (admin) or ``mailbox`` and ``pin`` (user)."""

    token: str = ""
    mailbox: str = ""
    pin: str = ""


def install(app: FastAPI) -> None:
    """Serve the console on ``app`` with a fresh session key for this process."""
    app.state.sessions = SessionSigner(os.urandom(32), time.time)
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=FILES / "static"), name="console-static")


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


def _render(request: Request, page: str, title: str, session: Session | None) -> HTMLResponse:
    pages = {} if session is None else ADMIN_PAGES if session.role == "admin" else USER_PAGES
    current = ' aria-current="page"'
    nav = "".join(
        f'<a href="/{name}"{current if name == page else ""}>{label}</a>'
        for name, label in pages.items()
    )
    who = ""
    if session is not None:
        kind = "admin" if session.role == "admin" else "mailbox"
        who = (
            f'<span class="who">{kind} {html.escape(session.subject)}</span>'
            '<button type="button" id="logout" class="link">Log out</button>'
        )
    body = LAYOUT.substitute(
        title=html.escape(title),
        page=page,
        role=session.role if session else "",
        mailbox=html.escape(session.subject if session and session.role == "user" else ""),
        nav=f'<nav aria-label="Sections">{nav}</nav>' if nav else "",
        who=who,
        content=(FILES / "pages" / f"{page}.html").read_text(encoding="utf-8"),
    )
    return HTMLResponse(body, headers=SECURITY_HEADERS)


def _home(session: Session | None) -> str:
    if session is None:
        return "/login"
    return "/dashboard" if session.role == "admin" else "/voicemail"


@router.get("/")
async def index(request: Request) -> Response:
    return RedirectResponse(_home(session_of(request)), 303)


@router.get("/login")
async def login_page(request: Request) -> Response:
    session = session_of(request)
    if session is not None:
        return RedirectResponse(_home(session), 303)
    return _render(request, "login", "Log in", None)


def _admin_page(page: str) -> None:
    async def show(request: Request) -> Response:
        session = session_of(request)
        if session is None or session.role != "admin":
            return RedirectResponse(_home(session), 303)
        return _render(request, page, ADMIN_PAGES[page], session)

    router.add_api_route(f"/{page}", show, methods=["GET"], name=f"console-{page}")


for _page in ("dashboard", "endpoints", "cdrs"):
    _admin_page(_page)


@router.get("/voicemail")
async def voicemail_page(request: Request) -> Response:
    session = session_of(request)
    if session is None:
        return RedirectResponse("/login", 303)
    return _render(request, "voicemail", "Voicemail", session)


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _refuse(request: Request, kind: str, detail: str) -> None:
    """Count a failed login against the client's address."""
    guard = _context(request).view.guard
    guard.offence(_client(request), kind, detail, guard.clock())


@router.post("/console/login")
async def login(request: Request, form: Login) -> JSONResponse:
    """Check the token or the PIN; set the session cookie and say where to go."""
    if request.headers.get(CONSOLE_HEADER) != "1":
        raise ApiError(403, f"log in from the console (the {CONSOLE_HEADER} header is missing)")
    context = _context(request)
    guard = context.view.guard
    host = _client(request)
    if not guard.admits(host, guard.clock()):
        raise ApiError(403, "too many failed logins from this address; try again later")
    signer: SessionSigner = request.app.state.sessions
    if form.token:
        name = token_name(context.tokens, form.token.strip())
        created = next((t.created for t in context.tokens.list() if t.name == name), None)
        if name is None or created is None:
            _refuse(request, "InvalidPassword", "web console login with an unknown API token")
            raise ApiError(401, "unknown or revoked API token")
        session = Session("admin", name, created, 0.0)
        value = signer.issue("admin", name, created)
    else:
        voicemail = context.voicemail
        if voicemail is None:
            raise ApiError(503, "voicemail is not running")
        mailbox = voicemail.mailbox(form.mailbox.strip()) if form.mailbox.strip() else None
        if mailbox is None or not voicemail.password_ok(mailbox, form.pin):
            _refuse(request, "VoicemailLoginFailed", f"web console login to {form.mailbox!r}")
            voicemail.bus.publish(VoicemailLoginFailed(form.mailbox or "?", "web", host, 1))
            raise ApiError(401, "wrong mailbox or PIN")
        session = Session("user", mailbox.address, 0.0, 0.0)
        value = signer.issue("user", mailbox.address)
    response = JSONResponse({"role": session.role, "next": _home(session)})
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/console/logout")
async def logout() -> JSONResponse:
    response = JSONResponse({"next": "/login"})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
