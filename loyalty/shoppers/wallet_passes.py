"""A wallet in the phone's own wallet app: an Apple Wallet pass (``.pkpass``) and a
Google Wallet "save" link, both carrying the wallet's card QR and its balances.

Apple: a zip of pass.json, images and localised labels, a manifest of each
file's SHA-1 and a detached PKCS#7 signature of the manifest by the pass type
certificate, with Apple's WWDR intermediate beside it. Devices that add the pass
register with the pass web service (loyalty.api.apple_passes) and fetch it again
when it changed. What changed is read from the ledger: every change of a balance
is a ledger transaction, so the newest one on the wallet's accounts dates the
pass (``updated_at``).

Google: a JWT (RS256, the service account's key) of type "savetowallet" with
the loyalty class of the town and the wallet's loyalty object, opened as
https://pay.google.com/gp/v/save/<jwt>.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import secrets
import zipfile
from dataclasses import dataclass
from datetime import datetime

import jwt
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from sqlalchemy.orm import Session

from loyalty.errors import Unauthorized
from loyalty.models import (
    Account,
    LedgerTransaction,
    PassRegistration,
    Posting,
    Scheme,
    Wallet,
    WalletPass,
    WalletStatus,
)
from loyalty.money import euros
from loyalty.shoppers import printed_cards, wallets

GOOGLE_SAVE_URL = "https://pay.google.com/gp/v/save/"
# The labels of the pass, localised by the phone from <language>.lproj/pass.strings.
LABEL_KEYS = ("points", "value", "credit", "town", "card_number", "description",
              "points_changed", "credit_changed")


@dataclass(frozen=True)
class AppleSigner:
    """The pass type's identity: what pass.json names and what signs the manifest."""

    pass_type_id: str
    team_id: str
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey
    wwdr: x509.Certificate

    @classmethod
    def from_pem(
        cls, pass_type_id: str, team_id: str, certificate: bytes, key: bytes,
        wwdr: bytes, password: bytes | None = None,
    ) -> AppleSigner:
        """Raises ValueError when a PEM cannot be read or the key is no RSA key."""
        private_key = serialization.load_pem_private_key(key, password)
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ValueError("the pass type key must be an RSA key")
        return cls(
            pass_type_id, team_id, x509.load_pem_x509_certificate(certificate), private_key,
            x509.load_pem_x509_certificate(wwdr),
        )


@dataclass(frozen=True)
class GoogleIssuer:
    """The Google Wallet issuer and the service account that signs the save links."""

    issuer_id: str
    client_email: str
    private_key: str  # PEM, as in the service account's JSON key file

    @classmethod
    def from_key_file(cls, issuer_id: str, key_file: str) -> GoogleIssuer:
        """From the service account's JSON key file. Raises ValueError when it is
        not one (no client_email, no RSA private key)."""
        key = json.loads(key_file)
        if not isinstance(key, dict) or not isinstance(key.get("client_email"), str):
            raise ValueError("no client_email in the service account key file")
        pem = key.get("private_key")
        if not isinstance(pem, str):
            raise ValueError("no private_key in the service account key file")
        if not isinstance(serialization.load_pem_private_key(pem.encode(), None),
                          rsa.RSAPrivateKey):
            raise ValueError("the service account key is no RSA key")
        return cls(issuer_id, key["client_email"], pem)


@dataclass(frozen=True)
class PassContent:
    """What a pass shows: the town, the card QR and the balances."""

    serial: str
    scheme_id: int
    town: str
    card_number: str
    points: int
    value_cents: int
    euro_cents: int
    updated_at: datetime


def pass_of_wallet(session: Session, wallet: Wallet) -> WalletPass:
    """The wallet's pass, made on its first download (a random serial)."""
    found = session.scalar(sa.select(WalletPass).where(WalletPass.wallet_id == wallet.id))
    if found is not None:
        return found
    # Two first downloads at once (the phone and its watch): the unique wallet_id
    # lets one insert win, and the savepoint lets the other read the winner's.
    try:
        with session.begin_nested():
            session.add(WalletPass(wallet_id=wallet.id, serial=secrets.token_hex(16)))
    except sa.exc.IntegrityError:
        pass
    return session.scalars(sa.select(WalletPass).where(WalletPass.wallet_id == wallet.id)).one()


def authentication_token(secret: str, serial: str) -> str:
    """The pass's web service token: derived from the site's secret key, so that
    every fetch of the pass can carry it again without it being stored."""
    return hmac.new(secret.encode(), f"apple-pass:{serial}".encode(), hashlib.sha256).hexdigest()


def check_token(secret: str, serial: str, authorization: str | None) -> None:
    """Raises Unauthorized unless the header is ``ApplePass <the pass's token>``."""
    scheme, _, token = (authorization or "").partition(" ")
    expected = authentication_token(secret, serial)
    if scheme != "ApplePass" or not hmac.compare_digest(token.strip(), expected):
        raise Unauthorized("wrong pass authentication token", code="bad_pass_token")


