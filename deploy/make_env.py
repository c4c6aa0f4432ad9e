"""Write .env from .env.example with fresh secrets for the Airflow stack.

    python deploy/make_env.py            # refuses to overwrite an existing .env
    python deploy/make_env.py --force

Every placeholder of the stack's own secrets (database and broker passwords, the
Fernet key, the API and JWT secrets, the admin password) gets a new random value,
and AIRFLOW_UID becomes the current user's UID (unless that is root). Connection placeholders
(AIRFLOW_CONN_*) are left for you to fill in: they point at your own systems.
Standard library only: it runs before any environment is installed.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

PLACEHOLDER = "change-me"
REPO = Path(__file__).resolve().parents[1]


def fernet_key() -> str:
    """A key Airflow's Fernet accepts: 32 random bytes, url-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def url_safe_secret() -> str:
    """A secret that can sit in a connection URL without escaping."""
    return secrets.token_urlsafe(32)


GENERATORS: dict[str, Callable[[], str]] = {
    "POSTGRES_PASSWORD": url_safe_secret,
    "REDIS_PASSWORD": url_safe_secret,
    "AIRFLOW_FERNET_KEY": fernet_key,
    "AIRFLOW_API_SECRET_KEY": url_safe_secret,
    "AIRFLOW_JWT_SECRET": url_safe_secret,
    "TIERWISE_ADMIN_PASSWORD": lambda: secrets.token_urlsafe(12),
}


def fill_line(line: str, uid: int | None) -> str:
    """The line with a generated value when it holds a placeholder we own."""
    key, sep, value = line.partition("=")
    name = key.strip()
    if not sep or name.startswith("#"):
        return line
    if name in GENERATORS and value.strip() == PLACEHOLDER:
        return f"{key}={GENERATORS[name]()}\n"
    if name == "AIRFLOW_UID" and uid:  # root (0) keeps the image default
        return f"{key}={uid}\n"
    return line


def render(example: str, uid: int | None) -> str:
    return "".join(fill_line(line, uid) for line in example.splitlines(keepends=True))


def remaining_placeholders(text: str) -> list[str]:
    return [
        line.partition("=")[0]
        for line in text.splitlines()
        if PLACEHOLDER in line and not line.startswith("#")
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--example", type=Path, default=REPO / ".env.example")
    parser.add_argument("--output", type=Path, default=REPO / ".env")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")
    args = parser.parse_args(argv)
    if args.output.exists() and not args.force:
        print(f"{args.output} exists; use --force to replace it", file=sys.stderr)
        return 1
    uid = os.getuid() if hasattr(os, "getuid") else None
    text = render(args.example.read_text(encoding="utf-8"), uid)
    args.output.write_text(text, encoding="utf-8")
    args.output.chmod(0o600)
    print(f"wrote {args.output}")
    for name in remaining_placeholders(text):
        print(f"  still a placeholder, set it yourself: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
