"""uvicorn's HTTP/1.1 protocol with the two guards it lacks: a deadline for receiving a whole request, and
an answer (414 or 431), not a connection reset, for a request head over the size limit.

- A connection that has not delivered a complete request within REQUEST_DEADLINE seconds of opening (or of
  its previous response) gets 408 and is closed: half-sent requests cannot hold connections forever.
- An oversize request line or header block gets 414 / 431 with `Connection: close`; the server then stops
  writing and reads (and drops) what the client is still sending for LINGER seconds before it closes, so the
  client reads the answer instead of a reset (a close with unread data makes the kernel send RST).
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_DEADLINE = 10.0
LINGER = 2.0


class GuardedH11Protocol(H11Protocol):
    _deadline: asyncio.TimerHandle | None = None
    _lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the answer is sent; drop the rest of the oversize request
        super().data_received(data)
        if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED):
            self._disarm()  # the whole request is in

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def send_400_response(self, msg: str) -> None:
        pending = bytes(self.conn.trailing_data[0])
        if len(pending) < (self.config.h11_max_incomplete_event_size or 16 * 1024):  # h11's default
            super().send_400_response(msg)  # malformed, not oversize
            return
        too_long_line = b"\r\n" not in pending
        self._answer_and_linger(414 if too_long_line else 431,
                                "request line too long" if too_long_line else "request headers too large")

    def _answer_and_linger(self, status: int, message: str) -> None:
        self._disarm()
        reason = {408: b"Request Timeout", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}[status]
        body = message.encode("ascii")
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
                             b"connection: close\r\n\r\n%s" % (status, reason, len(body), body))
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER, self.transport.close)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(REQUEST_DEADLINE, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:
            self.transport.close()  # nothing of a request arrived: an idle connection
            return
        self._answer_and_linger(408, "the request did not arrive in time")
