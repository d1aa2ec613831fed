"""RSA key pairs for actors: generation, PEM encoding and loading (with a cache)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes


@dataclass(frozen=True)
class KeyPair:
    """A PEM-encoded key pair: PKCS#8 private key, SubjectPublicKeyInfo public key."""

    private_pem: str
    public_pem: str


class KeyGenerator(Protocol):
    """Makes a fresh key pair; injected so tests can use fixed keys."""

    def __call__(self) -> KeyPair: ...


def generate_rsa_keypair(bits: int = 2048) -> KeyPair:
    """Generate an RSA key pair (2048 bits, e=65537, as Mastodon does)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return KeyPair(private_pem=private_pem, public_pem=public_pem_of(key.public_key()))


def public_pem_of(key: PublicKeyTypes) -> str:
    """Encode a public key as SubjectPublicKeyInfo PEM."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


@lru_cache(maxsize=4096)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Load a PEM private key once: validating an RSA key costs ~100 signatures' worth of CPU."""
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(pem: str) -> PublicKeyTypes:
    """Load a PEM public key: SubjectPublicKeyInfo, or PKCS#1 as Mobilizon sends."""
    return serialization.load_pem_public_key(pem.strip().encode("ascii"))


def key_fetch_url(key_id: str) -> str | None:
    """The URL to fetch for a signature's keyId (its fragment dropped), or None when the keyId is
    no absolute http(s) URL with a host: a peer's text, which must never raise."""
    try:
        parts = urlsplit(key_id)
        has_host = bool(parts.hostname) and parts.port != 0
    except ValueError:  # "http://[x": an unclosed IPv6 literal; a port that is no port number
        return None
    if parts.scheme.lower() not in ("http", "https") or not has_host:
        return None
    return urlunsplit(parts._replace(fragment=""))
