"""The plaintext token, the API key and the per-request private keys never reach a log line, a repr or
an exception message, however the agent's path goes."""

from __future__ import annotations

import base64
import logging

import pytest
from cryptography.hazmat.primitives import serialization

from conftest import live, refund_request
from countersign import ConsumeRefused, Countersign, CountersignError, Unauthenticated


def test_no_secret_in_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    api_key = live("COUNTERSIGN_API_KEY")
    caplog.set_level(logging.DEBUG)  # httpx, httpcore and ours, at their most talkative
    seen: list[str] = []
    with Countersign() as cs:
        request = cs.submit(refund_request(40))
        key = cs.keys.get(request.workflow_id)
        assert key is not None
        raw_private = key.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        token = request.open_token()
        assert token is not None
        secrets = {
            "token": token.get_secret_value(),
            "api key": api_key,
            "private key (base64)": base64.b64encode(raw_private).decode(),
            "private key (hex)": raw_private.hex(),
            "private key (PEM body)": key.private_pem().decode().splitlines()[1],
        }
        body = request.consume_body(None, None)
        seen += [repr(cs), str(cs), repr(request), repr(key), repr(token), str(token), repr(body), str(body), repr(body.model_dump()), repr(cs.keys), repr(request.outcome)]
        request.consume()
        errors: list[CountersignError] = []
        try:
            request.consume(token=token)
        except ConsumeRefused as err:
            errors.append(err)
        try:
            request.consume(request.request.payload | {"amount": 1}, token=token)
        except ConsumeRefused as err:
            errors.append(err)
        with Countersign(api_key=api_key + "x") as wrong:
            seen.append(repr(wrong))
            try:
                wrong.consume(request.workflow_id, body)
            except Unauthenticated as err:
                errors.append(err)
        assert len(errors) == 3
        seen += [repr(e) for e in errors] + [str(e) for e in errors] + [repr(e.problem) for e in errors] + [repr(e.__dict__) for e in errors]
    seen.append(caplog.text)
    assert caplog.records, "the HTTP client logged (so the check below looked at something)"
    for name, secret in secrets.items():
        for text in seen:
            assert secret not in text, f"the {name} appears in: {text[:200]}"