def pass_by_serial(session: Session, serial: str) -> WalletPass | None:
    """The pass with this serial, of a wallet that is not deleted."""
    return session.scalar(
        sa.select(WalletPass)
        .join(Wallet, Wallet.id == WalletPass.wallet_id)
        .where(WalletPass.serial == serial, Wallet.status != WalletStatus.DELETED)
    )


def updated_at(session: Session, wallet_id: int) -> datetime:
    """When a balance of the wallet last changed: its newest ledger transaction
    (points, euros, holds of spend codes), or the wallet's creation."""
    newest = session.scalar(
        sa.select(sa.func.max(LedgerTransaction.created_at))
        .join(Posting, Posting.transaction_id == LedgerTransaction.id)
        .join(Account, Account.id == Posting.account_id)
        .where(Account.wallet_id == wallet_id)
    )
    if newest is None:  # no balance ever moved
        return session.scalars(sa.select(Wallet.created_at).where(Wallet.id == wallet_id)).one()
    return newest  # max() keeps the column's type: timezone-aware UTC


def update_tag(moment: datetime) -> str:
    """The tag of the updates list: microseconds since 1970, so tags compare as numbers."""
    return str(int(moment.timestamp() * 1_000_000))


def content(session: Session, wallet_pass: WalletPass) -> PassContent:
    """What the pass of this wallet shows now."""
    wallet = session.get_one(Wallet, wallet_pass.wallet_id)
    scheme = session.get_one(Scheme, wallet.scheme_id)
    points = wallets.points_balance(session, wallet)
    return PassContent(
        serial=wallet_pass.serial,
        scheme_id=scheme.id,
        town=scheme.name,
        card_number=printed_cards.wallet_card_number(session, wallet),
        points=points,
        value_cents=points * scheme.point_value_cents,
        euro_cents=euros.balance(session, wallet),
        updated_at=updated_at(session, wallet.id),
    )


def _euros(cents: int) -> float:
    return round(cents / 100, 2)


def pass_json(
    shown: PassContent, signer: AppleSigner, token: str, web_service_url: str | None
) -> dict[str, object]:
    """pass.json of a store card; labels are keys of the pass.strings files. Without
    a web service URL the pass has no updates (the Wallet app takes https only)."""
    number = printed_cards.format_number(shown.card_number)
    secondary: list[dict[str, object]] = [
        {"key": "value", "label": "value", "value": _euros(shown.value_cents),
         "currencyCode": "EUR"},
    ]
    if shown.euro_cents:
        secondary.append({"key": "credit", "label": "credit", "value": _euros(shown.euro_cents),
                          "currencyCode": "EUR", "changeMessage": "credit_changed"})
    barcode = {"format": "PKBarcodeFormatQR", "message": shown.card_number,
               "messageEncoding": "iso-8859-1", "altText": number}
    service = (
        {"authenticationToken": token, "webServiceURL": web_service_url}
        if web_service_url else {}
    )
    return {
        "formatVersion": 1,
        "passTypeIdentifier": signer.pass_type_id,
        "teamIdentifier": signer.team_id,
        "serialNumber": shown.serial,
        "organizationName": shown.town,
        "description": "description",
        "logoText": shown.town,
        **service,
        "foregroundColor": "rgb(255, 255, 255)",
        "labelColor": "rgb(220, 236, 226)",
        "backgroundColor": "rgb(21, 101, 62)",
        "barcodes": [barcode],
        "barcode": barcode,  # for phones before iOS 9
        "storeCard": {
            "primaryFields": [{"key": "points", "label": "points", "value": shown.points,
                               "changeMessage": "points_changed"}],
            "secondaryFields": secondary,
            "auxiliaryFields": [{"key": "town", "label": "town", "value": shown.town}],
            "backFields": [{"key": "card_number", "label": "card_number", "value": number}],
        },
    }


def _strings(labels: dict[str, str]) -> bytes:
    """A pass.strings file: "key" = "text"; (UTF-8, which the Wallet app reads)."""
    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "".join(f"{quoted(k)} = {quoted(v)};\n" for k, v in labels.items()).encode()


def sign_manifest(manifest: bytes, signer: AppleSigner) -> bytes:
    """A detached PKCS#7 (DER) signature of the manifest, with the WWDR certificate."""
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(signer.certificate, signer.private_key, hashes.SHA256())
        .add_certificate(signer.wwdr)
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )


