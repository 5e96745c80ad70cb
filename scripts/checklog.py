"""Fail when an Odoo log holds a WARNING, ERROR or CRITICAL line that is not
allow-listed.

Usage: checklog.py ALLOWLIST LOGFILE... The allow-list holds one regular expression per
line, each preceded by a comment that says why the line is harmless; blank lines and
lines starting with '#' are ignored.
"""

import re
import sys

LEVEL = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (WARNING|ERROR|CRITICAL) ")


def main(allowlist_path, *logs):
    with open(allowlist_path, encoding="utf-8") as f:
        allowed = [
            re.compile(line.strip())
            for line in f
            if line.strip() and not line.lstrip().startswith("#")
        ]
    bad = []
    for path in logs:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if LEVEL.match(line) and not any(p.search(line) for p in allowed):
                    bad.append(f"{path}: {line.rstrip()}")
    if bad:
        print(f"\nOdoo logged {len(bad)} WARNING/ERROR line(s): the run fails.")
        print("\n".join(bad[:50]))
        return 1
    print("Odoo logs are clean (no WARNING/ERROR lines).")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
