"""For the wallet pass tests: throw-away keys (a CA, a WWDR-like intermediate and
a pass type certificate under it, as Apple's chain is, and a Google service
account key), an app configured with them, and a phone collecting points."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from flask import Flask
from flask.testing import FlaskClient

from lokaal_sparen.app import create_app
from tests.conftest import LiveServer, Mailbox, PublicHostClient, serve
from tests.factories import Shop
from tests.forms import csrf

PASS_TYPE_ID = "pass.be.example.lokaalsparen"
TEAM_ID = "TEAM123456"
ISSUER_ID = "3388000000012345678"


@dataclass(frozen=True)
class PassKeys:
    folder: Path
    ca: Path
    wwdr: Path
    certificate: Path
    key: Path
    service_account: Path
    google_public_key: Any

    def settings(self) -> dict[str, str]:
        return {
            "APPLE_PASS_TYPE_ID": PASS_TYPE_ID,
            "APPLE_TEAM_ID": TEAM_ID,
            "APPLE_PASS_CERT": str(self.certificate),
            "APPLE_PASS_KEY": str(self.key),
            "APPLE_PASS_KEY_PASSWORD": "pass-key-password",
            "APPLE_WWDR_CERT": str(self.wwdr),
            "GOOGLE_WALLET_ISSUER_ID": ISSUER_ID,
            "GOOGLE_WALLET_SERVICE_ACCOUNT": str(self.service_account),
        }


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str, key: rsa.RSAPrivateKey, issuer: str, issuer_key: rsa.RSAPrivateKey, *, ca: bool
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=False, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=True, crl_sign=True, encipher_only=False,
                          decipher_only=False),
            critical=True,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def pass_keys(tmp_path_factory: pytest.TempPathFactory) -> PassKeys:
    folder = tmp_path_factory.mktemp("pass-keys")
    ca_key, wwdr_key, pass_key, google_key = _key(), _key(), _key(), _key()
    ca = _certificate("Test Root CA", ca_key, "Test Root CA", ca_key, ca=True)
    wwdr = _certificate("Test WWDR Intermediate", wwdr_key, "Test Root CA", ca_key, ca=True)
    certificate = _certificate(f"Pass Type ID: {PASS_TYPE_ID}", pass_key,
                               "Test WWDR Intermediate", wwdr_key, ca=False)
    (folder / "ca.pem").write_bytes(_pem(ca))
    (folder / "wwdr.pem").write_bytes(_pem(wwdr))
    (folder / "pass.pem").write_bytes(_pem(certificate))
    (folder / "pass.key").write_bytes(pass_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass-key-password"),
    ))
    (folder / "service-account.json").write_text(json.dumps({
        "type": "service_account",
        "client_email": "wallet@lokaal-sparen-test.iam.gserviceaccount.com",
        "private_key": google_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    }))
    return PassKeys(folder, folder / "ca.pem", folder / "wwdr.pem", folder / "pass.pem",
                    folder / "pass.key", folder / "service-account.json",
                    google_key.public_key())


@pytest.fixture(scope="session")
def pass_server(
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    smtp_server: tuple[str, int, Mailbox],
    pass_keys: PassKeys,
) -> Iterator[LiveServer]:
    """`loyalty serve` with 4 workers and both wallet apps configured (http, as the
    browser tests' server: its passes carry no web service, the routes still answer)."""
    with serve(database_url, tmp_path_factory, smtp_server[2], pass_keys.settings(),
               workers=4) as server:
        yield server


@pytest.fixture
def pass_app(database_url: str, pass_keys: PassKeys) -> Iterator[Flask]:
    """The app with both wallet apps configured."""
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "PUBLIC_URL": "https://sparen.example.be",
        **pass_keys.settings(),
    })
    app.test_client_class = PublicHostClient
    yield app
    app.extensions["loyalty.engine"].dispose()


def collect(client: FlaskClient, shop: Shop, cents: int) -> int:
    """A sale at the shop's till, collected by the phone of ``client``; its points."""
    claim = client.post("/api/v1/claims", json={"amount_cents": cents}, headers=shop.headers).json
    assert claim is not None
    page = client.get(f"/c/{claim['token']}").get_data(as_text=True)
    answer = client.post(f"/c/{claim['token']}", data={"csrf_token": csrf(page)})
    assert answer.status_code == 200
    return int(claim["points"])


def open_pkpass(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
