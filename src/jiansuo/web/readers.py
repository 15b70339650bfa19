"""Anonymous readers: a random id in a signed cookie, forms protected against cross-site requests.

A reader is a random 128-bit id and nothing else: no account, no address, no personal data. The cookie holds
`id.signature` (HMAC-SHA256 with a secret kept in the store), HttpOnly and SameSite=Lax, so a page cannot read
it and another site cannot send it with a form. Every form that changes something carries a CSRF token, an HMAC
of the reader id; a POST without the right token is refused (403). A reader's feed of stars has its own
unguessable address (an HMAC of the id), since feed readers send no cookies.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

COOKIE = "jiansuo_reader"
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie
_ID = re.compile(r"^[0-9a-f]{32}$")


class Readers:
    def __init__(self, secret: str):
        self._key = secret.encode("ascii")

    def new_id(self) -> str:
        return secrets.token_hex(16)

    def cookie_value(self, reader: str) -> str:
        return f"{reader}.{self._sign('reader', reader)}"

    def from_cookie(self, value: str | None) -> str | None:
        """The reader id a cookie proves, or None for a missing, malformed or forged one."""
        reader, _, signature = (value or "").partition(".")
        if not _ID.match(reader) or not hmac.compare_digest(signature, self._sign("reader", reader)):
            return None
        return reader

    def csrf_token(self, reader: str) -> str:
        return self._sign("csrf", reader)

    def csrf_ok(self, reader: str | None, token: str | None) -> bool:
        return bool(reader and token) and hmac.compare_digest(str(token), self.csrf_token(str(reader)))

    def feed_key(self, reader: str) -> str:
        return f"{reader}{self._sign('feed', reader)[:32]}"

    def from_feed_key(self, key: str) -> str | None:
        reader, signature = key[:32], key[32:]
        if not _ID.match(reader) or not hmac.compare_digest(signature, self._sign("feed", reader)[:32]):
            return None
        return reader

    def _sign(self, purpose: str, reader: str) -> str:
        return hmac.new(self._key, f"{purpose}:{reader}".encode(), hashlib.sha256).hexdigest()
