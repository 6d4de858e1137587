"""/api/channels: the live call legs (``core show channels``), hang-up, blind transfer,
and originating a call from an endpoint's phone to an extension."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from pydantic import BaseModel

from switchboard.api.errors import ApiError
from switchboard.api.routes_pbx import Done, context_of
from switchboard.services.calls.channel import Channel
from switchboard.services.calls.engine import CallEngine

router = APIRouter(tags=["calls"])


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


def channel_info(channel: Channel, now: float) -> ChannelInfo:
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
