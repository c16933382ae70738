"""Ed25519 keys for issuers and devices: generation, files, PEM, key ids.

The kid in a voucher's protected header is the first 8 bytes of SHA-256 over
the issuer's raw 32-byte public key, so a kiosk can hold several trusted keys
(rotation) and pick the right one without trying each. Private keys are
written with mode 0600 from the first byte (``os.open`` with the mode, never
chmod afterwards) and are never put in logs or reprs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.fsutil import atomic_write

from .errors import KeyFileError

KID_LENGTH = 8


def kid_for(public_raw: bytes) -> bytes:
    """Key id: SHA-256 of the raw 32-byte public key, first 8 bytes."""
    return hashlib.sha256(public_raw).digest()[:KID_LENGTH]


@dataclass(frozen=True)
class PublicKey:
    """A trusted Ed25519 public key and its kid."""

    raw: bytes
    key: Ed25519PublicKey

    @property
    def kid(self) -> bytes:
        return kid_for(self.raw)

    @classmethod
    def from_raw(cls, raw: bytes) -> PublicKey:
        if len(raw) != 32:
            raise KeyFileError("bad_key", "an Ed25519 public key has 32 bytes")
        return cls(raw=bytes(raw), key=Ed25519PublicKey.from_public_bytes(raw))

    @classmethod
    def from_pem(cls, pem: bytes) -> PublicKey:
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError) as exc:
            raise KeyFileError("bad_key", "not a PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError("bad_key", "the PEM key is not an Ed25519 key")
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(raw=raw, key=key)

    def to_pem(self) -> bytes:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            self.key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


class PrivateKey:
    """An Ed25519 signing key. Its repr never shows key material."""

    __slots__ = ("_key",)

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_raw(cls, raw: bytes) -> PrivateKey:
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def __repr__(self) -> str:
        return f"PrivateKey(kid={self.public.kid.hex()})"

    @property
    def public(self) -> PublicKey:
        pub = self._key.public_key()
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return PublicKey(raw=raw, key=pub)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def to_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, pem: bytes) -> PrivateKey:
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError("bad_key", "not an unencrypted PEM private key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError("bad_key", "the PEM key is not an Ed25519 key")
        return cls(key)


def write_secret_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 from creation (no readable window)."""
    atomic_write(path, data, 0o600)


def save_private_key(path: Path, key: PrivateKey) -> None:
    write_secret_file(path, key.to_pem())


def _read_key_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(
            "key_unreadable", f"cannot read key file {path}: {exc.strerror}"
        ) from exc


def load_private_key(path: Path) -> PrivateKey:
    return PrivateKey.from_pem(_read_key_file(path))


def load_public_key(path: Path) -> PublicKey:
    return PublicKey.from_pem(_read_key_file(path))
