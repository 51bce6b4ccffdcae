"""examples/python/ run against the live server, each with a scripted model where it needs one."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

import pytest

from conftest import Reviewer, refund_args, unique
from countersign import AsyncCountersign, Countersign

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # LangGraph reads the state's annotations from the module
    spec.loader.exec_module(module)
    return module


def approve_when_held(cs: Countersign, review: Reviewer, order: str) -> threading.Thread:
    """A reviewer who approves the refund for `order` once it shows up in the agent's open requests."""

    def approve() -> None:
        for _ in range(300):
            row = next((r for r in cs.list(open=True) if order in r.summary), None)
            if row:
                review(row.request_id)
                return
            time.sleep(0.2)

    reviewer = threading.Thread(target=approve)
    reviewer.start()
    return reviewer


def test_guard_example(cs: Countersign) -> None:
    done = example("guard").main(cs, unique("ticket"))
    assert done[0].startswith("refunded 40 USD (receipt rcpt_")
    assert done[1].startswith("refunded 25 EUR on A-")
    assert done[2] == "not refunded: POLICY_DENIED"


def test_langgraph_example_waits_for_the_reviewer(cs: Countersign, review: Reviewer) -> None:
    args = refund_args(450)
    reviewer = approve_when_held(cs, review, args["order"])
    assert example("langgraph_refund").main(cs, args, wait=60) == f"refunded 450 USD on {args['order']}"
    reviewer.join(60)




@pytest.mark.anyio
async def test_openai_agents_example_waits_for_the_reviewer(acs: AsyncCountersign, cs: Countersign, review: Reviewer) -> None:
    from test_openai_agents import ScriptedModel

    args = refund_args(450)
    reviewer = approve_when_held(cs, review, args["order"])
    output = await example("openai_agents_refund").main(acs, "Refund my order.", model=ScriptedModel(args), wait=60)
    assert output == f"The tool said: refunded 450 USD on {args['order']}"
    reviewer.join(60)


@pytest.mark.anyio
async def test_pydantic_ai_example_waits_for_the_reviewer(acs: AsyncCountersign, cs: Countersign, review: Reviewer) -> None:
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    args = refund_args(450)

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returns = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart)]
        if returns:
            return ModelResponse(parts=[TextPart(f"The tool said: {returns[-1].content}")])
        return ModelResponse(parts=[ToolCallPart(tool_name="refund", args=args, tool_call_id=unique("call"))])

    reviewer = approve_when_held(cs, review, args["order"])
    output = await example("pydantic_ai_refund").main(acs, "Refund my order.", model=FunctionModel(model), wait=60)
    assert output == f"The tool said: refunded 450 USD on {args['order']}"
    reviewer.join(60)
