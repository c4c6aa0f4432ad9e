"""Container health check: exit 0 when an HTTP endpoint answers 2xx, 1 otherwise.

Used by docker-compose.yml for the API server and the scheduler's health server.
Standard library only, so it does not depend on curl being in the base image.

    python /opt/tierwise/bin/healthcheck.py http://localhost:8974/health
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def is_healthy(url: str, timeout: float = 5.0) -> bool:
    """True when ``url`` answers with a 2xx status within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return False


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: healthcheck.py URL", file=sys.stderr)
        return 2
    return 0 if is_healthy(argv[1]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
