#!/usr/bin/env python3
"""Validate iCalendar files with independent parsers plus strict RFC 5545 checks.

Usage:
    validate_ics.py [--from YYYY-MM-DD] [--to YYYY-MM-DD] FILE [FILE ...]

For each file:
  * strict checks the parsers below do not make: every line ends with CRLF,
    no line is longer than 75 octets, the file is UTF-8, DTSTAMP / CREATED /
    LAST-MODIFIED are UTC (end in Z, no TZID), every TZID used has a
    VTIMEZONE;
  * python `icalendar`: Calendar.from_ical, every VEVENT has UID, DTSTAMP
    and DTSTART;
  * `vobject`: readComponents(validate=True);
  * `recurring-ical-events`: expands the calendar between --from and --to;
  * each VTIMEZONE, evaluated by python-dateutil's `tzical`, against the
    system tz database (`zoneinfo`) every hour from its first onset (or
    --from) to the last expanded occurrence in that zone. This matters
    because icalendar and recurring-ical-events resolve a TZID that is an
    IANA name through zoneinfo and never read the VTIMEZONE itself. Hours
    within 26 h of a transition are skipped: dateutil maps UTC to local time
    by trying the UTC wall time as a local one, which is wrong for up to the
    size of the zone's offset around a change between two observances of
    the same kind (Samoa's 2011 jump, Russia's 2014 change).

On success prints JSON ({"files": [{"file", "events", "occurrences": [...],
"vtimezones_checked": {TZID: hours compared}}]})
and exits 0. On any failure prints the reasons to stderr and exits 1; exits 3
when a required package is missing, 2 on bad usage.
"""

import argparse
import datetime as dt
import io
import json
import re
import sys
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

INSTALL_HINT = "pip install icalendar vobject recurring-ical-events"

def _import_parsers():
    global icalendar, recurring_ical_events, vobject, tzical
    import icalendar
    import recurring_ical_events
    import vobject
    from dateutil.tz import tzical


try:
    _import_parsers()
except ImportError:
    # First use on a fresh machine: install the pinned parsers listed next to
    # this script, so that `cargo test` alone is enough.
    import os
    import subprocess

    requirements = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements],
        stdout=sys.stderr,
        check=False,
    )
    try:
        _import_parsers()
    except ImportError as exc:  # pragma: no cover - environment problem
        print(
            f"validate_ics.py: missing Python package ({exc}). Install with: {INSTALL_HINT}",
            file=sys.stderr,
        )
        sys.exit(3)

MAX_OCTETS = 75
UTC_ONLY = ("DTSTAMP", "CREATED", "LAST-MODIFIED")
# name *(";" param) ":" value, with quoted parameter values allowed to hold ; : ,
CONTENT_LINE = re.compile(
    r'^(?P<name>[A-Za-z0-9-]+)(?P<params>(?:;[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*)*):(?P<value>.*)$',
    re.DOTALL,
)
PARAM = re.compile(r';([A-Za-z0-9-]+)=((?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*)')


def strict_checks(raw: bytes) -> list:
    errors = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [f"not valid UTF-8: {exc}"]
    if not raw.endswith(b"\r\n"):
        errors.append("file does not end with CRLF")
    physical = raw.split(b"\r\n")
    if physical and physical[-1] == b"":
        physical.pop()
    for no, line in enumerate(physical, 1):
        if b"\n" in line or b"\r" in line:
            errors.append(f"line {no}: bare LF or CR (every line must end with CRLF)")
        if len(line) > MAX_OCTETS:
            errors.append(f"line {no}: {len(line)} octets (max {MAX_OCTETS})")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            errors.append(f"line {no}: folded inside a UTF-8 sequence")
    unfolded = re.sub(r"\r\n[ \t]", "", text)
    tzids_defined = set()
    tzids_used = {}
    stack = []
    for no, line in enumerate(unfolded.split("\r\n"), 1):
        if not line:
            continue
        m = CONTENT_LINE.match(line)
        if not m:
            errors.append(f"logical line {no}: not a content line: {line[:60]!r}")
            continue
        name = m.group("name").upper()
        value = m.group("value")
        params = {k.upper(): v for k, v in PARAM.findall(m.group("params"))}
        if name == "BEGIN":
            stack.append(value.upper())
        elif name == "END":
            if not stack or stack.pop() != value.upper():
                errors.append(f"logical line {no}: END:{value} does not match BEGIN")
        elif name == "TZID" and stack and stack[-1] == "VTIMEZONE":
            tzids_defined.add(value)
        if "TZID" in params:
            tzids_used.setdefault(params["TZID"].strip('"'), no)
        if name in UTC_ONLY and stack and stack[-1] != "VTIMEZONE":
            if not value.endswith("Z") or "TZID" in params:
                errors.append(f"logical line {no}: {name} must be UTC (end in Z): {line!r}")
    if stack:
        errors.append(f"unterminated components: {stack}")
    for tzid, no in sorted(tzids_used.items()):
        if tzid not in tzids_defined:
            errors.append(f"logical line {no}: TZID={tzid} has no VTIMEZONE")
    return errors


VTIMEZONE_BLOCK = re.compile(r"BEGIN:VTIMEZONE\r\n.*?END:VTIMEZONE\r\n", re.DOTALL)
NEAR_TRANSITION = dt.timedelta(hours=26)


