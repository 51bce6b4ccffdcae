"""countersign for the OpenAI Agents SDK (`pip install 'countersign[openai-agents]'`), as
client/adapters/openai-agents.ts does it for JavaScript.

`countersign_tool(cs, tool, gated, task_id=...)` puts countersign in front of a FunctionTool:
`needs_approval` is countersign's policy for the call (allow → runs, deny → the model is told the
reason code, review → the run is interrupted). An interruption is resolved from countersign's
decision only: `persist_interrupted` keeps the RunState by request id and `resume_when_decided`
approves or rejects each held call from countersign's outcome and runs on. Whatever the RunState
says, the tool's own `on_invoke_tool` runs only through the gate, with a consumed single-use token for
exactly the arguments that run: a client's `state.approve()`, a forged RunState or a replayed resume
never makes the side effect happen.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Union

try:
    from agents import Agent, FunctionTool, RunContextWrapper, Runner, RunResult, RunState
    from agents.items import ToolApprovalItem
    from agents.tool_context import ToolContext
except ImportError as err:  # pragma: no cover - exercised by the clean-venv wheel test
    raise ImportError("countersign.openai_agents needs the OpenAI Agents SDK: pip install 'countersign[openai-agents]'") from err

from ._run_store import FileRunStateStore, HeldCall, HeldRun, MemoryRunStateStore, RunStateStore
from .async_client import AsyncCountersign, gated_call
from .gate import Executed, GatedAction, refusal
from .models import OPEN_STATUSES

__all__ = [
    "FileRunStateStore",
    "HeldCall",
    "HeldRun",
    "MemoryRunStateStore",
    "Resumed",
    "ResumePending",
    "RunStateStore",
    "UnknownRun",
    "countersign_tool",
    "held_calls",
    "persist_interrupted",
    "resume_when_decided",
]

TaskId = Union[str, Callable[[RunContextWrapper[Any]], str]]
MAX_ARGUMENT_BYTES = 256 * 1024


@dataclasses.dataclass(frozen=True)
class _Gate:
    cs: AsyncCountersign
    gated: GatedAction
    task_id: TaskId
    on_behalf_of: str | None

    def task(self, context: RunContextWrapper[Any]) -> str:
        return self.task_id if isinstance(self.task_id, str) else self.task_id(context)

    def request(self, arguments: dict[str, Any], context: RunContextWrapper[Any]) -> dict[str, Any]:
        return self.gated.request(arguments, task_id=self.task(context), on_behalf_of=self.on_behalf_of)


def _arguments(text: str | None) -> dict[str, Any]:
    if not text or len(text) > MAX_ARGUMENT_BYTES:
        return {}
    parsed = json.loads(text)
    return parsed if isinstance(parsed, dict) else {}


def countersign_tool(cs: AsyncCountersign, tool: FunctionTool, gated: GatedAction, *, task_id: TaskId, on_behalf_of: str | None = None) -> FunctionTool:
    """`tool` with countersign in front (see the module's comment). `task_id` is the agent's task — a
    conversation, a job — or a function of the run context; keep it stable across a resume."""
    gate = _Gate(cs, gated, task_id, on_behalf_of)
    invoke = tool.on_invoke_tool

    async def needs_approval(context: RunContextWrapper[Any], arguments: dict[str, Any], call_id: str) -> bool:
        request = await cs.submit(gate.request(arguments, context))
        return request.status in OPEN_STATUSES and request.outcome is None  # allowed runs; ended is refused in invoke

    async def gated_invoke(context: ToolContext[Any], arguments: str) -> Any:
        async def run(approved: dict[str, Any]) -> Any:
            text = json.dumps(approved)
            return await invoke(dataclasses.replace(context, tool_arguments=text), text)

        result = await gated_call(cs, gated, _arguments(arguments), run, task_id=gate.task(context), on_behalf_of=on_behalf_of)
        return result.result if isinstance(result, Executed) else result.text()

    gated_tool = dataclasses.replace(tool, needs_approval=needs_approval, on_invoke_tool=gated_invoke)
    gated_tool._countersign = gate  # type: ignore[attr-defined]
    return gated_tool


def _call_id(item: ToolApprovalItem) -> str | None:
    raw = item.raw_item
    value = raw.get("call_id") if isinstance(raw, Mapping) else getattr(raw, "call_id", None)
    return value if isinstance(value, str) else None


def _gate_of(item: ToolApprovalItem) -> _Gate | None:
    for tool in getattr(item.agent, "tools", []):
        if isinstance(tool, FunctionTool) and tool.name == item.tool_name:
            gate = getattr(tool, "_countersign", None)
            return gate if isinstance(gate, _Gate) else None
    return None


async def held_calls(result: RunResult) -> list[HeldCall]:
    """The calls of an interrupted run that wait for countersign (other tools' interruptions are not countersign's).
    Each is asked of countersign again — the same call joins its request — so a call the SDK held without
    asking needs_approval (arguments its validation changes) has its request too."""
    calls: list[HeldCall] = []
    for item in result.interruptions:
        gate, call_id = _gate_of(item), _call_id(item)
        if gate is None or call_id is None:
            continue
        raw = item.raw_item
        arguments = _arguments(raw.get("arguments") if isinstance(raw, Mapping) else getattr(raw, "arguments", None))
        request = await gate.cs.submit(gate.request(arguments, result.context_wrapper))
        calls.append(HeldCall(call_id=call_id, tool_name=item.tool_name or "", request_id=request.request_id, workflow_id=request.workflow_id))
    return calls


async def persist_interrupted(store: RunStateStore, result: RunResult) -> list[str]:
    """Stores an interrupted run under the request id of each call it holds for countersign; returns those request ids."""
    calls = await held_calls(result)
    if not calls:
        return []
    held = HeldRun(state=result.to_state().to_string(), calls=tuple(calls))
    for call in calls:
        store.put(call.request_id, held)
    return [c.request_id for c in calls]


@dataclasses.dataclass(frozen=True)
class UnknownRun:
    """No run is stored under this request id: unknown, or resumed already (a replay). Nothing ran."""

    request_id: str


@dataclasses.dataclass(frozen=True)
class ResumePending:
    """A reviewer has not decided every call yet: the run stays stored; call again (or on the next webhook)."""

    request_ids: list[str]


@dataclasses.dataclass(frozen=True)
class Resumed:
    """The run went on from countersign's decisions; `request_ids` are the calls it is held for again, if interrupted."""

    result: RunResult
    request_ids: list[str]


async def resume_when_decided(
    cs: AsyncCountersign,
    store: RunStateStore,
    request_id: str,
    agent: Agent[Any],
    *,
    wait: float = 0,
    run: Callable[[Agent[Any], RunState[Any]], Awaitable[RunResult]] | None = None,
) -> UnknownRun | ResumePending | Resumed:
    """Waits up to `wait` seconds for countersign's decision on the run stored under `request_id`,
    then approves each held call countersign approved and rejects the others (the model is told the
    reason code), and runs the restored state on. The approval only lets the SDK call the tool; the
    tool still runs only with a consumed token. A webhook calls this with its payload's request id."""
    stored = store.get(request_id)
    if stored is None:
        return UnknownRun(request_id)
    decisions = {call.call_id: await cs.wait(call.workflow_id, wait) for call in stored.calls}
    if any(s.status in OPEN_STATUSES and s.outcome is None for s in decisions.values()):
        return ResumePending([c.request_id for c in stored.calls])
    claimed = store.take(request_id)  # of two resumes (a wait and a webhook, a replay), one goes on
    if claimed is None:
        return UnknownRun(request_id)
    for call in claimed.calls:
        if call.request_id != request_id:
            store.delete(call.request_id)
    try:
        state = await RunState.from_string(agent, claimed.state)
        for item in state.get_interruptions():
            decided = decisions.get(_call_id(item) or "")
            if decided is None:
                continue  # another tool's approval: left to its owner
            if decided.status == "approved" and decided.outcome is not None and decided.outcome.payload is not None:
                state.approve(item)
            else:
                state.reject(item, rejection_message=refusal(decided.request_id, decided.status, decided.outcome).text())
        result = await (run or Runner.run)(agent, state)
    except BaseException:
        for call in claimed.calls:  # put the run back so it can be tried again: the token still guards the tool
            store.put(call.request_id, claimed)
        raise
    request_ids = await persist_interrupted(store, result) if result.interruptions else []
    return Resumed(result, request_ids)
