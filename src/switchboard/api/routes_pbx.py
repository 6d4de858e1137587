"""/api/endpoints, /api/contacts, /api/bans and /api/reload: the registrar's and the
guard's live state, read from the same :class:`ServerView` the console uses."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from switchboard.api.errors import ApiError, ErrorBody
from switchboard.api.service import ApiContext
from switchboard.core.contact import Contact

router = APIRouter(tags=["pbx"])


class ContactInfo(BaseModel):
    """One registered binding (``pjsip show contacts``)."""

    aor: str
    endpoint: str
    uri: str
    status: str
    transport: str
    source_host: str
    source_port: int
    expires_in: int
    registered_at: float
    user_agent: str


class EndpointSummary(BaseModel):
    """One endpoint of pjsip.conf and whether a phone is registered for it."""

    name: str
    state: str
    context: str
    codecs: list[str]
    aors: list[str]
    contacts: int
    channels: int


class EndpointDetail(EndpointSummary):
    """An endpoint with its contacts and its live channels."""

    callerid: str
    transport: str
    contact_list: list[ContactInfo]
    channel_names: list[str]


class Ban(BaseModel):
    source: str
    seconds_left: int
    bans: int


class Done(BaseModel):
    """A command's outcome, in words."""

    message: str


def context_of(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


def contact_info(context: ApiContext, contact: Contact, now: float) -> ContactInfo:
    qualifier = context.view.qualifier
    status = qualifier.status.get((contact.aor, contact.uri), "Unknown") if qualifier else "Unknown"
    return ContactInfo(
        aor=contact.aor,
        endpoint=contact.endpoint,
        uri=contact.uri,
        status=status.capitalize(),
        transport=contact.transport,
        source_host=contact.source_host,
        source_port=contact.source_port,
        expires_in=contact.remaining(now),
        registered_at=contact.registered_at,
        user_agent=contact.user_agent,
    )


def _channel_names(context: ApiContext, endpoint: str) -> list[str]:
    calls = context.calls
    if calls is None:
        return []
    return [c.name for c in calls.channels.values() if c.endpoint.name == endpoint]


def _summary(context: ApiContext, name: str) -> EndpointSummary:
    endpoint = context.view.config.pjsip.endpoints[name]
    location = context.view.location
    contacts = sum(len(location.contacts(aor)) for aor in endpoint.aors)
    return EndpointSummary(
        name=endpoint.name,
        state="Available" if contacts else "Unavailable",
        context=endpoint.context,
        codecs=list(endpoint.codecs),
        aors=list(endpoint.aors),
        contacts=contacts,
        channels=len(_channel_names(context, name)),
    )


@router.get("/endpoints", response_model=list[EndpointSummary], summary="List endpoints")
async def list_endpoints(request: Request) -> list[EndpointSummary]:
    context = context_of(request)
    return [_summary(context, name) for name in sorted(context.view.config.pjsip.endpoints)]


@router.get("/endpoints/{name}", response_model=EndpointDetail, summary="One endpoint")
async def get_endpoint(request: Request, name: str) -> EndpointDetail:
    context = context_of(request)
    endpoint = context.view.config.pjsip.endpoints.get(name)
    if endpoint is None:
        raise ApiError(404, f"no endpoint {name!r}")
    now = time.time()
    contacts = [
        contact_info(context, contact, now)
        for aor in endpoint.aors
        for contact in context.view.location.contacts(aor)
    ]
    callerid = endpoint.callerid
    return EndpointDetail(
        **_summary(context, name).model_dump(),
        callerid=f'"{callerid.name}" <{callerid.number}>' if callerid else "",
        transport=endpoint.transport or "",
        contact_list=contacts,
        channel_names=_channel_names(context, name),
    )


@router.get(
    "/contacts", response_model=list[ContactInfo], summary="Registered contacts (registrations)"
)
async def list_contacts(request: Request) -> list[ContactInfo]:
    context = context_of(request)
    now = time.time()
    contacts = sorted(context.view.location.all_contacts(), key=lambda c: (c.aor, c.uri))
    return [contact_info(context, contact, now) for contact in contacts]


@router.get("/registrations", response_model=list[ContactInfo], summary="Alias of /api/contacts")
async def list_registrations(request: Request) -> list[ContactInfo]:
    return await list_contacts(request)


@router.get("/bans", response_model=list[Ban], summary="Banned source addresses")
async def list_bans(request: Request) -> list[Ban]:
    guard = context_of(request).view.guard
    now = guard.clock()
    return [
        Ban(source=ban.source, seconds_left=int(ban.until - now), bans=ban.bans)
        for ban in guard.bans(now)
    ]


@router.delete("/bans/{source}", response_model=Done, summary="Lift a ban")
async def unban(request: Request, source: str) -> Done:
    if not context_of(request).view.guard.unban(source):
        raise ApiError(404, f"{source} is not banned")
    return Done(message=f"{source} is no longer banned")


class ReloadOutcome(BaseModel):
    """What ``core reload`` did: the changes applied, what needs a restart, the check's
    findings (``file:line: severity: message``)."""

    ok: bool
    changes: list[str]
    not_applied: list[str]
    diagnostics: list[str]


@router.post(
    "/reload",
    response_model=ReloadOutcome,
    responses={409: {"model": ReloadOutcome}, 501: {"model": ErrorBody}},
    summary="Re-read the config folder (core reload); 409 keeps the running config",
)
async def reload(request: Request) -> ReloadOutcome | JSONResponse:
    context = context_of(request)
    if context.reload is None:
        raise ApiError(501, "this server cannot reload")
    report = await context.reload()
    outcome = ReloadOutcome(
        ok=report.ok,
        changes=report.changes,
        not_applied=report.not_applied,
        diagnostics=report.diagnostics,
    )
    if not report.ok:
        return JSONResponse(outcome.model_dump(), status_code=409)
    return outcome
