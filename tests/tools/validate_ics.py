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
  * `recurring-ical-events`: expands the calendar between --from and --to.

On success prints JSON ({"files": [{"file", "events", "occurrences": [...]}]})
and exits 0. On any failure prints the reasons to stderr and exits 1; exits 3
when a required package is missing, 2 on bad usage.
"""

import argparse
import datetime as dt
import json
import re
import sys

INSTALL_HINT = "pip install icalendar vobject recurring-ical-events"

try:
    import icalendar
    import recurring_ical_events
    import vobject
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
    return errors, {"file": path, "events": events, "occurrences": occurrences}


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
