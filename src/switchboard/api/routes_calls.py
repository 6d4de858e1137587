"""/api/channels: the live call legs (``core show channels``), hang-up, blind transfer,
and originating a call from an endpoint's phone to an extension."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from switchboard.api.errors import ApiError, ErrorBody
from switchboard.api.routes_pbx import Done, context_of
from switchboard.services.calls.channel import Channel
from switchboard.services.calls.engine import CallEngine
from switchboard.services.calls.events import CallQuality
from switchboard.services.calls.originate import OriginateError, originate
from switchboard.services.calls.quality import quality_of

router = APIRouter(tags=["calls"])


class CallQualityInfo(BaseModel):
    """What the relay received from each phone: MOS estimate (1..4.5), loss (0..1),
    jitter (ms); -1 while that phone has sent nothing. Also pushed every few seconds as the
    ``CallQuality`` event."""

    caller_mos: float
    caller_loss: float
    caller_jitter_ms: float
    callee_mos: float
    callee_loss: float
    callee_jitter_ms: float

    @classmethod
    def of(cls, event: CallQuality) -> CallQualityInfo:
        """The figures of a :class:`CallQuality` event (the same names)."""
        return cls(**{name: getattr(event, name) for name in cls.model_fields})


class ChannelInfo(BaseModel):
    """One call leg."""

    name: str
    uniqueid: str
    linkedid: str
    endpoint: str
    direction: str
    state: str
    caller_number: str
    caller_name: str
    exten: str
    application: str
    peer: str
    started_at: float
    answered_at: float | None
    duration: int
    quality: CallQualityInfo | None = None
    """The call's RTP so far, on the channel that holds its media relay (the caller's)."""


def channel_info(channel: Channel, now: float) -> ChannelInfo:
    measured = quality_of(channel)
    return ChannelInfo(
        name=channel.name,
        uniqueid=channel.uniqueid,
        linkedid=channel.linkedid,
        endpoint=channel.endpoint.name,
        direction="inbound" if channel.inbound else "outbound",
        state=channel.state.value,
        caller_number=channel.caller_number,
        caller_name=channel.caller_name,
        exten=channel.exten,
        application=f"{channel.last_app}({channel.last_data})" if channel.in_app else "",
        peer=channel.bridged.name if channel.bridged is not None else "",
        started_at=channel.started_at,
        answered_at=channel.answered_at,
        duration=int(now - channel.started_at) if channel.started_at else 0,
        quality=CallQualityInfo.of(measured) if measured is not None else None,
    )


def _engine(request: Request) -> CallEngine:
    calls = context_of(request).calls
    if calls is None:
        raise ApiError(503, "the call engine is not running")
    return calls


def _channel(request: Request, name: str) -> Channel:
    channel = _engine(request).channels.get(name)
    if channel is None:
        raise ApiError(404, f"no channel {name!r}")
    return channel


@router.get("/channels", response_model=list[ChannelInfo], summary="Live channels")
async def list_channels(request: Request) -> list[ChannelInfo]:
    now = time.time()
    return [channel_info(c, now) for c in list(_engine(request).channels.values())]


@router.get("/channels/{name:path}", response_model=ChannelInfo, summary="One channel")
async def get_channel(request: Request, name: str) -> ChannelInfo:
    return channel_info(_channel(request, name), time.time())


@router.delete("/channels/{name:path}", response_model=Done, summary="Hang a channel up")
async def hangup(request: Request, name: str) -> Done:
    _channel(request, name)
    _engine(request).request_hangup(name)
    return Done(message=f"Requested Hangup on channel '{name}'")


class OriginateRequest(BaseModel):
    """Ring ``endpoint``'s phones; the one that answers is connected to ``exten``."""

    endpoint: str = Field(min_length=1, max_length=80)
    exten: str = Field(min_length=1, max_length=80)
    context: str | None = Field(None, max_length=80, description="default: the endpoint's")
    caller_id_number: str | None = Field(
        None, max_length=80, description="shown on the ringing phone (default: exten)"
    )
    caller_id_name: str = Field("", max_length=80)
    timeout: float = Field(30.0, gt=0, le=600, description="seconds to wait for an answer")


class Originated(BaseModel):
    """The legs now ringing."""

    channels: list[ChannelInfo]


@router.post(
    "/calls",
    response_model=Originated,
    status_code=202,
    responses={409: {"model": ErrorBody}, 503: {"model": ErrorBody}},
    summary="Originate: ring an endpoint, connect the answer to an extension (click-to-call)",
)
async def originate_call(request: Request, body: OriginateRequest) -> Originated:
    engine = _engine(request)
    caller_id = (body.caller_id_number or body.exten, body.caller_id_name)
    try:
        legs = await originate(
            engine,
            body.endpoint,
            body.exten,
            context=body.context,
            caller_id=caller_id,
            timeout=body.timeout,
        )
    except OriginateError as error:
        raise ApiError(error.status, str(error)) from None
    now = time.time()
    return Originated(channels=[channel_info(leg, now) for leg in legs])


class TransferRequest(BaseModel):
    """Send ``channel``'s far party to ``exten`` (a blind transfer, as a REFER does)."""

    channel: str = Field(min_length=1, max_length=200)
    exten: str = Field(min_length=1, max_length=80)


@router.post(
    "/transfers",
    response_model=Done,
    responses={409: {"model": ErrorBody}},
    summary="Blind transfer: the party bridged to a channel goes to an extension",
)
async def transfer(request: Request, body: TransferRequest) -> Done:
    engine = _engine(request)
    channel = _channel(request, body.channel)
    status = engine.transfers.blind(channel, body.exten)
    if status == 404:
        raise ApiError(404, f"no extension {body.exten!r} in {channel.endpoint.context}")
    if status != 202:
        raise ApiError(409, f"{body.channel} is not in a call that can be transferred")
    return Done(message=f"transferring the party of {body.channel} to {body.exten}")
