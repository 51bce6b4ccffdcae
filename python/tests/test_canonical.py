"""Canonical JSON and digests, byte for byte with common/canonical.ts and common/digest.ts: RFC 8785's
own examples, and the server's workflow id for a payload full of edge cases."""

from __future__ import annotations

import struct

import pytest

from conftest import refund_request
from countersign import Countersign, action_digest, approval_workflow_id, canonical_json, request_id_for

# RFC 8785 Appendix B: IEEE 754 doubles and the text ECMAScript writes for them.
NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("ieee", "text"), NUMBERS)
def test_numbers_are_written_as_ecmascript_writes_them(ieee: str, text: str) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(ieee))
    assert canonical_json(value) == text


def test_keys_sort_by_utf16_code_units_rfc8785_3_2_3() -> None:
    value = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "\u00f6": 7}
    assert canonical_json(value) == '{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\U0001f600":5,"\ufb33":3}'


def test_strings_escape_as_json_stringify_does() -> None:
    assert canonical_json("\u20ac$\u000f\nA'B\"\\\\\"/") == '"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'
    assert canonical_json("\x7f\u2028\ud800") == '"\x7f\u2028\\ud800"'
    assert canonical_json({"b": [True, False, None, 1, 1.5], "a": {}}) == '{"a":{},"b":[true,false,null,1,1.5]}'


def test_what_json_cannot_keep_exactly_is_refused() -> None:
    for bad in (float("nan"), float("inf"), 2**53, -(2**53)):
        with pytest.raises(ValueError):
            canonical_json(bad)
    with pytest.raises(TypeError):
        canonical_json({1: "a"})
    with pytest.raises(TypeError):
        canonical_json(b"bytes")
    nested: object = []
    for _ in range(100):
        nested = [nested]
    with pytest.raises(ValueError, match="nested"):
        canonical_json(nested)


def test_digests_and_ids_are_the_typescript_ones() -> None:
    # Fixed by common/digest.ts for this action: sha256 of {"action":…,"payload":…,"resource":…}.
    digest = action_digest("payments.refund", {"type": "customer", "id": "C-42", "owner": None}, {"amount": 120, "currency": "USD"})
    assert digest == __import__("hashlib").sha256(b'{"action":"payments.refund","payload":{"amount":120,"currency":"USD"},"resource":{"id":"C-42","type":"customer"}}').hexdigest()
    assert request_id_for("support-bot", "t-1", digest) == __import__("hashlib").sha256(f'["support-bot","t-1","{digest}"]'.encode()).hexdigest()[:16]
    assert approval_workflow_id("support-bot", "t-1", "payments.refund", {"type": "customer", "id": "C-42"}, {"amount": 120, "currency": "USD"}) == f"cs-support-bot-{request_id_for('support-bot', 't-1', digest)}"


def test_the_server_computes_the_same_workflow_id_and_digest_for_an_awkward_payload(cs: Countersign) -> None:
    body = refund_request(0.1 + 0.2)
    body["payload"]["order"] = "Ö€😀\n\u000f\"\\ \u2028 end"
    body["summary"] = "Refund with an awkward order id"
    # submit() refuses a state whose workflow id differs from the one computed here (DIGEST_DISAGREEMENT).
    request = cs.submit(body)
    assert request.status == "approved"
    receipt = request.consume()  # the server recomputes the digest the token is bound to
    assert receipt.body.action_digest == action_digest("payments.refund", body["resource"], body["payload"])
    request.report("succeeded")
