"""Memory of registered contacts: RSS per contact, and RSS under constant re-registration.

In-process, no sockets. Fills a :class:`LocationService` with 100,000 contacts built the
way the registrar builds them (a new binding, then the fields of the REGISTER that
refreshed it: Call-ID, CSeq, User-Agent, source address), then re-registers the same
users 1,000,000 times (bounded), with the housekeeping the server runs (expiry sweep and
the write-behind batch handed to the store) every 750 refreshes, as at 3,000
registrations/s. RSS (psutil) is sampled every 100,000 refreshes.

Baseline, same run: the same number of plain dicts holding the same fields, each in a
fresh child process so that one measurement does not reuse the other's freed memory.

Run: ``.venv/bin/python bench/memory.py [--contacts 100000] [--refreshes 1000000]``.
Targets (issue 3): 100,000 contacts in under 500 MB RSS; RSS flat within 10 % after a
million re-registrations.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from typing import Any

import psutil

from switchboard.core.contact import Contact
from switchboard.core.events import EventBus
from switchboard.services.location import LocationService

HOUSEKEEPING_EVERY = 750
"""Refreshes between expiry sweeps and store batches (4 per second at 3,000/s)."""

SAMPLES = 10


def rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def names(count: int) -> list[str]:
    """The AOR names, as the configuration holds them (alive before the contacts)."""
    return [f"user{i:06d}" for i in range(count)]


def request_fields(aor: str, serial: int) -> dict[str, Any]:
    """What one REGISTER carries into its contact: fresh strings, as parsing makes them."""
    return {
        "call_id": f"{serial}-{aor}@192.0.2.{serial % 250}",
        "cseq": 2 + serial % 7,
        "user_agent": "".join(("Z 5.6.1 v2.10.19.9", "")),
        "transport": "udp",
        "source_host": f"10.{serial % 200}.{serial % 100}.{serial % 250}",
        "source_port": 5060 + serial % 1000,
        "connection": 0,
    }


def contact_uri(aor: str, index: int) -> str:
    return f"sip:{aor}@10.{index % 200}.{index % 100}.{index % 250}:5060;transport=UDP"


def measure_contacts(count: int, refreshes: int) -> dict[str, Any]:
    aors = names(count)
    before = rss()
    location = LocationService(EventBus())
    now = time.time()
    for index, aor in enumerate(aors):
        fields = request_fields(aor, index)
        contact = Contact(
            aor, contact_uri(aor, index), now + 3600, aor, registered_at=now, **fields
        )
        location.add(contact, now)
        if index % HOUSEKEEPING_EVERY == 0:
            location.expire(now)
            location.take_changes()
    location.expire(now)
    location.take_changes()
    filled = rss()
    samples = []
    started = time.perf_counter()
    step = max(refreshes // SAMPLES, 1)
    for serial in range(refreshes):
        aor = aors[serial % count]
        (old,) = location.contacts(aor)
        now += 1 / 3000
        contact = Contact(
            aor,
            old.uri,
            now + 3600,
            old.endpoint,
            path=old.path,
            registered_at=old.registered_at,
            **request_fields(aor, count + serial),
        )
        location.refresh(contact, now)
        if serial % HOUSEKEEPING_EVERY == 0:
            location.expire(now)
            location.take_changes()
        if (serial + 1) % step == 0:
            samples.append(rss())
    elapsed = time.perf_counter() - started
    assert len(location) == count
    return {
        "before": before,
        "filled": filled,
        "samples": samples,
        "refresh_seconds": elapsed,
    }


def measure_dicts(count: int) -> dict[str, Any]:
    aors = names(count)
    before = rss()
    now = time.time()
    table: dict[str, dict[str, object]] = {}
    for index, aor in enumerate(aors):
        table[aor] = {
            "aor": aor,
            "uri": contact_uri(aor, index),
            "expires_at": now + 3600,
            "endpoint": aor,
            "path": "",
            "registered_at": now,
            **request_fields(aor, index),
        }
    return {"before": before, "filled": rss()}


def child(part: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--part", part]
    command += ["--contacts", str(args.contacts), "--refreshes", str(args.refreshes)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=True)
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--refreshes", type=int, default=1_000_000)
    parser.add_argument("--part", choices=("contacts", "dicts"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part == "contacts":
        print(json.dumps(measure_contacts(args.contacts, args.refreshes)))
        return 0
    if args.part == "dicts":
        print(json.dumps(measure_dicts(args.contacts)))
        return 0
    contacts = child("contacts", args)
    dicts = child("dicts", args)
    count = args.contacts
    filled = int(contacts["filled"])
    used = filled - int(contacts["before"])
    dict_used = int(dicts["filled"]) - int(dicts["before"])
    samples = [int(s) for s in contacts["samples"]]
    final = samples[-1] if samples else filled
    peak = max([filled, *samples])
    print(f"contacts: {count} contacts")
    print(f"rss_with_contacts: {filled / 1e6:.1f} MB")
    print(f"contact_memory: {used / 1e6:.1f} MB")
    print(f"bytes_per_contact: {used / count:.0f} B")
    print(f"refreshes: {args.refreshes} re-registrations")
    print(f"refresh_rate: {args.refreshes / float(contacts['refresh_seconds']):.0f} refreshes/s")
    print(f"rss_after_refreshes: {final / 1e6:.1f} MB")
    print(f"rss_peak_during_refreshes: {peak / 1e6:.1f} MB")
    print(f"rss_growth: {(final - filled) / filled * 100:+.1f} %")
    print(f"rss_peak_growth: {(peak - filled) / filled * 100:+.1f} %")
    print(f"dict_bytes_per_contact: {dict_used / count:.0f} B")
    print(f"ratio_contact_vs_dict: {used / dict_used:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
