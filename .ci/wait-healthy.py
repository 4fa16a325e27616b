"""Wait until a URL answers 200 (at most 120 s); exit 1 otherwise."""
import sys
import time
import urllib.request

for _ in range(240):
    try:
        with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.5)
sys.exit(1)
