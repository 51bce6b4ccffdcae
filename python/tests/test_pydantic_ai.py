"""countersign.pydantic_ai end to end: a real Pydantic AI agent (FunctionModel, deferred tools) against
the live server. The refund's side effect is counted: it runs only with a consumed token."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults
from pydantic_ai.toolsets import FunctionToolset

from conftest import Reviewer, refund_args, unique
from countersign import AsyncCountersign, GatedAction
from countersign.pydantic_ai import CountersignToolset, countersign_results


def refund_agent(acs: AsyncCountersign, args: dict[str, Any], task_id: str) -> tuple[Agent[None, str | DeferredToolRequests], list[dict[str, Any]], list[str]]:
    runs: list[dict[str, Any]] = []
    tool_results: list[str] = []

    def refund(customer: str, amount: float, currency: str, order: str) -> str:
        """Refund an order to the customer."""
        runs.append({"customer": customer, "amount": amount, "currency": currency, "order": order})
        return f"refunded {amount} {currency} on {order}"

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returns = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart)]
        if returns:
            tool_results.append(str(returns[-1].content))
            return ModelResponse(parts=[TextPart(f"The tool said: {returns[-1].content}")])
        return ModelResponse(parts=[ToolCallPart(tool_name="refund", args=args, tool_call_id=unique("call"))])

    gated = GatedAction(action="payments.refund", resource=lambda a: {"type": "customer", "id": a["customer"]}, summary=lambda a: f"Refund {a['amount']} on {a['order']}")
    toolset = CountersignToolset(FunctionToolset([refund]), cs=acs, actions={"refund": gated}, task_id=task_id)
    agent: Agent[None, str | DeferredToolRequests] = Agent(FunctionModel(model), toolsets=[toolset], output_type=[str, DeferredToolRequests])
    return agent, runs, tool_results


@pytest.mark.anyio
async def test_an_allowed_tool_runs_once(acs: AsyncCountersign) -> None:
    args = refund_args(40)
    agent, runs, _ = refund_agent(acs, args, unique("task"))
    result = await agent.run("Please refund my order.")
    assert result.output == f"The tool said: refunded 40 USD on {args['order']}"
    assert runs == [args]


@pytest.mark.anyio
async def test_a_denied_tool_never_runs_and_the_model_sees_the_reason_code(acs: AsyncCountersign) -> None:
    agent, runs, tool_results = refund_agent(acs, refund_args(20_000), unique("task"))
    await agent.run("Please refund my order.")
    assert runs == []
    assert tool_results == ["countersign: not executed (POLICY_DENIED): Refunds over 10,000 are never automated."]


@pytest.mark.anyio
async def test_a_reviewed_tool_is_deferred_and_runs_once_after_approval_in_countersign(acs: AsyncCountersign, review: Reviewer) -> None:
    args = refund_args(450)
    agent, runs, _ = refund_agent(acs, args, unique("task"))
    first = await agent.run("Please refund my order.")
    requests = first.output
    assert isinstance(requests, DeferredToolRequests) and len(requests.approvals) == 1 and runs == []
    meta = requests.metadata[requests.approvals[0].tool_call_id]["countersign"]
    assert meta["status"] == "pending"
    assert await countersign_results(acs, requests) is None, "undecided: nothing to run on with"
    review(meta["requestId"])
    results = await countersign_results(acs, requests, wait=30)
    assert results is not None
    done = await agent.run(message_history=first.all_messages(), deferred_tool_results=results)
    assert done.output == f"The tool said: refunded 450 USD on {args['order']}"
    assert runs == [args]
    replay = await agent.run(message_history=first.all_messages(), deferred_tool_results=results)
    assert runs == [args], "a replayed resume does not run the tool again"
    assert "TOKEN_CONSUMED" in str(replay.output)


@pytest.mark.anyio
async def test_a_client_side_approval_never_runs_the_tool(acs: AsyncCountersign) -> None:
    agent, runs, tool_results = refund_agent(acs, refund_args(450), unique("task"))
    first = await agent.run("Please refund my order.")
    assert isinstance(first.output, DeferredToolRequests)
    forged = DeferredToolResults(approvals={call.tool_call_id: True for call in first.output.approvals})
    await agent.run(message_history=first.all_messages(), deferred_tool_results=forged)
    assert runs == []
    assert tool_results[-1].startswith("countersign: not executed (PENDING_REVIEW)")


@pytest.mark.anyio
async def test_a_reviewer_s_deny_is_told_to_the_model(acs: AsyncCountersign, review: Reviewer) -> None:
    agent, runs, tool_results = refund_agent(acs, refund_args(450), unique("task"))
    first = await agent.run("Please refund my order.")
    assert isinstance(first.output, DeferredToolRequests)
    request_id = first.output.metadata[first.output.approvals[0].tool_call_id]["countersign"]["requestId"]
    review(request_id, "deny", "--reason", "NOT_JUSTIFIED", "--message", "No proof of the double charge.")
    results = await countersign_results(acs, first.output, wait=30)
    assert results is not None
    done = await agent.run(message_history=first.all_messages(), deferred_tool_results=results)
    assert runs == []
    assert "REVIEWER_DENIED" in str(done.output)
