"""Event payloads encrypted at rest, with key rotation.

The eventsourcing library encrypts each stored event's state with AES-GCM when
its environment names a cipher (``CIPHER_TOPIC``) and a key (``CIPHER_KEY``);
orderflow uses the library's ``eventsourcing.cryptography:AESCipher`` (the
``cryptography`` package) through :class:`RotatingAESCipher`, which adds key
rotation: it encrypts with the newest key and decrypts with any listed key
(newest first; AES-GCM's tag tells a wrong key from the right one). Its stored
form is the library's (nonce, tag, ciphertext), so events written by the
library's own cipher under a listed key stay readable.

Off by default (the embedded demo); on with ``ORDERFLOW_CIPHER_KEY`` (see
docs/security.md for rotation).
"""

from __future__ import annotations

from base64 import b64decode
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.cryptography import AESCipher

CIPHER_TOPIC = "orderflow.application.ciphers:RotatingAESCipher"
OLD_KEYS = "CIPHER_OLD_KEYS"
"""The environment variable of the library's environment that lists the older keys (comma-separated)."""


def cipher_env(keys: tuple[str, ...] | list[str]) -> dict[str, str]:
    """The library environment that encrypts with ``keys[0]`` and reads any of ``keys``; empty: no cipher."""
    if not keys:
        return {}
    for key in keys:
        check_key(key)
    return {"CIPHER_TOPIC": CIPHER_TOPIC, "CIPHER_KEY": keys[0], OLD_KEYS: ",".join(keys[1:])}


def check_key(key: str) -> bytes:
    """The key's bytes; ``ValueError`` (naming no key material) unless it is base64 of 16, 24 or 32 bytes."""
    try:
        raw = b64decode(key.encode(), validate=True)
    except ValueError:
        raise ValueError("a cipher key must be base64 (e.g. from `orderflow new-key`)") from None
    if len(raw) not in AESCipher.KEY_SIZES:
        raise ValueError(f"a cipher key must be 16, 24 or 32 bytes (base64), not {len(raw)} bytes")
    return raw


def new_key() -> str:
    """A fresh 256-bit key, base64."""
    return AESCipher.create_key(32)


class RotatingAESCipher(AESCipher):
    """AES-GCM: encrypt with the newest key (``CIPHER_KEY``), decrypt with it or any of ``CIPHER_OLD_KEYS``."""

    def __init__(self, environment: Any):
        super().__init__(environment)
        old = [k.strip() for k in (environment.get(OLD_KEYS) or "").split(",") if k.strip()]
        self._readers = [AESGCM(self.key), *(AESGCM(check_key(k)) for k in old)]

    def decrypt(self, ciphertext: bytes) -> bytes:
        nonce, tag, encrypted = ciphertext[:12], ciphertext[12:28], ciphertext[28:]
        if len(nonce) != 12 or len(tag) != 16:
            raise ValueError("damaged cipher text: too short")
        for reader in self._readers:
            try:
                return reader.decrypt(nonce, encrypted + tag, None)
            except InvalidTag:
                continue
        raise ValueError("no configured cipher key decrypts this event (ORDERFLOW_CIPHER_KEY, ORDERFLOW_CIPHER_OLD_KEYS)")
