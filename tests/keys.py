"""Throwaway keys for the JWT bearer tests, made once per test run (never committed)."""

from __future__ import annotations

from functools import cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


@cache
def rsa_key_pair(name: str = "main") -> tuple[str, str]:
    """(private PEM, public PEM) of a 2048-bit RSA key; one per name."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private, public


@cache
def ec_private_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def key_body_lines(pem: str) -> list[str]:
    """The base64 lines of a PEM block: none of them may appear in any output."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]
