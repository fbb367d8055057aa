"""What the wallet page and the Apple pass web service share: the keys from the
configuration, the pass's images and labels, and the signed pass itself.

Without the settings of a wallet app (APPLE_* or GOOGLE_WALLET_*) its button is
not shown and its routes answer 404.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Response, current_app
from flask_babel import force_locale, gettext
from sqlalchemy.orm import Session

from loyalty.infra.db import utcnow
from loyalty.models import WalletPass
from loyalty.shoppers import wallet_passes
from loyalty.shoppers.wallet_passes import AppleSigner, GoogleIssuer, PassContent
from loyalty.web import attachment, public_url
from loyalty.web.i18n import LANGUAGES

log = logging.getLogger(__name__)
IMAGES = Path(__file__).resolve().parent / "static" / "pass"
# Where a pass's devices reach the pass web service; under the API's prefix so
# that its errors are JSON (see loyalty.api.apple_passes).
WEB_SERVICE_PATH = "/api/v1/apple-wallet"
PKPASS_TYPE = "application/vnd.apple.pkpass"
APPLE_SETTINGS = ("APPLE_PASS_TYPE_ID", "APPLE_TEAM_ID", "APPLE_PASS_CERT", "APPLE_PASS_KEY",
                  "APPLE_WWDR_CERT")
GOOGLE_SETTINGS = ("GOOGLE_WALLET_ISSUER_ID", "GOOGLE_WALLET_SERVICE_ACCOUNT")


def apple_signer() -> AppleSigner | None:
    """The pass type's certificate and key, read once per process (a renewed
    certificate needs a restart); None when not configured, or unreadable: then
    logged once, and the button stays hidden rather than failing."""
    config = current_app.config
    if not all(config.get(name) for name in APPLE_SETTINGS):
        return None
    cached = current_app.extensions.get("loyalty.apple_signer")
    if cached is None:
        password = config.get("APPLE_PASS_KEY_PASSWORD")
        try:
            cached = AppleSigner.from_pem(
                config["APPLE_PASS_TYPE_ID"], config["APPLE_TEAM_ID"],
                Path(config["APPLE_PASS_CERT"]).read_bytes(),
                Path(config["APPLE_PASS_KEY"]).read_bytes(),
                Path(config["APPLE_WWDR_CERT"]).read_bytes(),
                password.encode() if password else None,
            )
        except (OSError, ValueError, TypeError):
            log.exception("Apple Wallet passes are off: the certificate or key cannot be read")
            cached = False
        current_app.extensions["loyalty.apple_signer"] = cached
    return cached if isinstance(cached, AppleSigner) else None


def google_issuer() -> GoogleIssuer | None:
    """The Google Wallet issuer and service account key, read once per process;
    None when not configured, or unusable (logged once)."""
    config = current_app.config
    if not all(config.get(name) for name in GOOGLE_SETTINGS):
        return None
    cached = current_app.extensions.get("loyalty.google_issuer")
    if cached is None:
        try:
            cached = GoogleIssuer.from_key_file(
                str(config["GOOGLE_WALLET_ISSUER_ID"]),
                Path(config["GOOGLE_WALLET_SERVICE_ACCOUNT"]).read_text(),
            )
        except (OSError, ValueError):
            log.exception("Google Wallet is off: the service account key cannot be used")
            cached = False
        current_app.extensions["loyalty.google_issuer"] = cached
    return cached if isinstance(cached, GoogleIssuer) else None


def _labels(town: str) -> dict[str, str]:
    """The pass's labels in the current language (keys: wallet_passes.LABEL_KEYS)."""
    return {
        "points": gettext("Points"),
        "value": gettext("Worth"),
        "credit": gettext("Credit"),
        "town": gettext("Municipality"),
        "card_number": gettext("Card number"),
        "description": gettext("Savings card of %(town)s", town=town),
        # %@ is where the Wallet app puts the new value.
        "points_changed": gettext("You now have %@ points"),
        "credit_changed": gettext("Your credit is now %@"),
    }


def _images() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(IMAGES.glob("*.png"))}


def pkpass_response(session: Session, wallet_pass: WalletPass, signer: AppleSigner) -> Response:
    """The signed pass as a download, dated by the wallet's last balance change."""
    shown = wallet_passes.content(session, wallet_pass)
    labels = {}
    for language in LANGUAGES:
        with force_locale(language):
            labels[language] = _labels(shown.town)
    service = public_url(WEB_SERVICE_PATH)
    body = wallet_passes.pkpass(
        shown, signer,
        wallet_passes.authentication_token(current_app.config["SECRET_KEY"], wallet_pass.serial),
        # The Wallet app talks to https only: an http site's pass simply never updates.
        service if service.startswith("https://") else None,
        _images(), labels,
    )
    response = attachment(body, PKPASS_TYPE, "lokaal-sparen.pkpass")
    response.last_modified = shown.updated_at
    return response


def google_save_url(shown: PassContent, issuer: GoogleIssuer) -> str:
    """The "Save to Google Wallet" link of the wallet, labels in the page's language."""
    return wallet_passes.google_save_url(
        shown, issuer,
        origin=public_url(),
        logo_url=public_url("/static/consumer/icon-512.png"),
        labels=_labels(shown.town),
        now=utcnow(),
    )
