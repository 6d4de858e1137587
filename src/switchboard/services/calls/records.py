"""One call detail record per call, from its inbound channel once the dialplan is over."""

from __future__ import annotations

from switchboard.core.cdr import CallRecord, LegQuality, disposition_for, whole_seconds
from switchboard.media.relay import LegName, LegStats
from switchboard.services.calls.channel import Channel


def _quality(stats: LegStats | None) -> LegQuality | None:
    if stats is None or not stats.packets_received:
        return None
    return LegQuality.of(stats)


def call_record(
    channel: Channel, ended: float, stats: dict[LegName, LegStats] | None = None
) -> CallRecord:
    """The CDR of ``channel`` (Asterisk's fields), with each leg's RTP quality when the
    relay saw media."""
    state = channel.dialplan
    variables = state.variables if state is not None else {}
    dialstatus = variables.get("DIALSTATUS")
    answered = channel.answered_at is not None
    number, name = channel.caller_number, channel.caller_name
    clid = f'"{name}" <{number}>' if name else f"<{number}>"
    stats = stats or {}
    return CallRecord(
        uniqueid=channel.uniqueid,
        linkedid=channel.uniqueid,
        src=number,
        dst=channel.exten,
        dcontext=channel.endpoint.context,
        clid=clid,
        channel=channel.name,
        dstchannel=channel.last_peer,
        lastapp=channel.last_app,
        lastdata=channel.last_data,
        start=channel.started_at,
        answer=channel.answered_at,
        end=ended,
        duration=whole_seconds(channel.started_at, ended),
        billsec=whole_seconds(channel.answered_at, ended) if answered else 0,
        disposition=disposition_for(dialstatus, answered, channel.cause),
        hangupcause=channel.cause,
        caller_quality=_quality(stats.get("a")),
        callee_quality=_quality(stats.get("b")),
    )