def check_vtimezones(text: str, start: dt.datetime, last_use: dict) -> tuple:
    """Compares each VTIMEZONE with zoneinfo; returns (errors, {tzid: hours})."""
    errors, checked = [], {}
    for block in VTIMEZONE_BLOCK.findall(text):
        unfolded = re.sub(r"\r\n[ \t]", "", block)
        tzid = re.search(r"^TZID:(.*)$", unfolded, re.MULTILINE).group(1).strip()
        try:
            ref = ZoneInfo(tzid)
        except (ZoneInfoNotFoundError, ValueError):
            checked[tzid] = 0
            continue
        try:
            ours = tzical(io.StringIO(block)).get()
        except Exception as exc:  # noqa: BLE001
            errors.append(f"vtimezone {tzid}: dateutil cannot read it: {exc}")
            continue
        onsets = []
        for local, frm in re.findall(r"^DTSTART:(\d{8}T\d{6})\r?\n(?:.*\n)*?TZOFFSETFROM:([+-]\d{4,6})", unfolded, re.MULTILINE):
            sign = -1 if frm[0] == "-" else 1
            secs = int(frm[1:3]) * 3600 + int(frm[3:5]) * 60 + (int(frm[5:7]) if len(frm) > 5 else 0)
            naive = dt.datetime.strptime(local, "%Y%m%dT%H%M%S")
            onsets.append(naive - dt.timedelta(seconds=sign * secs))
        if not onsets:
            errors.append(f"vtimezone {tzid}: no observance")
            continue
        t = max(start, min(onsets)).replace(minute=0, second=0) + dt.timedelta(hours=1)
        end = last_use.get(tzid)
        hours, mismatches = 0, []
        while end is not None and t <= end:
            utc = t.replace(tzinfo=dt.timezone.utc)
            near = utc - NEAR_TRANSITION, utc + NEAR_TRANSITION
            if near[0].astimezone(ref).utcoffset() == near[1].astimezone(ref).utcoffset():
                hours += 1
                a = utc.astimezone(ours).utcoffset()
                b = utc.astimezone(ref).utcoffset()
                if a != b:
                    mismatches.append(f"{t.isoformat()}Z VTIMEZONE says {a}, zoneinfo says {b}")
            t += dt.timedelta(hours=1)
        if mismatches:
            errors.append(
                f"vtimezone {tzid}: {len(mismatches)} hour(s) disagree with zoneinfo "
                f"(tzdata may be older or newer than the generator's), e.g. {mismatches[:3]}"
            )
        checked[tzid] = hours
    return errors, checked


def iso(value) -> str:
    return value.isoformat() if value is not None else None


def check_file(path: str, start: dt.date, end: dt.date):
    with open(path, "rb") as fh:
        raw = fh.read()
    errors = [f"strict: {e}" for e in strict_checks(raw)]
    text = raw.decode("utf-8", errors="replace")

    events = 0
    cal = None
    try:
        cal = icalendar.Calendar.from_ical(text)
        for comp in cal.walk("VEVENT"):
            events += 1
            for prop in ("UID", "DTSTAMP", "DTSTART"):
                if comp.get(prop) is None:
                    errors.append(f"icalendar: VEVENT #{events} lacks {prop}")
    except Exception as exc:  # noqa: BLE001 - any parser error is a failure
        errors.append(f"icalendar: {type(exc).__name__}: {exc}")

    try:
        count = 0
        for comp in vobject.readComponents(text, validate=True):
            count += 1
            for _ in comp.getChildren():
                pass
        if count == 0:
            errors.append("vobject: no component found")
    except Exception as exc:  # noqa: BLE001
        errors.append(f"vobject: {type(exc).__name__}: {exc}")

    occurrences = []
    if cal is not None:
        try:
            for occ in recurring_ical_events.of(cal).between(start, end):
                rid = occ.get("RECURRENCE-ID")
                occurrences.append(
                    {
                        "uid": str(occ.get("UID")),
                        "start": iso(occ.decoded("DTSTART")),
                        "end": iso(occ.decoded("DTEND")) if occ.get("DTEND") is not None else None,
                        "summary": str(occ.get("SUMMARY")),
                        "status": str(occ.get("STATUS")) if occ.get("STATUS") is not None else None,
                        "recurrence_id": iso(rid.dt) if rid is not None else None,
                    }
                )
        except Exception as exc:  # noqa: BLE001
            errors.append(f"recurring-ical-events: {type(exc).__name__}: {exc}")
    occurrences.sort(key=lambda o: (o["start"], o["uid"]))

    # Last instant (naive UTC) each TZID is used by an expanded occurrence.
    last_use = {}
    if cal is not None:
        try:
            for occ in recurring_ical_events.of(cal).between(start, end):
                for prop in ("DTSTART", "DTEND"):
                    p = occ.get(prop)
                    tzid = p.params.get("TZID") if p is not None else None
                    value = occ.decoded(prop) if p is not None else None
                    if tzid and isinstance(value, dt.datetime) and value.tzinfo is not None:
                        at = value.astimezone(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=1)
                        last_use[tzid] = max(last_use.get(tzid, at), at)
        except Exception:  # noqa: BLE001 - already reported above
            pass
    start_dt = dt.datetime.combine(start, dt.time())
    tz_errors, checked = check_vtimezones(text, start_dt, last_use)
    errors.extend(tz_errors)
    return errors, {"file": path, "events": events, "occurrences": occurrences, "vtimezones_checked": checked}


def parse_date(s: str) -> dt.date:
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {s}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="start", type=parse_date, default=dt.date(2000, 1, 1))
    ap.add_argument("--to", dest="end", type=parse_date, default=dt.date(2100, 1, 1))
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    if args.end <= args.start:
        ap.error("--to must be after --from")

    results, failed = [], False
    for path in args.files:
        try:
            errors, result = check_file(path, args.start, args.end)
        except OSError as exc:
            errors, result = [f"cannot read: {exc}"], None
        if errors:
            failed = True
            print(f"{path}: INVALID", file=sys.stderr)
            for e in errors:
                print(f"  - {e}", file=sys.stderr)
        else:
            results.append(result)
    if failed:
        return 1
    json.dump({"files": results}, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
