"""An OpenAI Agents run whose refund tool waits for countersign. Needs OPENAI_API_KEY besides the
countersign settings:

    python examples/python/openai_agents_refund.py "Refund order A-1 (450 USD) to customer C-42."
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

from agents import Agent, Model, Runner, function_tool

from countersign import AsyncCountersign, GatedAction
from countersign.openai_agents import MemoryRunStateStore, ResumePending, Resumed, countersign_tool, persist_interrupted, resume_when_decided


@function_tool
def refund(customer: str, amount: float, currency: str, order: str) -> str:
    """Refund an order to the customer."""
    return f"refunded {amount:g} {currency} on {order}"


async def main(cs: AsyncCountersign, ask: str, model: str | Model = "gpt-4.1", wait: float = 3600) -> Any:
    gated = GatedAction(action="payments.refund", resource=lambda r: {"type": "customer", "id": r["customer"]}, summary=lambda r: f"Refund {r['amount']} {r['currency']} on {r['order']}")
    agent: Agent[Any] = Agent(name="refunds", model=model, tools=[countersign_tool(cs, refund, gated, task_id=f"ticket-{uuid.uuid4().hex[:8]}")])
    store = MemoryRunStateStore()  # FileRunStateStore(dir) to resume from another process
    result = await Runner.run(agent, ask)
    pending = await persist_interrupted(store, result)
    while pending:
        print(f"waiting for countersign request {pending[0]}", file=sys.stderr)
        resumed = await resume_when_decided(cs, store, pending[0], agent, wait=wait)
        if isinstance(resumed, Resumed):
            result, pending = resumed.result, resumed.request_ids
        elif not isinstance(resumed, ResumePending):
            break
    return result.final_output


if __name__ == "__main__":

    async def run() -> None:
        async with AsyncCountersign() as client:
            print(await main(client, sys.argv[1] if len(sys.argv) > 1 else "Refund order A-1 (40 USD) to customer C-42."))

    asyncio.run(run())
