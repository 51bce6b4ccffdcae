"""guard: code runs only after approval and the token's consumption, then the run is reported; as a
context manager and as a decorator, sync and async."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Reviewer, refund_args, refund_request, unique
from countersign import AsyncCountersign, Countersign, NotApproved


def test_context_manager_runs_the_body_with_the_approved_payload_then_reports(cs: Countersign) -> None:
    body = refund_request(40)
    ran: list[dict[str, Any]] = []
    with cs.guard(body) as approval:
        ran.append(approval.payload)
    assert ran == [body["payload"]]
    outcome = cs.outcome(approval.request.workflow_id)
    assert outcome.status == "executed" and outcome.execution is not None and outcome.execution.receipt_id == approval.receipt.body.receipt_id


def test_context_manager_never_enters_on_a_deny_and_reports_a_failure(cs: Countersign) -> None:
    with pytest.raises(NotApproved) as refused:
        with cs.guard(refund_request(20_000)):
            raise AssertionError("the body ran")
    assert (refused.value.code, refused.value.status_name) == ("POLICY_DENIED", "denied")
    with pytest.raises(RuntimeError, match="bank down"):
        with cs.guard(refund_request(40)) as approval:
            raise RuntimeError("bank down")
    outcome = cs.outcome(approval.request.workflow_id)
    assert outcome.status == "failed" and outcome.execution is not None and "bank down" in (outcome.execution.message or "")


def test_a_pending_review_never_enters(cs: Countersign) -> None:
    with pytest.raises(NotApproved) as refused:
        with cs.guard(refund_request(450), wait=1):
            raise AssertionError("the body ran")
    assert refused.value.code == "PENDING_REVIEW" and refused.value.status_name == "pending"


def test_decorator_runs_each_call_once_with_its_approved_arguments(cs: Countersign, review: Reviewer) -> None:
    runs: list[dict[str, Any]] = []
    task = unique("task")

    @cs.guard({"taskId": task, "action": "payments.refund", "summary": lambda a: f"Refund {a['amount']} on {a['order']}", "resource": lambda a: {"type": "customer", "id": a["customer"]}}, wait=0)
    def refund(customer: str, amount: float, currency: str, order: str) -> str:
        runs.append({"customer": customer, "amount": amount, "currency": currency, "order": order})
        return f"refunded {amount}"

    small = refund_args(40)
    assert refund(**small) == "refunded 40"
    assert runs == [small]
    with pytest.raises(NotApproved) as again:
        refund(**small)  # the same call in the same task: its token is spent
    assert again.value.code == "TOKEN_CONSUMED"
    with pytest.raises(NotApproved) as denied:
        refund("C-42", 20_000, "USD", unique("O"))
    assert denied.value.code == "POLICY_DENIED"
    big = refund_args(450)
    with pytest.raises(NotApproved) as pending:
        refund(**big)
    assert pending.value.code == "PENDING_REVIEW"
    review(pending.value.request_id)
    assert refund(**big) == "refunded 450"
    assert runs == [small, big]


@pytest.mark.anyio
async def test_async_context_manager_and_decorator(acs: AsyncCountersign) -> None:
    body = refund_request(40)
    async with acs.guard(body) as approval:
        assert approval.payload == body["payload"]
    assert (await acs.outcome(approval.request.workflow_id)).status == "executed"
    runs: list[float] = []

    @acs.guard({"taskId": unique("task"), "action": "payments.refund", "summary": "Refund", "resource": {"type": "customer", "id": "C-42"}})
    async def refund(customer: str, amount: float, currency: str, order: str) -> float:
        runs.append(amount)
        return amount

    assert await refund(**refund_args(30)) == 30
    with pytest.raises(NotApproved):
        await refund(**refund_args(20_000))
    assert runs == [30]
