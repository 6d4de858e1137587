"""/api/cdrs: call detail records with filters and paging, and the same query as CSV (the
``cdr`` table's columns, without the RTP quality ones)."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from switchboard.api.routes_pbx import context_of
from switchboard.core.cdr import CallRecord
from switchboard.store.cdr import CDR_COLUMNS, CdrQuery

router = APIRouter(tags=["cdr"])

MAX_PAGE = 1000
CSV_MAX_ROWS = 100_000
"""The most rows one CSV export holds (page through with ``offset`` beyond it)."""

Disposition = Literal["", "ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"]


class CdrPage(BaseModel):
    total: int
    offset: int
    limit: int
    records: list[CallRecord]


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
    return CdrPage(total=total, offset=offset, limit=limit, records=records)


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
    writer.writerow(CDR_COLUMNS)
    for record in records:
        writer.writerow(["" if (v := getattr(record, f)) is None else v for f in CDR_COLUMNS])
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="cdr.csv"'},
    )
