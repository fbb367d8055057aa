"""Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payloads (RFC 8291), by pywebpush.

The keys come from the configuration: VAPID_PRIVATE_KEY (the raw 32-byte P-256
private key, base64url, or its DER), VAPID_PUBLIC_KEY (the uncompressed
public point, base64url: what the browser's PushManager.subscribe takes) and
VAPID_SUBJECT (a mailto: or https: contact for the push services). Without
them the wallet offers no push at all.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPushException, webpush

TTL_SECONDS = 24 * 3600  # news of a sale or a campaign is stale after a day
TIMEOUT_SECONDS = 10
GONE = (404, 410)  # the push service forgot the subscription: stop sending to it


@dataclass(frozen=True)
class Keys:
    private_key: str
    public_key: str
    subject: str


def keys_from(config: Mapping[str, Any]) -> Keys | None:
    """The VAPID keys, or None when push is not set up here."""
    private, public, subject = (config.get(name) for name in
                                ("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "VAPID_SUBJECT"))
    if not (private and public and subject):
        return None
    return Keys(str(private), str(public), str(subject))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def generate_keys() -> tuple[str, str]:
    """A new VAPID key pair as (private, public), base64url, for the configuration."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64(private), _b64(public)


def send(keys: Keys, endpoint: str, p256dh: str, auth: str, payload: Mapping[str, Any],
         ttl: int = TTL_SECONDS) -> int:
    """Encrypt ``payload`` (as JSON) for one subscription and post it; the HTTP status
    the push service answered (0: it could not be reached)."""
    try:
        response = webpush(
            {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=json.dumps(payload, ensure_ascii=False),
            vapid_private_key=keys.private_key,
            # A fresh dict each time: pywebpush writes "aud" and "exp" into it.
            vapid_claims={"sub": keys.subject},
            ttl=ttl,
            timeout=TIMEOUT_SECONDS,
        )
    except WebPushException as error:
        return error.response.status_code if error.response is not None else 0
    except OSError:
        return 0
    return int(getattr(response, "status_code", 0))
