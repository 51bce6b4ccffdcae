"""The sealed token opens exactly as crypto/tokens.ts seals it, and nothing else opens."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from countersign import AgentKey, ConsumeRefused, FileKeyStore, SealedToken, generate_agent_key, open_token
from countersign.sealing import seal_aad, seal_key


def seal(agent_key: str, plaintext: str, workflow_id: str, token_id: str) -> SealedToken:
    """sealToAgent (crypto/tokens.ts), step for step."""
    recipient = base64.b64decode(agent_key)
    ephemeral = X25519PrivateKey.generate()
    epk = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
    iv = os.urandom(12)
    box = AESGCM(seal_key(shared, epk, recipient)).encrypt(iv, plaintext.encode(), seal_aad(workflow_id, token_id))
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return SealedToken(alg="X25519-HKDF-SHA256-A256GCM", epk=b64(epk), iv=b64(iv), ciphertext=b64(box[:-16]), tag=b64(box[-16:]))


def test_a_token_sealed_to_this_key_opens_to_a_secret() -> None:
    key = generate_agent_key()
    opened = open_token(key, seal(key.public_key, "cst_secret-value", "cs-a-0123456789abcdef", "tok_1"), "cs-a-0123456789abcdef", "tok_1")
    assert opened.get_secret_value() == "cst_secret-value"
    assert "cst_secret-value" not in repr(opened) and "cst_secret-value" not in str(opened)


def test_another_key_another_request_or_an_altered_box_does_not_open() -> None:
    key = generate_agent_key()
    sealed = seal(key.public_key, "cst_x", "cs-a-1", "tok_1")
    cases = [
        (generate_agent_key(), sealed, "cs-a-1", "tok_1"),
        (key, sealed, "cs-a-2", "tok_1"),
        (key, sealed, "cs-a-1", "tok_2"),
        (key, sealed.model_copy(update={"tag": base64.b64encode(b"\0" * 16).decode()}), "cs-a-1", "tok_1"),
        (key, sealed.model_copy(update={"iv": "not base64!"}), "cs-a-1", "tok_1"),
        (key, sealed.model_copy(update={"epk": base64.b64encode(b"\0" * 32).decode()}), "cs-a-1", "tok_1"),
        (key, sealed.model_copy(update={"ciphertext": base64.b64encode(b"x" * 5000).decode()}), "cs-a-1", "tok_1"),
    ]
    for k, box, workflow_id, token_id in cases:
        with pytest.raises(ConsumeRefused) as refused:
            open_token(k, box, workflow_id, token_id)
        assert refused.value.code == "TOKEN_INVALID"


def test_keys_round_trip_through_pkcs8_pem_files_kept_private(tmp_path: Path) -> None:
    key = generate_agent_key()
    assert len(base64.b64decode(key.public_key)) == 32
    assert AgentKey.from_private_pem(key.private_pem()).public_key == key.public_key
    store = FileKeyStore(tmp_path / "keys")
    store.put("cs-support-bot-0123456789abcdef", key)
    assert stat.S_IMODE(os.stat(tmp_path / "keys").st_mode) == 0o700
    [file] = list((tmp_path / "keys").iterdir())
    assert stat.S_IMODE(os.stat(file).st_mode) == 0o600
    assert file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = store.get("cs-support-bot-0123456789abcdef")
    assert loaded is not None and loaded.public_key == key.public_key
    store.delete("cs-support-bot-0123456789abcdef")
    assert store.get("cs-support-bot-0123456789abcdef") is None
    assert "PRIVATE" not in repr(key) and "private_key" not in repr(key)
