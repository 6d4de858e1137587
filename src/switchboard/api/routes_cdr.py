"""/api/cdrs: call detail records with filters and paging, and the same query as CSV
(Asterisk's Master.csv column order for the fields both have)."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from switchboard.api.routes_pbx import context_of
from switchboard.core.cdr import CallRecord, LegQuality
from switchboard.store.cdr import CdrQuery

router = APIRouter(tags=["cdr"])

MAX_PAGE = 1000
CSV_MAX_ROWS = 100_000
"""The most rows one CSV export holds (page through with ``offset`` beyond it)."""

Disposition = Literal["", "ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"]


class Quality(BaseModel):
    packets_received: int
    packets_lost: int
    loss: float
    jitter_ms: float
    rtt_ms: float | None
    mos: float


class Cdr(BaseModel):
    """One call, with Asterisk's CDR field names; times are epoch seconds."""

    uniqueid: str
    linkedid: str
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: float
    answer: float | None
    end: float
    duration: int
    billsec: int
    disposition: str
    hangupcause: int
    caller_quality: Quality | None
    callee_quality: Quality | None


class CdrPage(BaseModel):
    total: int
    offset: int
    limit: int
    records: list[Cdr]


CSV_FIELDS = (
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "hangupcause",
    "uniqueid",
    "linkedid",
)


def _quality(quality: LegQuality | None) -> Quality | None:
    return None if quality is None else Quality.model_validate(quality, from_attributes=True)


def _cdr(record: CallRecord) -> Cdr:
    fields = {name: getattr(record, name) for name in Cdr.model_fields if "quality" not in name}
    return Cdr(
        **fields,
        caller_quality=_quality(record.caller_quality),
        callee_quality=_quality(record.callee_quality),
    )


class Filters(BaseModel):
    src: str = ""
    dst: str = ""
    disposition: Disposition = ""
    since: float | None = None
    until: float | None = None


def _where(filters: Filters) -> CdrQuery:
    return CdrQuery(filters.src, filters.dst, filters.disposition, filters.since, filters.until)


@router.get("/cdrs", response_model=CdrPage, summary="Call detail records, newest first")
async def list_cdrs(
    request: Request,
    filters: Annotated[Filters, Query()],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> CdrPage:
    store = context_of(request).cdr_store
    total, records = await asyncio.to_thread(store.query, _where(filters), limit, offset)
    return CdrPage(total=total, offset=offset, limit=limit, records=[_cdr(r) for r in records])


@router.get(
    "/cdrs.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "The matching records"}},
    summary="The same query as CSV",
)
async def export_cdrs(
    request: Request,
    filters: Annotated[Filters, Query()],
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> Response:
    store = context_of(request).cdr_store
    _total, records = await asyncio.to_thread(store.query, _where(filters), CSV_MAX_ROWS, offset)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for record in records:
        writer.writerow(["" if (v := getattr(record, f)) is None else v for f in CSV_FIELDS])
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="cdr.csv"'},
    )
