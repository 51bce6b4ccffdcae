"""A LangGraph graph whose refund waits for countersign. Against `npm run dev` (a refund over 100 waits
for a support lead: approve it with `npx countersign review approve <id> --as alice`):

    python examples/python/langgraph_refund.py 450
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command
from typing_extensions import TypedDict

from countersign import Countersign, Executed, GatedAction
from countersign.langgraph import run_approved

REFUND = GatedAction(action="payments.refund", resource=lambda r: {"type": "customer", "id": r["customer"]}, summary=lambda r: f"Refund {r['amount']} {r['currency']} on {r['order']}")


class Ticket(TypedDict, total=False):
    refund: dict[str, Any]
    result: str


def main(cs: Countersign, refund: dict[str, Any], wait: float = 3600) -> str:
    def pay(ticket: Ticket) -> Ticket:
        # Runs the refund once countersign approves and the token is consumed; interrupts the graph meanwhile.
        done = run_approved(cs, REFUND, ticket["refund"], lambda r: f"refunded {r['amount']} {r['currency']} on {r['order']}")
        return {"result": done.result if isinstance(done, Executed) else f"not refunded: {done.code}"}

    graph = StateGraph(Ticket)
    graph.add_node("pay", pay)
    graph.add_edge(START, "pay")
    app = graph.compile(checkpointer=InMemorySaver())
    thread = {"configurable": {"thread_id": f"ticket-{uuid.uuid4().hex[:8]}"}}  # the countersign task
    state = app.invoke({"refund": refund}, thread)
    while "__interrupt__" in state:
        held = state["__interrupt__"][0].value["countersign"]
        print(f"waiting for countersign request {held['requestId']}", file=sys.stderr)
        cs.wait(held["workflowId"], wait)  # reviewers decide in countersign; the resume value decides nothing
        state = app.invoke(Command(resume="look again"), thread)
    return str(state["result"])


if __name__ == "__main__":
    amount = float(sys.argv[1]) if len(sys.argv) > 1 else 40
    with Countersign() as client:
        print(main(client, {"customer": "C-42", "amount": amount, "currency": "USD", "order": f"A-{uuid.uuid4().hex[:8]}"}))
