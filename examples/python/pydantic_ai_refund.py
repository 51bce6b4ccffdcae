"""A Pydantic AI agent whose refund tool is deferred until countersign decides. Needs a model (e.g.
OPENAI_API_KEY for openai:gpt-4.1) besides the countersign settings:

    python examples/python/pydantic_ai_refund.py "Refund order A-1 (450 USD) to customer C-42."
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.models import Model
from pydantic_ai.tools import DeferredToolRequests
from pydantic_ai.toolsets import FunctionToolset

from countersign import AsyncCountersign, GatedAction
from countersign.pydantic_ai import CountersignToolset, countersign_results


def refund(customer: str, amount: float, currency: str, order: str) -> str:
    """Refund an order to the customer."""
    return f"refunded {amount:g} {currency} on {order}"


async def main(cs: AsyncCountersign, ask: str, model: str | Model = "openai:gpt-4.1", wait: float = 3600) -> Any:
    gated = GatedAction(action="payments.refund", resource=lambda r: {"type": "customer", "id": r["customer"]}, summary=lambda r: f"Refund {r['amount']} {r['currency']} on {r['order']}")
    tools = CountersignToolset(FunctionToolset([refund]), cs=cs, actions={"refund": gated}, task_id=f"ticket-{uuid.uuid4().hex[:8]}")
    agent: Agent[None, str | DeferredToolRequests] = Agent(model, toolsets=[tools], output_type=[str, DeferredToolRequests])
    result = await agent.run(ask)
    while isinstance(result.output, DeferredToolRequests):
        print("waiting for countersign's reviewers", file=sys.stderr)
        decided = await countersign_results(cs, result.output, wait=wait)  # None while undecided
        if decided is not None:
            result = await agent.run(message_history=result.all_messages(), deferred_tool_results=decided)
    return result.output


if __name__ == "__main__":

    async def run() -> None:
        async with AsyncCountersign() as client:
            print(await main(client, sys.argv[1] if len(sys.argv) > 1 else "Refund order A-1 (40 USD) to customer C-42."))

    asyncio.run(run())
