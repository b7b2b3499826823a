"""Fixtures of the Salesforce connector tests: the fixture org, a fake HTTPS API trusted by a test CA."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
import ssl
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer

from tests.sources.salesforce.fake_api import FakeSalesforce
from tests.sources.salesforce.org import FIXTURE

TOKEN = "00DHs000000FAKE!AQEAQFakeSessionTokenThatMustNeverLeak.0123456789"
PASSWORD = "Hunter2-never-printed"
SECURITY_TOKEN = "SecTokNeverPrinted42"

__all__ = ["FIXTURE", "PASSWORD", "SECURITY_TOKEN", "TOKEN", "accounts", "digest"]


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for localhost / 127.0.0.1 signed by it: (ca.pem, cert.pem, key.pem)."""
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    start, end = now - dt.timedelta(days=3650), now + dt.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csmetrics test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HTTPServer, Path]]:
    """An HTTPS loopback server (its certificate signed by a test CA) and the CA file that trusts it."""
    ca, cert, key = _certificates(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="localhost", port=0, ssl_context=context)
    server.start()
    try:
        yield server, ca
    finally:
        server.clear()
        if server.is_running():
            server.stop()


@pytest.fixture
def fake() -> FakeSalesforce:
    return FakeSalesforce()


@pytest.fixture
def org_dir() -> Path:
    return FIXTURE


@pytest.fixture
def api(tls: tuple[HTTPServer, Path], fake: FakeSalesforce, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The fake instance URL (https://localhost:PORT), with a session in the environment; requests trust the CA."""
    server, ca = tls
    server.clear()
    server.expect_request(re.compile(r"^/services/.*")).respond_with_handler(fake)
    monkeypatch.setenv("SALESFORCE_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))  # requests (inside simple-salesforce) trusts the test CA
    yield f"https://localhost:{server.port}"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def accounts(ws: Path, cols: str = "account_id, name, created_at, segment, csm, industry, source"
             ) -> dict[str, tuple[object, ...]]:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        return {r[0]: tuple(r[1:]) for r in con.execute(f"SELECT {cols} FROM accounts ORDER BY account_id"
                                                        ).fetchall()}
    finally:
        con.close()
