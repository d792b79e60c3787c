#!/usr/bin/env python3
"""Verify a message's DKIM signature with dkimpy, an implementation independent
of the one that signed it (lettre's).

Usage: verify_dkim.py MESSAGE.eml DNS_TXT_FILE

DNS_TXT_FILE holds the TXT record the selector would publish
("v=DKIM1; k=rsa; p=..."); it is answered for any lookup, so no DNS is used.
Prints JSON {"valid": bool, "domain", "selector", "headers"} and exits 0 when
valid, 1 when not; 3 when dkimpy is missing.
"""

import json
import re
import sys

try:
    import dkim
except ImportError:
    print("dkimpy is missing: pip install dkimpy", file=sys.stderr)
    sys.exit(3)


def main():
    message = open(sys.argv[1], "rb").read()
    record = open(sys.argv[2], "rb").read().strip()
    signature = re.search(rb"^DKIM-Signature:(.*?)\r\n(?![ \t])", message, re.M | re.S | re.I)
    tags = {}
    if signature:
        for part in re.sub(rb"\s+", b"", signature.group(1)).split(b";"):
            if b"=" in part:
                key, value = part.split(b"=", 1)
                tags[key.decode()] = value.decode()
    valid = bool(dkim.verify(message, dnsfunc=lambda name, timeout=5: record))
    print(json.dumps({
        "valid": valid,
        "domain": tags.get("d"),
        "selector": tags.get("s"),
        "headers": tags.get("h", "").lower().split(":"),
    }))
    sys.exit(0 if valid else 1)


main()