def pkpass(
    shown: PassContent,
    signer: AppleSigner,
    token: str,
    web_service_url: str | None,
    images: dict[str, bytes],
    labels: dict[str, dict[str, str]],
) -> bytes:
    """The signed .pkpass: ``images`` by file name (icon.png is required),
    ``labels`` by language (nl, fr, en) and LABEL_KEYS."""
    files: dict[str, bytes] = {
        "pass.json": json.dumps(
            pass_json(shown, signer, token, web_service_url), ensure_ascii=False, indent=1
        ).encode(),
        **images,
    }
    for language, texts in labels.items():
        files[f"{language}.lproj/pass.strings"] = _strings(texts)
    manifest = json.dumps(
        # Apple's manifest format names SHA-1; the signature, not this hash, is the security.
        {name: hashlib.sha1(body, usedforsecurity=False).hexdigest()
         for name, body in files.items()},
        indent=1,
    ).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in files.items():
            archive.writestr(name, body)
        archive.writestr("manifest.json", manifest)
        archive.writestr("signature", sign_manifest(manifest, signer))
    return buffer.getvalue()


def register_device(
    session: Session, wallet_pass: WalletPass, device_library_id: str, push_token: str
) -> bool:
    """Remember a device for the pass's updates; True if it is new, False if it
    was registered already (its push token is then the one it sent now)."""
    try:
        with session.begin_nested():
            session.add(PassRegistration(pass_id=wallet_pass.id,
                                         device_library_id=device_library_id,
                                         push_token=push_token))
    except sa.exc.IntegrityError:  # registered already, perhaps by a racing request
        session.execute(
            sa.update(PassRegistration)
            .where(PassRegistration.pass_id == wallet_pass.id,
                   PassRegistration.device_library_id == device_library_id)
            .values(push_token=push_token)
        )
        return False
    return True


def unregister_device(session: Session, wallet_pass: WalletPass, device_library_id: str) -> None:
    """The device removed the pass: it hears no more of it."""
    session.execute(
        sa.delete(PassRegistration).where(
            PassRegistration.pass_id == wallet_pass.id,
            PassRegistration.device_library_id == device_library_id,
        )
    )


def forget_pass_devices(session: Session, wallet_id: int) -> None:
    """Erase the devices (and their push tokens) registered for a wallet's pass."""
    session.execute(
        sa.delete(PassRegistration).where(
            PassRegistration.pass_id.in_(
                sa.select(WalletPass.id).where(WalletPass.wallet_id == wallet_id)
            )
        )
    )


def updated_serials(
    session: Session, device_library_id: str, since: str | None
) -> tuple[list[str], str | None]:
    """The serials of the device's passes changed after the tag ``since`` (all when
    None or not a tag of ours), and the tag to send next time (None: no passes)."""
    rows = session.execute(
        sa.select(WalletPass.serial, WalletPass.wallet_id)
        .join(PassRegistration, PassRegistration.pass_id == WalletPass.id)
        .join(Wallet, Wallet.id == WalletPass.wallet_id)
        .where(PassRegistration.device_library_id == device_library_id,
               Wallet.status != WalletStatus.DELETED)
        .order_by(WalletPass.serial)
    ).all()
    if not rows:
        return [], None
    after = int(since) if since and since.isdigit() else -1
    tags = {serial: int(update_tag(updated_at(session, wallet_id))) for serial, wallet_id in rows}
    changed = [serial for serial, tag in tags.items() if tag > after]
    return changed, str(max(tags.values()))


def google_save_url(
    shown: PassContent,
    issuer: GoogleIssuer,
    *,
    origin: str,
    logo_url: str,
    labels: dict[str, str],
    now: datetime,
) -> str:
    """The "Save to Google Wallet" link: a JWT with the town's loyalty class and
    the wallet's loyalty object, signed RS256 by the service account."""
    class_id = f"{issuer.issuer_id}.lokaal-sparen-{shown.scheme_id}"
    number = printed_cards.format_number(shown.card_number)
    loyalty_object: dict[str, object] = {
        "id": f"{issuer.issuer_id}.{shown.serial}",
        "classId": class_id,
        "state": "ACTIVE",
        "accountId": shown.card_number,
        "accountName": number,
        "loyaltyPoints": {"label": labels["points"], "balance": {"int": shown.points}},
        "secondaryLoyaltyPoints": {
            "label": labels["credit"],
            "balance": {"money": {"micros": shown.euro_cents * 10_000, "currencyCode": "EUR"}},
        },
        "barcode": {"type": "QR_CODE", "value": shown.card_number, "alternateText": number},
    }
    claims = {
        "iss": issuer.client_email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(now.timestamp()),
        "origins": [origin],
        "payload": {
            "loyaltyClasses": [{
                "id": class_id,
                "issuerName": shown.town,
                "programName": shown.town,
                "programLogo": {"sourceUri": {"uri": logo_url}},
                "reviewStatus": "UNDER_REVIEW",
                "hexBackgroundColor": "#15653e",
            }],
            "loyaltyObjects": [loyalty_object],
        },
    }
    return GOOGLE_SAVE_URL + jwt.encode(claims, issuer.private_key, algorithm="RS256")
