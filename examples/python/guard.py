"""guard, as a context manager and as a decorator. Against `npm run dev`:

    export COUNTERSIGN_URL=http://127.0.0.1:7280 COUNTERSIGN_API_KEY="$(cat .countersign/agents/support-bot.key)"
    python examples/python/guard.py
"""

from __future__ import annotations

import uuid

from countersign import Countersign, NotApproved


def main(cs: Countersign, task_id: str) -> list[str]:
    done: list[str] = []
    refund = {"customer": "C-42", "amount": 40, "currency": "USD", "order": f"A-{uuid.uuid4().hex[:8]}"}
    request = {"taskId": task_id, "action": "payments.refund", "summary": "Refund 40 USD: the order arrived damaged.", "resource": {"type": "customer", "id": "C-42"}, "payload": refund}
    # The body runs only after approval and the token's consumption; leaving it reports the outcome.
    with cs.guard(request, wait=60) as approval:
        done.append(f"refunded {approval.payload['amount']} {approval.payload['currency']} (receipt {approval.receipt.body.receipt_id})")

    # As a decorator: each call's arguments are the payload, and it runs with the approved ones.
    @cs.guard({"taskId": task_id, "action": "payments.refund", "summary": lambda a: f"Refund {a['amount']} {a['currency']}", "resource": lambda a: {"type": "customer", "id": a["customer"]}}, wait=5)
    def pay_back(customer: str, amount: float, currency: str, order: str) -> str:
        return f"refunded {amount} {currency} on {order}"

    done.append(pay_back("C-42", 25, "EUR", f"A-{uuid.uuid4().hex[:8]}"))
    try:
        pay_back("C-42", 20_000, "EUR", f"A-{uuid.uuid4().hex[:8]}")
    except NotApproved as err:
        done.append(f"not refunded: {err.code}")
    return done


if __name__ == "__main__":
    with Countersign() as client:
        print("\n".join(main(client, f"ticket-{uuid.uuid4().hex[:8]}")))
