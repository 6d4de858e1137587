"""Q.850 hangup causes and SIP statuses, both ways, as Asterisk's chan_pjsip maps them."""

from __future__ import annotations

NORMAL_CLEARING = 16
USER_BUSY = 17
NO_USER_RESPONSE = 18
NO_ANSWER = 19
CALL_REJECTED = 21
CONGESTION = 34
TEMPORARY_FAILURE = 41
UNALLOCATED = 1

_CAUSE_TO_SIP = {
    1: 404,
    2: 404,
    3: 404,
    17: 486,
    18: 408,
    19: 480,
    20: 480,
    21: 403,
    22: 410,
    27: 502,
    28: 484,
    29: 501,
    31: 480,
    34: 503,
    38: 500,
    41: 503,
    42: 503,
    44: 503,
    58: 488,
    65: 488,
    66: 488,
    69: 501,
    88: 488,
    102: 504,
}

_SIP_TO_CAUSE = {
    401: 21,
    403: 21,
    404: 1,
    405: 63,
    407: 21,
    408: 102,
    410: 22,
    413: 127,
    414: 127,
    415: 79,
    420: 127,
    480: 18,
    483: 25,
    484: 28,
    485: 1,
    486: 17,
    487: 16,
    488: 58,
    500: 41,
    501: 79,
    502: 38,
    503: 34,
    504: 102,
    505: 127,
    600: 17,
    603: 21,
    604: 1,
    606: 58,
}


def sip_status_for(cause: int) -> int:
    """The final response that rejects an unanswered call hung up with ``cause``: 603
    Decline when the cause has no SIP equivalent, as ``ast_sip_session_terminate`` does."""
    return _CAUSE_TO_SIP.get(cause, 603)


def cause_for(status: int) -> int:
    """The Q.850 cause of a dialled leg that failed with ``status``."""
    return _SIP_TO_CAUSE.get(status, NORMAL_CLEARING if status < 400 else 127)


def dial_status(causes: list[int]) -> str:
    """Asterisk's DIALSTATUS once every dialled leg failed: busy beats congestion beats an
    unavailable channel; legs that just went unanswered give NOANSWER."""
    if USER_BUSY in causes:
        return "BUSY"
    if CONGESTION in causes:
        return "CONGESTION"
    if any(cause not in (NORMAL_CLEARING, NO_ANSWER, NO_USER_RESPONSE) for cause in causes):
        return "CHANUNAVAIL"
    return "NOANSWER"
