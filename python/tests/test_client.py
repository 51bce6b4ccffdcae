"""The agent's path against the live server: submit, wait, consume, report, evidence, and each refusal
with its reason code and RFC 9457 problem."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from conftest import Reviewer, live, refund_request, unique
from countersign import (
    AsyncCountersign,
    ConsumeRefused,
    Countersign,
    FileKeyStore,
    Forbidden,
    InvalidRequest,
    NotFound,
    Problem,
    Unauthenticated,
    action_digest,
)


def test_whoami_names_the_key_s_agent(cs: Countersign) -> None:
    me = cs.whoami()
    assert (me.role, me.name) == ("agent", "support-bot")


def test_auto_allow_opens_the_sealed_token_and_consumes_it(cs: Countersign) -> None:
    request = cs.submit(refund_request(40))
    assert request.status == "approved"
    assert request.outcome is not None and request.outcome.decided_by == "policy"
    assert request.outcome.rule_ids == ["refund-small"]
    token = request.open_token()
    assert isinstance(token, SecretStr) and token.get_secret_value().startswith("cst_")
    receipt = request.consume()
    payload = request.request.payload
    assert receipt.body.action_digest == action_digest("payments.refund", {"type": "customer", "id": "C-42"}, payload)
    assert receipt.body.agent_id == "support-bot" and receipt.body.workflow_id == request.workflow_id
    assert request.open_token() is None, "the spent token's key is gone"
    request.report("succeeded")
    outcome = cs.outcome(request.workflow_id)
    assert outcome.status == "executed"
    assert outcome.execution is not None and outcome.execution.status == "succeeded"
    assert outcome.execution.receipt_id == receipt.body.receipt_id


def test_a_deny_carries_its_reason_code_and_no_token(cs: Countersign) -> None:
    request = cs.submit(refund_request(20_000))
    assert request.status == "denied"
    assert request.outcome is not None
    assert request.outcome.code == "POLICY_DENIED"
    assert request.outcome.message == "Refunds over 10,000 are never automated."
    assert request.outcome.token is None and request.open_token() is None
    with pytest.raises(ConsumeRefused) as refused:
        request.consume()
    assert refused.value.code == "TOKEN_INVALID"


def test_a_review_approved_with_the_cli_ends_the_agent_s_wait_and_the_token_is_consumed(cs: Countersign, review: Reviewer) -> None:
    request = cs.submit(refund_request(450))
    assert request.status == "pending"
    assert request.outcome is None and request.open_token() is None and request.deadline
    waited: list[Any] = []
    waiter = threading.Thread(target=lambda: waited.append(request.wait(60)))
    waiter.start()
    assert "Approved request" in review(request.request_id, reviewer="dave")
    waiter.join(90)
    assert waited, "the wait returned"
    assert request.status == "approved"
    assert request.outcome is not None and request.outcome.reviewers == ["dave"] and request.outcome.decided_by == "reviewers"
    receipt = request.consume()
    request.report("succeeded")
    assert cs.outcome(request.workflow_id).execution.receipt_id == receipt.body.receipt_id  # type: ignore[union-attr]


def test_a_reviewer_s_edit_is_what_consumes_the_original_payload_is_a_binding_mismatch(cs: Countersign, review: Reviewer, tmp_path: Path) -> None:
    request = cs.submit(refund_request(450))
    edited = {**request.request.payload, "amount": 300}
    edit = tmp_path / "edit.json"
    edit.write_text(__import__("json").dumps(edited))
    review(request.request_id, "approve", "--edit", str(edit), reviewer="erin")
    request.wait(30)
    assert request.status == "approved" and request.outcome is not None and request.outcome.edited
    assert request.outcome.payload == edited
    with pytest.raises(ConsumeRefused) as refused:
        request.consume(request.request.payload)
    assert refused.value.code == "BINDING_MISMATCH"
    request.consume()  # the approved (edited) payload
    request.report("succeeded")


def test_a_binding_mismatch_is_refused_and_spends_nothing(cs: Countersign) -> None:
    request = cs.submit(refund_request(40))
    other = {**request.request.payload, "amount": 41}
    with pytest.raises(ConsumeRefused) as refused:
        request.consume(other)
    err = refused.value
    assert err.code == "BINDING_MISMATCH" and err.status == 409
    assert isinstance(err.problem, Problem) and err.problem.code == "BINDING_MISMATCH" and err.problem.status == 409
    assert "payload digest" in err.message
    request.consume()  # the token still serves the action it approves
    request.report("succeeded")


def test_a_double_consume_is_refused(cs: Countersign) -> None:
    request = cs.submit(refund_request(40))
    token = request.open_token()
    request.consume()
    with pytest.raises(ConsumeRefused) as refused:
        request.consume(token=token)
    assert refused.value.code == "TOKEN_CONSUMED" and refused.value.status == 409
    assert refused.value.problem is not None and refused.value.problem.type.endswith("/token-consumed")


def test_a_wrong_api_key_is_refused() -> None:
    with Countersign(url=live("COUNTERSIGN_URL"), api_key="cs_agent_not-a-real-key") as wrong:
        with pytest.raises(Unauthenticated) as refused:
            wrong.submit(refund_request(40))
    err = refused.value
    assert err.code == "UNAUTHENTICATED" and err.status == 401
    assert err.problem is not None and err.problem.title == "Not authenticated"


def test_another_agent_cannot_see_or_spend_this_agent_s_request(cs: Countersign) -> None:
    request = cs.submit(refund_request(40))
    with Countersign(api_key=live("COUNTERSIGN_TEST_OTHER_API_KEY")) as other:
        assert other.agent_id == "ops-bot"
        with pytest.raises(NotFound):
            other.state(request.workflow_id)
        with pytest.raises(NotFound):
            other.consume(request.workflow_id, request.consume_body(None, None))
    request.consume()


def test_a_request_naming_another_agent_is_forbidden(cs: Countersign) -> None:
    with pytest.raises(Forbidden) as refused:
        cs.submit(refund_request(40, agentId="ops-bot"))
    assert refused.value.status == 403 and "only as itself" in refused.value.message


def test_bad_input_is_one_sentence_naming_the_field_here_or_at_the_server(cs: Countersign) -> None:
    with pytest.raises(InvalidRequest) as local:
        cs.submit(refund_request(40, action="refund"))
    assert local.value.code == "INVALID_REQUEST" and local.value.message.startswith('Field "action"')
    assert local.value.status is None, "refused before anything was sent"
    bad = refund_request(40)
    bad["payload"] = {**bad["payload"], "amount": "40"}
    with pytest.raises(InvalidRequest) as remote:
        cs.submit(bad)  # the server's action catalog refuses it
    assert remote.value.status == 422 and "payload.amount" in remote.value.message
    assert isinstance(remote.value.problem, Problem) and remote.value.problem.code == "INVALID_REQUEST"


def test_an_unsafe_integer_is_refused_before_anything_is_sent(cs: Countersign) -> None:
    bad = refund_request(40)
    bad["payload"] = {**bad["payload"], "order": 2**60}
    with pytest.raises(InvalidRequest, match="2\\^53"):
        cs.submit(bad)


def test_the_same_request_asked_again_gets_its_final_decision_and_never_a_second_token(cs: Countersign) -> None:
    body = refund_request(40)
    first = cs.submit(body)
    first.consume()
    first.report("succeeded")
    again = cs.submit(body, wait=5)
    assert again.workflow_id == first.workflow_id
    assert again.status in ("approved", "executed")
    with pytest.raises(ConsumeRefused) as refused:
        again.consume()
    assert refused.value.code in ("TOKEN_CONSUMED", "TOKEN_INVALID")


def test_a_restarted_agent_opens_its_token_from_the_file_key_store(tmp_path: Path, review: Reviewer) -> None:
    store = FileKeyStore(tmp_path / "agent-keys")
    body = refund_request(450)
    with Countersign(key_store=store) as before:
        pending = before.submit(body)
    assert pending.status == "pending"
    [pem] = list((tmp_path / "agent-keys").iterdir())
    assert stat.S_IMODE(os.stat(pem).st_mode) == 0o600
    review(pending.request_id)
    with Countersign(key_store=FileKeyStore(tmp_path / "agent-keys")) as after:
        request = after.submit(body, wait=30)
        assert request.status == "approved" and request.open_token() is not None
        request.consume()
        request.report("succeeded")
    assert not list((tmp_path / "agent-keys").iterdir()), "the spent token's key file is removed"


def test_evidence_is_the_chain_while_open_and_the_signed_bundle_once_sealed(cs: Countersign) -> None:
    request = cs.submit(refund_request(40))
    request.consume()
    request.report("succeeded")
    cs.outcome(request.workflow_id)
    evidence = cs.evidence(request.workflow_id)
    assert evidence.sealed is True
    bundle = evidence.bundle
    assert bundle.workflow_id == request.workflow_id and bundle.request.payload == request.request.payload
    assert [e.type for e in bundle.events][:2] == ["requested", "evaluated"]
    assert bundle.signature and bundle.signer and bundle.approval_record and bundle.receipt
    assert bundle.approval_record.body.binding.action_digest == bundle.receipt.body.action_digest
    assert bundle.outcome is not None and bundle.outcome.status == "executed" and bundle.outcome.token is not None

    held = cs.submit(refund_request(450))
    assert held.status == "pending"
    chain = cs.evidence(held.workflow_id)
    assert chain.sealed is False and chain.bundle.outcome is None and chain.bundle.signature is None
    assert [e.type for e in chain.bundle.events][:2] == ["requested", "evaluated"]


def test_list_shows_this_agent_s_requests(cs: Countersign) -> None:
    body = refund_request(450)
    request = cs.submit(body)
    rows = cs.list(open=True)
    assert any(r.workflow_id == request.workflow_id and r.agent == "support-bot" for r in rows)


def test_settings_come_from_arguments_or_the_environment_and_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COUNTERSIGN_URL", raising=False)
    with pytest.raises(InvalidRequest, match="COUNTERSIGN_URL"):
        Countersign(api_key="k")
    with pytest.raises(InvalidRequest, match="https://"):
        Countersign(url="http://countersign.example.com", api_key="k")
    with pytest.raises(InvalidRequest, match="COUNTERSIGN_API_KEY"):
        Countersign(url="http://127.0.0.1:1", api_key="")
    Countersign(url="https://countersign.example.com", api_key="k").close()


@pytest.mark.anyio
async def test_async_allow_and_review(acs: AsyncCountersign, review: Reviewer) -> None:
    allowed = await acs.submit(refund_request(40))
    assert allowed.status == "approved"
    await allowed.consume()
    await allowed.report("succeeded")
    assert (await acs.outcome(allowed.workflow_id)).status == "executed"
    held = await acs.submit(refund_request(450))
    assert held.status == "pending"
    review(held.request_id)
    await held.wait(30)
    assert held.status == "approved"
    await held.consume()
    with pytest.raises(ConsumeRefused) as refused:
        await held.consume(token=SecretStr("cst_" + unique("forged")))
    assert refused.value.code in ("TOKEN_INVALID", "TOKEN_CONSUMED")
    await held.report("failed", message="the bank was down")
    outcome = await acs.outcome(held.workflow_id)
    assert outcome.status == "failed" and outcome.execution is not None and outcome.execution.message == "the bank was down"


@pytest.mark.anyio
async def test_async_wrong_key_and_deny(acs: AsyncCountersign) -> None:
    denied = await acs.submit(refund_request(20_000))
    assert denied.outcome is not None and denied.outcome.code == "POLICY_DENIED"
    async with AsyncCountersign(api_key="cs_agent_wrong") as wrong:
        with pytest.raises(Unauthenticated):
            await wrong.whoami()
