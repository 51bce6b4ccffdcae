"""Opening the single-use token the layer seals to the agent's per-request key (crypto/tokens.ts).

X25519 between the sender's ephemeral key (`epk`) and the agent's key; HKDF-SHA256 with salt
epk ‖ the agent's public key and info "countersign token v1" gives a 32-byte key; AES-256-GCM with a
12-byte iv and the associated data "<workflowId>|<tokenId>" opens the box. The private half never
leaves this process, and neither it nor the opened token appears in a repr.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from .errors import ConsumeRefused
from .models import SealedToken

SEAL_ALG = "X25519-HKDF-SHA256-A256GCM"
HKDF_INFO = b"countersign token v1"
MAX_CIPHERTEXT_BYTES = 1024


@dataclass(frozen=True)
class AgentKey:
    """An X25519 key pair for one request: `public_key` (raw 32 bytes, base64) is the request's agentKey."""

    private_key: X25519PrivateKey = field(repr=False)
    public_key: str

    def private_pem(self) -> bytes:
        """PKCS#8 PEM, as the TypeScript SDK's file key store writes it."""
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    @classmethod
    def from_private_pem(cls, pem: bytes) -> AgentKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, X25519PrivateKey):
            raise ValueError("not an X25519 private key")
        return cls(private_key=key, public_key=_raw_public(key))


def _raw_public(key: X25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def generate_agent_key() -> AgentKey:
    key = X25519PrivateKey.generate()
    return AgentKey(private_key=key, public_key=_raw_public(key))


def _b64(text: str, what: str, size: int | None = None, max_size: int = MAX_CIPHERTEXT_BYTES) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ConsumeRefused("TOKEN_INVALID", f"The sealed token's {what} is not base64.") from None
    if (size is not None and len(raw) != size) or len(raw) > max_size:
        raise ConsumeRefused("TOKEN_INVALID", f"The sealed token's {what} has the wrong length ({len(raw)} bytes).")
    return raw


def seal_key(shared: bytes, epk: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=epk + recipient, info=HKDF_INFO).derive(shared)


def seal_aad(workflow_id: str, token_id: str) -> bytes:
    return f"{workflow_id}|{token_id}".encode()


def open_token(key: AgentKey, sealed: SealedToken, workflow_id: str, token_id: str) -> SecretStr:
    """The plaintext token; ConsumeRefused(TOKEN_INVALID) when the box was not sealed to this key or was altered."""
    if sealed.alg != SEAL_ALG:
        raise ConsumeRefused("TOKEN_INVALID", f"The token is sealed with {sealed.alg[:64]!r}, not {SEAL_ALG}.")
    epk = _b64(sealed.epk, "epk", 32)
    iv = _b64(sealed.iv, "iv", 12)
    tag = _b64(sealed.tag, "tag", 16)
    ciphertext = _b64(sealed.ciphertext, "ciphertext")
    recipient = base64.b64decode(key.public_key)
    try:
        shared = key.private_key.exchange(X25519PublicKey.from_public_bytes(epk))
        plaintext = AESGCM(seal_key(shared, epk, recipient)).decrypt(iv, ciphertext + tag, seal_aad(workflow_id, token_id))
    except (InvalidTag, ValueError):  # ValueError: a low-order epk gives no shared secret
        raise ConsumeRefused("TOKEN_INVALID", "The sealed token does not open with this request's key (sealed to another key, or altered).") from None
    return SecretStr(plaintext.decode("utf-8"))
