"""The wallet in Apple Wallet and Google Wallet: the buttons, the signed pass, the save link."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from loyalty.models import Wallet, WalletPass
from loyalty.shoppers.wallet_passes import LABEL_KEYS
from tests.factories import make_shop
from tests.wallet_pass_data import (
    ISSUER_ID,
    PASS_TYPE_ID,
    TEAM_ID,
    PassKeys,
    collect,
    open_pkpass,
)


def card_number(session: Session, serial: str) -> str:
    number = session.scalars(sa.select(Wallet.card_number).join(
        WalletPass, WalletPass.wallet_id == Wallet.id).where(WalletPass.serial == serial)).one()
    assert number is not None and len(number) == 12
    return number


def verify_signature(files: dict[str, bytes], keys: PassKeys, folder: Path) -> None:
    """openssl checks the detached signature of manifest.json up to the test CA."""
    (folder / "manifest.json").write_bytes(files["manifest.json"])
    (folder / "signature").write_bytes(files["signature"])
    done = subprocess.run(  # noqa: S603
        ["openssl", "smime", "-verify", "-binary", "-inform", "DER",  # noqa: S607
         "-content", str(folder / "manifest.json"), "-CAfile", str(keys.ca),
         "-in", str(folder / "signature"), "-purpose", "any", "-out", "/dev/null"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Verification successful" in done.stderr


def test_buttons_are_hidden_and_routes_absent_without_keys(
    client: FlaskClient, session: Session
) -> None:
    collect(client, make_shop(session), 1000)
    page = client.get("/wallet?lang=en").get_data(as_text=True)
    assert "Show my card for the till" in page
    assert "Apple Wallet" not in page and "Google Wallet" not in page
    assert client.get("/wallet/pass.pkpass").status_code == 404
    assert client.get("/wallet/google-wallet").status_code == 404


def test_the_pass_is_signed_and_carries_the_card_and_balances(
    pass_app: Flask, session: Session, pass_keys: PassKeys, tmp_path: Path
) -> None:
    client = pass_app.test_client()
    shop = make_shop(session)
    points = collect(client, shop, 1250)
    assert points > 0
    page = client.get("/wallet?lang=nl").get_data(as_text=True)
    assert "Voeg toe aan Apple Wallet" in page and "Toevoegen aan Google Wallet" in page

    answer = client.get("/wallet/pass.pkpass")
    assert answer.status_code == 200
    assert answer.mimetype == "application/vnd.apple.pkpass"
    assert answer.last_modified is not None
    files = open_pkpass(answer.data)
    assert {"pass.json", "manifest.json", "signature", "icon.png",
            "nl.lproj/pass.strings", "fr.lproj/pass.strings"} <= set(files)

    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(files) - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest  # noqa: S324
    verify_signature(files, pass_keys, tmp_path)

    pass_json = json.loads(files["pass.json"])
    assert pass_json["passTypeIdentifier"] == PASS_TYPE_ID
    assert pass_json["teamIdentifier"] == TEAM_ID
    assert pass_json["organizationName"] == shop.scheme.name
    assert pass_json["webServiceURL"] == "https://sparen.example.be/api/v1/apple-wallet"
    serial = pass_json["serialNumber"]
    number = card_number(session, serial)
    assert pass_json["barcodes"][0] == {
        "format": "PKBarcodeFormatQR", "message": number, "messageEncoding": "iso-8859-1",
        "altText": f"{number[:4]} {number[4:8]} {number[8:]}",
    }
    fields = pass_json["storeCard"]
    assert fields["primaryFields"][0]["value"] == points
    value = fields["secondaryFields"][0]
    assert value["currencyCode"] == "EUR"
    assert value["value"] == points * shop.scheme.point_value_cents / 100
    assert fields["auxiliaryFields"][0]["value"] == shop.scheme.name
    for language in ("nl", "fr", "en"):  # every label the pass names, in each language
        strings = files[f"{language}.lproj/pass.strings"].decode()
        assert {line.split('"')[1] for line in strings.splitlines()} == set(LABEL_KEYS)
    assert '"points" = "Punten";' in files["nl.lproj/pass.strings"].decode()
    assert '"town" = "Commune";' in files["fr.lproj/pass.strings"].decode()

    # A second download is the same pass (one serial per wallet).
    again = json.loads(open_pkpass(client.get("/wallet/pass.pkpass").data)["pass.json"])
    assert again["serialNumber"] == serial


def test_the_google_wallet_link_is_a_jwt_of_the_loyalty_object(
    pass_app: Flask, session: Session, pass_keys: PassKeys
) -> None:
    client = pass_app.test_client()
    shop = make_shop(session)
    points = collect(client, shop, 1000)
    answer = client.get("/wallet/google-wallet?lang=en")
    assert answer.status_code == 303
    prefix = "https://pay.google.com/gp/v/save/"
    assert answer.location.startswith(prefix)
    token = answer.location.removeprefix(prefix)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, pass_keys.google_public_key, algorithms=["RS256"],
                        audience="google")
    assert claims["typ"] == "savetowallet"
    assert claims["iss"] == "wallet@lokaal-sparen-test.iam.gserviceaccount.com"
    assert claims["origins"] == ["https://sparen.example.be"]
    (loyalty_object,) = claims["payload"]["loyaltyObjects"]
    (loyalty_class,) = claims["payload"]["loyaltyClasses"]
    assert loyalty_object["classId"] == loyalty_class["id"]
    assert loyalty_object["id"].startswith(ISSUER_ID + ".")
    assert loyalty_class["programName"] == shop.scheme.name
    assert loyalty_object["loyaltyPoints"] == {"label": "Points", "balance": {"int": points}}
    number = card_number(session, loyalty_object["id"].split(".", 1)[1])
    spaced = f"{number[:4]} {number[4:8]} {number[8:]}"
    assert loyalty_object["barcode"] == {"type": "QR_CODE", "value": number,
                                         "alternateText": spaced}
    # Signed by the service account's key: another key does not verify it.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, stranger, algorithms=["RS256"], audience="google")
