"""countersign for Pydantic AI (`pip install 'countersign[pydantic-ai]'`): deferred tool requests
resolved from countersign's decisions.

`CountersignToolset(toolset, cs=..., actions={...}, task_id=...)` wraps a toolset: each call of a
mapped tool goes through countersign. Allowed → the tool runs once, after the single-use token is
consumed for exactly the arguments it runs with; denied (expired, changes requested, a spent token) →
the model is told the reason code and nothing runs; review → the call is deferred
(`ApprovalRequired`, so the agent's output_type must include DeferredToolRequests), its metadata
naming the countersign request. `countersign_results(cs, requests)` turns countersign's decisions
into the DeferredToolResults to run on with. An approval the application makes itself
(`DeferredToolResults(approvals={id: True})`) changes nothing: the tool still runs only through
countersign, with a consumed token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

try:
    from pydantic_ai import RunContext
    from pydantic_ai.exceptions import ApprovalRequired
    from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, ToolApproved, ToolDenied
    from pydantic_ai.toolsets import AbstractToolset, WrapperToolset
    from pydantic_ai.toolsets.abstract import ToolsetTool
except ImportError as err:  # pragma: no cover - exercised by the clean-venv wheel test
    raise ImportError("countersign.pydantic_ai needs Pydantic AI: pip install 'countersign[pydantic-ai]'") from err

from .async_client import AsyncCountersign, gated_call
from .gate import Executed, GatedAction, Pending, refusal
from .models import OPEN_STATUSES

__all__ = ["CountersignToolset", "countersign_results", "countersign_toolset"]

TaskId = Union[str, Callable[[RunContext[Any]], str]]
METADATA_KEY = "countersign"


@dataclass
class CountersignToolset(WrapperToolset[Any]):
    """`wrapped` with countersign in front of the tools `actions` names (see the module's comment)."""

    cs: AsyncCountersign = field(kw_only=True)
    #: Tool name → how its calls become action requests; other tools run as they would without countersign.
    actions: Mapping[str, GatedAction] = field(kw_only=True)
    #: The agent's task (a conversation, a job), or a function of the run context: the same call in the same task is one request.
    task_id: TaskId = field(kw_only=True)
    on_behalf_of: str | None = field(default=None, kw_only=True)

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]) -> Any:
        gated = self.actions.get(name)
        if gated is None:
            return await super().call_tool(name, tool_args, ctx, tool)
        run_wrapped = super().call_tool

        async def execute(approved: dict[str, Any]) -> Any:
            return await run_wrapped(name, approved, ctx, tool)

        task = self.task_id if isinstance(self.task_id, str) else self.task_id(ctx)
        result = await gated_call(self.cs, gated, tool_args, execute, task_id=task, on_behalf_of=self.on_behalf_of)
        if isinstance(result, Executed):
            return result.result
        if isinstance(result, Pending) and not ctx.tool_call_approved:
            raise ApprovalRequired(metadata={METADATA_KEY: {"requestId": result.request_id, "workflowId": result.workflow_id, "status": result.status}})
        return result.text()  # refused, or "approved" by the application while countersign has not decided


def _countersign_request(requests: DeferredToolRequests, tool_call_id: str) -> str | None:
    meta = requests.metadata.get(tool_call_id, {}).get(METADATA_KEY)
    workflow_id = meta.get("workflowId") if isinstance(meta, Mapping) else None
    return workflow_id if isinstance(workflow_id, str) else None


async def countersign_results(cs: AsyncCountersign, requests: DeferredToolRequests, *, wait: float = 0) -> DeferredToolResults | None:
    """countersign's decisions on the deferred calls it holds, as DeferredToolResults (approved →
    ToolApproved, otherwise ToolDenied naming the reason code); None while a reviewer has not decided
    one of them yet (ask again later). Calls deferred by something other than countersign are left out."""
    results = DeferredToolResults()
    for call in requests.approvals:
        workflow_id = _countersign_request(requests, call.tool_call_id)
        if workflow_id is None:
            continue
        state = await cs.wait(workflow_id, wait)
        if state.status in OPEN_STATUSES and state.outcome is None:
            return None
        if state.status == "approved" and state.outcome is not None and state.outcome.payload is not None:
            results.approvals[call.tool_call_id] = ToolApproved()
        else:
            results.approvals[call.tool_call_id] = ToolDenied(refusal(state.request_id, state.status, state.outcome).text())
    return results


def countersign_toolset(toolset: AbstractToolset[Any], cs: AsyncCountersign, actions: Mapping[str, GatedAction], *, task_id: TaskId, on_behalf_of: str | None = None) -> CountersignToolset:
    return CountersignToolset(toolset, cs=cs, actions=actions, task_id=task_id, on_behalf_of=on_behalf_of)
