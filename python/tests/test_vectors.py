"""docs/vectors/sealed-token.json (docs/sealing.md), the vector the TypeScript tests check too: the
sealed grant opens to its token step by step, and the canonical JSON, digests, ids and consume body
are byte for byte the same. Collected when the file is there; pytest's warnings say so when it is not."""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from pydantic import SecretStr

from countersign import AgentKey, SealedToken, SubmitBody, SubmitState, action_digest, approval_workflow_id, canonical_json, open_token, request_id_for
from countersign._core import RequestCore, wire
from countersign.keys import MemoryKeyStore
from countersign.sealing import HKDF_INFO, seal_aad, seal_key

VECTOR = Path(__file__).resolve().parents[2] / "docs" / "vectors" / "sealed-token.json"

if not VECTOR.exists():
    warnings.warn(UserWarning(f"{VECTOR} is not there: the sealing vector is not checked"), stacklevel=1)
else:
    V: dict[str, Any] = json.loads(VECTOR.read_text(encoding="utf-8"))

    def _agent_key() -> AgentKey:
        private = X25519PrivateKey.from_private_bytes(base64.b64decode(V["agentKey"]["privateKey"]))
        return AgentKey.from_private_pem(AgentKey(private_key=private, public_key=V["agentKey"]["publicKey"]).private_pem())

    def test_the_vector_s_grant_opens_step_by_step_to_its_token() -> None:
        key = _agent_key()
        assert key.public_key == V["agentKey"]["publicKey"]
        sealed = SealedToken.model_validate(V["grant"]["sealed"])
        epk, recipient = base64.b64decode(sealed.epk), base64.b64decode(key.public_key)
        shared = key.private_key.exchange(X25519PublicKey.from_public_bytes(epk))
        steps = V["steps"]
        assert shared.hex() == steps["sharedSecret"]
        assert (epk + recipient).hex() == steps["hkdfSalt"] and HKDF_INFO.decode() == steps["hkdfInfo"]
        assert seal_key(shared, epk, recipient).hex() == steps["aesKey"]
        assert seal_aad(V["workflowId"], V["grant"]["tokenId"]).decode() == steps["aad"]
        token = open_token(key, sealed, V["workflowId"], V["grant"]["tokenId"])
        assert token.get_secret_value() == V["token"]
        assert hashlib.sha256(V["token"].encode()).hexdigest() == V["tokenHash"]

    def test_the_vector_s_digest_ids_and_consume_body() -> None:
        c = V["consume"]
        request = c["request"]
        assert canonical_json({"action": request["action"], "resource": request["resource"], "payload": request["payload"]}) == c["canonicalJson"]
        digest = action_digest(request["action"], request["resource"], request["payload"])
        assert digest == c["actionDigest"]
        assert request_id_for(c["agentId"], request["taskId"], digest) == c["requestId"]
        assert approval_workflow_id(c["agentId"], request["taskId"], request["action"], request["resource"], request["payload"]) == V["workflowId"]
        body = SubmitBody.model_validate({**request, "agentId": c["agentId"]})
        state = SubmitState.model_validate({"requestId": c["requestId"], "workflowId": V["workflowId"], "status": "approved"})
        consume = RequestCore(body, state, MemoryKeyStore()).consume_body(request["payload"], SecretStr(V["token"]))
        assert wire(consume) == c["body"]

    def test_the_vector_s_canonical_json_cases() -> None:
        for case in V["canonicalJson"]:
            text = canonical_json(json.loads(case["json"]))
            assert text == case["canonical"], case["json"]
            assert hashlib.sha256(text.encode()).hexdigest() == case["sha256"]
