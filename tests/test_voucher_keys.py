"""Issuer keys: files with mode 0600 from the start, PEM round trips, clear errors."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sync.voucher import (
    KeyFileError,
    PrivateKey,
    PublicKey,
    kid_for,
    load_private_key,
    load_public_key,
)
from sync.voucher.keys import save_private_key, write_secret_file


def test_private_key_file_is_0600_and_round_trips(tmp_path: Path) -> None:
    key = PrivateKey.generate()
    path = tmp_path / "sub" / "issuer.pem"
    save_private_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_private_key(path).public == key.public
    assert [p.name for p in path.parent.iterdir()] == ["issuer.pem"]  # no temp file left


def test_secret_file_over_a_world_readable_file_becomes_0600(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_secret_file(path, b"new secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b"new secret"


def test_secret_file_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_secret_file(tmp_path / "k", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600


def test_repr_and_str_never_show_key_material() -> None:
    key = PrivateKey.generate()
    raw = key._key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    for shown in (repr(key), str(key), f"{key}"):
        assert raw.hex() not in shown and "PRIVATE" not in shown
        assert key.public.kid.hex() in shown


def test_public_pem_is_spki_and_round_trips() -> None:
    key = PrivateKey.generate()
    pem = key.public.to_pem()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert PublicKey.from_pem(pem) == key.public
    assert PublicKey.from_raw(key.public.raw) == key.public


def test_kid_is_the_first_8_bytes_of_sha256() -> None:
    raw = bytes(range(32))
    assert kid_for(raw) == hashlib.sha256(raw).digest()[:8]
    assert PublicKey.from_raw(PrivateKey.from_raw(raw).public.raw).kid == kid_for(
        PrivateKey.from_raw(raw).public.raw
    )


def test_bad_key_files_are_key_file_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError) as e:
        load_private_key(tmp_path / "missing.pem")
    assert e.value.reason == "key_unreadable"
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    for loader in (load_private_key, load_public_key):
        with pytest.raises(KeyFileError) as e:
            loader(junk)
        assert e.value.reason == "bad_key"
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_priv = tmp_path / "ec.pem"
    ec_priv.write_bytes(
        ec_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ec_pub = tmp_path / "ec.pub"
    ec_pub.write_bytes(
        ec_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(KeyFileError, match="not an Ed25519"):
        load_private_key(ec_priv)
    with pytest.raises(KeyFileError, match="not an Ed25519"):
        load_public_key(ec_pub)
    with pytest.raises(KeyFileError):
        PublicKey.from_raw(b"short")
