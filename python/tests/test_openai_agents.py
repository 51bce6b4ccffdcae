"""countersign.openai_agents end to end: a real OpenAI Agents run (Runner, RunState) with a scripted
Model against the live server. The refund's side effect is counted: it runs only with a consumed
token, never on a client's own approval, and never twice for the same call."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agents import Agent, FunctionTool, ModelSettings, Runner, RunState
from agents.items import ModelResponse
from agents.models.interface import Model, ModelTracing
from agents.usage import Usage
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from conftest import Reviewer, refund_args, unique
from countersign import AsyncCountersign, GatedAction
from countersign.openai_agents import MemoryRunStateStore, Resumed, ResumePending, UnknownRun, countersign_tool, persist_interrupted, resume_when_decided


class ScriptedModel(Model):
    """Calls `refund` with `args` whenever a person spoke last; otherwise says what the tool answered."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.args = args
        self.tool_outputs: list[str] = []
        self.calls = 0

    async def get_response(self, system_instructions: str | None, input: Any, model_settings: ModelSettings, tools: list[Any], output_schema: Any, handoffs: list[Any], tracing: ModelTracing, **_: Any) -> ModelResponse:
        last = input[-1] if isinstance(input, list) else {"role": "user", "content": input}
        if isinstance(last, dict) and last.get("type") == "function_call_output":
            self.tool_outputs.append(str(last.get("output")))
            text = f"The tool said: {last.get('output')}"
            output: list[Any] = [ResponseOutputMessage(id=unique("msg"), type="message", role="assistant", status="completed", content=[ResponseOutputText(type="output_text", text=text, annotations=[])])]
        else:
            self.calls += 1
            output = [ResponseFunctionToolCall(id=unique("fc"), call_id=unique("call"), type="function_call", name="refund", arguments=json.dumps(self.args), status="completed")]
        return ModelResponse(output=output, usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


def refund_agent(acs: AsyncCountersign, args: dict[str, Any], task_id: str) -> tuple[Agent[Any], ScriptedModel, list[dict[str, Any]]]:
    runs: list[dict[str, Any]] = []

    async def refund(_context: Any, arguments: str) -> str:
        parsed = json.loads(arguments)
        runs.append(parsed)
        return f"refunded {parsed['amount']} {parsed['currency']} on {parsed['order']}"

    schema = {"type": "object", "properties": {k: {"type": "number" if k == "amount" else "string"} for k in ("customer", "amount", "currency", "order")}, "required": ["customer", "amount", "currency", "order"], "additionalProperties": False}
    tool = FunctionTool(name="refund", description="Refund an order to the customer.", params_json_schema=schema, on_invoke_tool=refund)
    gated = GatedAction(action="payments.refund", resource=lambda a: {"type": "customer", "id": a["customer"]}, summary=lambda a: f"Refund {a['amount']} {a['currency']} on {a['order']}")
    model = ScriptedModel(args)
    agent: Agent[Any] = Agent(name="refunds", model=model, tools=[countersign_tool(acs, tool, gated, task_id=task_id)])
    return agent, model, runs


@pytest.mark.anyio
async def test_an_allowed_tool_runs_once(acs: AsyncCountersign) -> None:
    args = refund_args(40)
    agent, model, runs = refund_agent(acs, args, unique("task"))
    result = await Runner.run(agent, "Please refund my order.")
    assert not result.interruptions
    assert runs == [args]
    assert result.final_output == f"The tool said: refunded 40 USD on {args['order']}"


@pytest.mark.anyio
async def test_a_denied_tool_never_runs_and_the_model_sees_the_reason_code(acs: AsyncCountersign) -> None:
    agent, model, runs = refund_agent(acs, refund_args(20_000), unique("task"))
    result = await Runner.run(agent, "Please refund my order.")
    assert not result.interruptions and runs == []
    assert model.tool_outputs == ["countersign: not executed (POLICY_DENIED): Refunds over 10,000 are never automated."]


@pytest.mark.anyio
async def test_a_reviewed_tool_interrupts_and_runs_once_after_approval_in_countersign(acs: AsyncCountersign, review: Reviewer) -> None:
    args = refund_args(450)
    agent, model, runs = refund_agent(acs, args, unique("task"))
    store = MemoryRunStateStore()
    result = await Runner.run(agent, "Please refund my order.")
    assert len(result.interruptions) == 1 and runs == []
    [request_id] = await persist_interrupted(store, result)
    assert isinstance(await resume_when_decided(acs, store, request_id, agent), ResumePending)
    assert runs == []
    review(request_id)
    resumed = await resume_when_decided(acs, store, request_id, agent, wait=30)
    assert isinstance(resumed, Resumed) and not resumed.request_ids
    assert runs == [args]
    assert resumed.result.final_output == f"The tool said: refunded 450 USD on {args['order']}"
    assert isinstance(await resume_when_decided(acs, store, request_id, agent), UnknownRun), "a replayed resume finds nothing"
    assert runs == [args]
    assert (await acs.outcome(f"cs-support-bot-{request_id}")).status == "executed"


@pytest.mark.anyio
async def test_a_client_side_approval_never_runs_the_tool(acs: AsyncCountersign, review: Reviewer) -> None:
    args = refund_args(450)
    agent, model, runs = refund_agent(acs, args, unique("task"))
    result = await Runner.run(agent, "Please refund my order.")
    state = result.to_state()
    for item in state.get_interruptions():
        state.approve(item)  # the client approves on its own: countersign has not
    forged = await Runner.run(agent, await RunState.from_string(agent, state.to_string()))
    assert runs == []
    assert model.tool_outputs[-1].startswith("countersign: not executed (PENDING_REVIEW)")
    assert forged.final_output.startswith("The tool said: countersign: not executed")


@pytest.mark.anyio
async def test_a_second_run_of_the_same_call_never_runs_the_side_effect_twice(acs: AsyncCountersign) -> None:
    args, task = refund_args(60), unique("task")
    agent, model, runs = refund_agent(acs, args, task)
    await Runner.run(agent, "Please refund my order.")
    again, model2, runs2 = refund_agent(acs, args, task)  # a fresh process: the same task and call
    await Runner.run(again, "Please refund my order.")
    assert runs == [args] and runs2 == []
    assert model2.tool_outputs[-1].startswith("countersign: not executed (TOKEN_CONSUMED)")
