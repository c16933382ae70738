"""HTTPS between kiosk and server: a self-signed CA, verified, and clear words when not."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from syncsupport import Central, ThreadServer

from kiosk.engine.service import KioskService
from kiosk.enrollment import enroll
from kiosk.http import SyncError
from kiosk.syncer import SyncEngine

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca_and_cert(
    folder: Path, names: list[str], *, expired: bool = False
) -> tuple[Path, Path, Path]:
    """A CA (like a union's own) and a server certificate it signed, as PEM files."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("CinePass Test CA"))
        .issuer_name(_name("CinePass Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for n in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            sans.append(x509.DNSName(n))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30 if expired else 0, hours=1))
        .not_valid_after(now + (dt.timedelta(days=-1) if expired else dt.timedelta(days=7)))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


@pytest.fixture
def tls_central(central_db: Central, tmp_path: Path) -> Iterator[tuple[Central, Path]]:
    ca, cert, key = make_ca_and_cert(tmp_path, ["localhost"])
    srv = ThreadServer(central_db.engine, ssl=(str(cert), str(key))).start()
    central_db.server, central_db.url = srv, srv.url
    yield central_db, ca
    srv.stop()


def test_custom_ca_bundle_is_verified_and_used_for_sync(
    tls_central: tuple[Central, Path], tmp_path: Path
) -> None:
    central, ca = tls_central
    assert central.url.startswith("https://localhost:")
    [token] = central.issue(1)
    home = tmp_path / "k"
    info = enroll(home, central.url, central.code("CIN-A"), ca_bundle=str(ca))
    assert info["cinema"] == "CIN-A"
    with KioskService.open(home) as svc:
        assert svc.config.ca_bundle == str(ca)
        assert svc.redeem(token, fmt="2D").accepted
    engine = SyncEngine(home)
    try:
        r = engine.sync_now()
    finally:
        engine.stop()
    assert r.ok and r.uploaded == 1


def test_untrusted_certificate_is_explained(
    tls_central: tuple[Central, Path], tmp_path: Path
) -> None:
    central, _ca = tls_central
    with pytest.raises(SyncError) as exc:
        enroll(tmp_path / "k", central.url, central.code("CIN-A"))
    assert exc.value.reason == "tls_untrusted"
    assert "not trusted" in exc.value.message and "ca_bundle" in exc.value.message
    assert not (tmp_path / "k" / "config.json").exists()


def test_wrong_host_name_is_explained(tls_central: tuple[Central, Path], tmp_path: Path) -> None:
    central, ca = tls_central
    url = central.url.replace("localhost", "127.0.0.1")  # the certificate names localhost only
    with pytest.raises(SyncError) as exc:
        enroll(tmp_path / "k", url, central.code("CIN-A"), ca_bundle=str(ca))
    assert exc.value.reason == "tls_wrong_host"
    assert "not issued for 127.0.0.1" in exc.value.message


def test_expired_certificate_is_explained(central_db: Central, tmp_path: Path) -> None:
    ca, cert, key = make_ca_and_cert(tmp_path, ["localhost"], expired=True)
    srv = ThreadServer(central_db.engine, ssl=(str(cert), str(key))).start()
    try:
        with pytest.raises(SyncError) as exc:
            enroll(tmp_path / "k", srv.url, central_db.code("CIN-A"), ca_bundle=str(ca))
    finally:
        srv.stop()
    assert exc.value.reason == "tls_expired" and "expired" in exc.value.message
