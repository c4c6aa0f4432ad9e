"""A tiny SMTP server on loopback (the stdlib ``smtpd`` is deprecated and gone in 3.12).

Speaks enough of RFC 5321 for smtplib: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
``faults`` are applied one per message at the end of DATA: ``451`` (temporary failure,
message dropped), ``drop`` (connection closed without an answer, message dropped).
"""

from __future__ import annotations

import socketserver
import threading
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass
class FakeSmtp:
    faults: deque[str] = field(default_factory=deque)
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def __enter__(self) -> FakeSmtp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def take_fault(self) -> str | None:
        with self._lock:
            return self.faults.popleft() if self.faults else None

    def store(self, sender: str, recipients: list[str], data: bytes) -> None:
        message = message_from_bytes(data, policy=policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((sender, recipients))


def _address(argument: str) -> str:
    """``FROM:<a@b> SIZE=1`` -> ``a@b``."""
    _, _, rest = argument.partition(":")
    return rest.strip().split(" ")[0].strip("<>")


class _Handler(socketserver.StreamRequestHandler):
    fake: FakeSmtp

    def _send(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self._send("220 fake-smtp ready")
        sender, recipients = "", []
        while raw := self.rfile.readline():
            verb, _, argument = raw.decode(errors="replace").strip().partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                # One write for the whole multi-line reply: two small writes stall on
                # Nagle + delayed ACK for 40 ms per session.
                self._send("250-fake-smtp\r\n250 8BITMIME")
            elif verb in ("HELO", "NOOP"):
                self._send("250 ok")
            elif verb == "MAIL":
                sender, recipients = _address(argument), []
                self._send("250 ok")
            elif verb == "RCPT":
                recipients.append(_address(argument))
                self._send("250 ok")
            elif verb == "RSET":
                sender, recipients = "", []
                self._send("250 ok")
            elif verb == "DATA":
                if not self._data(sender, recipients):
                    return
            elif verb == "QUIT":
                self._send("221 bye")
                return
            else:
                self._send("502 not implemented")

    def _data(self, sender: str, recipients: list[str]) -> bool:
        self._send("354 end with <CRLF>.<CRLF>")
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        fault = self.fake.take_fault()
        if fault == "drop":
            return False
        if fault == "451":
            self._send("451 temporary failure, try again later")
            return True
        self.fake.store(sender, recipients, b"".join(lines))
        self._send("250 queued")
        return True
