"""HMAC-SHA256 signatures of intake webhook deliveries."""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_HEADER = "X-Handoff-Signature"
TIMESTAMP_HEADER = "X-Handoff-Timestamp"
VERSION = "v1"
# Unix seconds in ASCII digits. Twelve digits reach far past any real clock, and a longer value
# would overflow the comparison with the server time.
TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,12}")


class SignatureError(Exception):
    """The delivery's signature is missing, stale or wrong, so the request gets a 401."""


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """Return `v1=<hex>`: HMAC-SHA256 of `v1:{timestamp}:{raw body}` under the shared secret."""
    message = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, *, timestamp: str | None, signature: str | None, body: bytes, now: float, tolerance: int) -> None:
    """Check a delivery against the raw bytes it arrived with; raise `SignatureError` saying why not."""
    if not timestamp or not signature:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    if not TIMESTAMP_PATTERN.fullmatch(timestamp):
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds, got {timestamp[:20]!r}")
    sent_at = int(timestamp)
    if abs(now - sent_at) > tolerance:
        raise SignatureError(f"timestamp {sent_at} is more than {tolerance} s from the server time {int(now)}")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise SignatureError("signature does not match the body; sign v1:{timestamp}:{raw body} with the shared secret")
