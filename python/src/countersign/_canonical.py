"""RFC 8785 canonical JSON and the digests countersign binds tokens to (common/canonical.ts, common/digest.ts).

Keys are sorted by UTF-16 code units; numbers and strings are written as ECMAScript's JSON.stringify
writes them, so a digest computed here is the server's digest for the same value.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 64

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\\ud800-\udfff]')


def _string(text: str) -> str:
    def escape(match: re.Match[str]) -> str:
        char = match.group(0)
        return _ESCAPES.get(char) or f"\\u{ord(char):04x}"

    return f'"{_NEEDS_ESCAPE.sub(escape, text)}"'


def _number(value: float) -> str:
    """ECMAScript Number::toString for a finite double: the shortest round-trip digits, placed as JS places them."""
    if not math.isfinite(value):
        raise ValueError("canonical JSON cannot encode a non-finite number")
    if value == 0:
        return "0"  # -0 too, as JSON.stringify writes it
    sign = "-" if value < 0 else ""
    digits_tuple = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(str(d) for d in digits_tuple.digits).rstrip("0")
    exponent = int(digits_tuple.exponent) + (len(digits_tuple.digits) - len(digits))
    k = len(digits)
    n = k + exponent  # value = 0.digits × 10^n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def _sort_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def canonical_json(value: Any, _depth: int = 0) -> str:
    """The RFC 8785 canonical JSON of a JSON value (dict, list, str, int, float, bool, None)."""
    if _depth > MAX_DEPTH:
        raise ValueError(f"canonical JSON refuses values nested more than {MAX_DEPTH} levels deep")
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError("an integer outside ±(2^53 − 1) cannot be kept exactly by every JSON reader: send it as a string")
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        entries = []
        for key in sorted(value.keys(), key=_sort_key_checked):
            entries.append(f"{_string(key)}:{canonical_json(value[key], _depth + 1)}")
        return "{" + ",".join(entries) + "}"
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return "[" + ",".join(canonical_json(v, _depth + 1) for v in value) + "]"
    raise TypeError(f"canonical JSON cannot encode a {type(value).__name__}")


def _sort_key_checked(key: object) -> bytes:
    if not isinstance(key, str):
        raise TypeError(f"canonical JSON object keys must be strings, got {type(key).__name__}")
    return _sort_key(key)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _resource_json(resource: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if v is not None}


def action_digest(action: str, resource: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of {action, resource, payload} (DESIGN §2): what a token is bound to."""
    return sha256_hex(canonical_json({"action": action, "resource": _resource_json(resource), "payload": payload}))


def request_id_for(agent_id: str, task_id: str, digest: str) -> str:
    """The 16-hex request id: the same for the same agent, task and action digest."""
    return sha256_hex(canonical_json([agent_id, task_id, digest]))[:16]


def approval_workflow_id(agent_id: str, task_id: str, action: str, resource: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """cs-<agentId>-<request id>: the workflow the same action, submitted twice, joins."""
    return f"cs-{agent_id}-{request_id_for(agent_id, task_id, action_digest(action, resource, payload))}"
