"""/api/voicemail: mailboxes, their messages with metadata, a message as WAV, delete, move
to Old, and greeting upload. The spool is read and written through
:class:`VoicemailService`, so MWI and the events follow every change."""

from __future__ import annotations

import asyncio
import struct

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from switchboard.api.errors import ApiError, ErrorBody
from switchboard.api.routes_pbx import Done, context_of
from switchboard.config.voicemail import Mailbox
from switchboard.services.voicemail import formats
from switchboard.services.voicemail.service import VoicemailService
from switchboard.services.voicemail.spool import FOLDERS, GREETINGS, Message

router = APIRouter(tags=["voicemail"])

MAX_GREETING_BYTES = 8 * 1024 * 1024
"""The largest greeting upload (a WAV of about 8 minutes at 8 kHz, 16 bits)."""


class MailboxInfo(BaseModel):
    """One mailbox of voicemail.conf (its PIN is never shown)."""

    mailbox: str
    context: str
    box: str
    fullname: str
    email: str
    new: int
    old: int


class MessageMeta(BaseModel):
    """One message and its ``msgNNNN.txt`` metadata."""

    folder: str
    number: int
    msg_id: str
    callerid: str
    origdate: str
    origtime: int
    duration: int
    exten: str
    flag: str


def _service(request: Request) -> VoicemailService:
    voicemail = context_of(request).voicemail
    if voicemail is None:
        raise ApiError(503, "voicemail is not running")
    return voicemail


def _mailbox(request: Request, address: str) -> tuple[VoicemailService, Mailbox]:
    service = _service(request)
    mailbox = service.mailbox(address)
    if mailbox is None:
        raise ApiError(404, f"no mailbox {address!r} (box@context)")
    return service, mailbox


def _folder(folder: str) -> str:
    if folder not in FOLDERS:
        raise ApiError(404, f"no folder {folder!r} (one of {', '.join(FOLDERS)})")
    return folder


def _meta(message: Message) -> MessageMeta:
    info = message.info
    return MessageMeta(
        folder=message.folder,
        number=message.number,
        msg_id=info.msg_id,
        callerid=info.callerid,
        origdate=info.origdate,
        origtime=info.origtime,
        duration=info.duration,
        exten=info.exten,
        flag=info.flag,
    )


async def _message(
    service: VoicemailService, mailbox: Mailbox, folder: str, msg_id: str
) -> Message:
    for message in await service.messages(mailbox, _folder(folder)):
        if message.info.msg_id == msg_id:
            return message
    raise ApiError(404, f"no message {msg_id!r} in {mailbox.address} {folder}")


@router.get("/voicemail", response_model=list[MailboxInfo], summary="Mailboxes and their counts")
async def list_mailboxes(request: Request) -> list[MailboxInfo]:
    service = _service(request)
    boxes = service.config.all_mailboxes()
    counts = await asyncio.to_thread(lambda: [service.counts(box.address) for box in boxes])
    return [
        MailboxInfo(
            mailbox=box.address,
            context=box.context,
            box=box.box,
            fullname=box.fullname,
            email=box.email,
            new=new,
            old=old,
        )
        for box, (new, old) in zip(boxes, counts, strict=True)
    ]


@router.get(
    "/voicemail/{mailbox}/messages",
    response_model=list[MessageMeta],
    summary="Messages of a folder (INBOX by default)",
)
async def list_messages(request: Request, mailbox: str, folder: str = "INBOX") -> list[MessageMeta]:
    service, box = _mailbox(request, mailbox)
    return [_meta(m) for m in await service.messages(box, _folder(folder))]


@router.get(
    "/voicemail/{mailbox}/messages/{folder}/{msg_id}.wav",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}, "description": "16-bit 8 kHz PCM WAV"}},
    summary="A message as WAV",
)
async def download(request: Request, mailbox: str, folder: str, msg_id: str) -> Response:
    service, box = _mailbox(request, mailbox)
    message = await _message(service, box, folder, msg_id)
    try:
        samples = await service.samples(message)
    except formats.SpoolError:  # deleted between the look-up and the read
        raise ApiError(404, f"message {msg_id} is no longer in {folder}") from None
    data = await asyncio.to_thread(formats.encode_wav, samples)
    return Response(
        data,
        media_type="audio/wav",
        headers={"Content-Disposition": f'attachment; filename="{msg_id}.wav"'},
    )


@router.delete(
    "/voicemail/{mailbox}/messages/{folder}/{msg_id}", response_model=Done, summary="Delete"
)
async def delete(request: Request, mailbox: str, folder: str, msg_id: str) -> Done:
    service, box = _mailbox(request, mailbox)
    message = await _message(service, box, folder, msg_id)
    await service.tidy(box, [message], [])
    return Done(message=f"deleted {msg_id} from {box.address} {folder}")


@router.post(
    "/voicemail/{mailbox}/messages/INBOX/{msg_id}/heard",
    response_model=Done,
    summary="Mark heard (move from INBOX to Old)",
)
async def heard(request: Request, mailbox: str, msg_id: str) -> Done:
    service, box = _mailbox(request, mailbox)
    message = await _message(service, box, "INBOX", msg_id)
    await service.tidy(box, [], [message])
    return Done(message=f"moved {msg_id} of {box.address} to Old")


@router.put(
    "/voicemail/{mailbox}/greetings/{kind}",
    response_model=Done,
    responses={400: {"model": ErrorBody}, 413: {"model": ErrorBody}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    summary="Upload a greeting (unavail, busy, greet, temp) as 8 kHz mono 16-bit WAV",
)
async def upload_greeting(request: Request, mailbox: str, kind: str) -> Done:
    service, box = _mailbox(request, mailbox)
    if kind not in GREETINGS:
        raise ApiError(404, f"no greeting {kind!r} (one of {', '.join(GREETINGS)})")
    body = await request.body()
    if len(body) > MAX_GREETING_BYTES:
        raise ApiError(413, f"a greeting is at most {MAX_GREETING_BYTES} bytes")
    try:
        samples = formats.decode_wav(body)
    except (formats.SpoolError, ValueError, KeyError, struct.error) as error:
        raise ApiError(400, f"expected an 8 kHz mono 16-bit PCM WAV: {error}") from None
    if len(samples) == 0:
        raise ApiError(400, "the greeting holds no audio")
    if len(samples) / 8000 > service.max_greeting_seconds:
        raise ApiError(400, f"a greeting is at most {service.max_greeting_seconds:g} seconds")
    await service.save_greeting(box, kind, np.asarray(samples))
    return Done(message=f"saved the {kind} greeting of {box.address}")
