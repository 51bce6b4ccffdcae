"""countersign for LangGraph (`pip install 'countersign[langgraph]'`): tool calls that interrupt the
graph while countersign's reviewers decide, as client/adapters/langchain.ts does for LangGraph.js.

- `countersign_tool_node(cs, tools, interrupt_on={...})`: a ToolNode whose mapped tools run only through
  countersign. Allow → the tool runs once, after the token is consumed for exactly the arguments that
  then run, and the run is reported; deny (expiry, changes requested, a spent token) → the model gets
  an error ToolMessage naming the reason code; review → the graph interrupts (a checkpointer is
  needed) with a value naming the countersign request and the thread.
- `run_approved(cs, gated, arguments, execute)` (and `arun_approved`): the same inside any node of yours.

A `Command(resume=...)` decides nothing: whatever it says, countersign is asked again; still
undecided, the graph interrupts again. The task a call belongs to is the graph's thread id (kept in
the request's context as `langgraph.thread_id`), so the same call in the same thread is one request:
a replayed resume, a re-run thread or a restarted process never runs the side effect twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar, Union

try:
    from langchain_core.messages import ToolMessage
    from langchain_core.tools import BaseTool
    from langgraph.config import get_config
    from langgraph.prebuilt import ToolNode
    from langgraph.prebuilt.tool_node import ToolCallRequest
    from langgraph.types import Command, interrupt
except ImportError as err:  # pragma: no cover - exercised by the clean-venv wheel test
    raise ImportError("countersign.langgraph needs LangGraph: pip install 'countersign[langgraph]'") from err

from . import async_client, client
from .async_client import AsyncCountersign
from .client import Countersign
from .gate import Executed, GatedAction, Pending, Refused

__all__ = ["THREAD_CONTEXT_KEY", "arun_approved", "countersign_tool_node", "run_approved"]

T = TypeVar("T")
THREAD_CONTEXT_KEY = "langgraph.thread_id"
TaskId = Union[str, Callable[[Mapping[str, Any]], str], None]


def _thread_id() -> str | None:
    try:
        thread = get_config().get("configurable", {}).get("thread_id")
    except RuntimeError:  # outside a graph run
        return None
    return str(thread) if isinstance(thread, (str, int)) else None


def _task(task_id: TaskId, call: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    thread = _thread_id()
    task = task_id(call) if callable(task_id) else (task_id or thread)
    if not task:
        raise ValueError("countersign needs a task: run the graph with a thread id (configurable.thread_id) or give task_id.")
    return task, ({THREAD_CONTEXT_KEY: thread} if thread else {})


def _interrupt_value(pending: Pending, gated: GatedAction, call: Mapping[str, Any], thread: str | None) -> dict[str, Any]:
    """What the graph interrupts with: a HITLRequest-shaped value (for UIs that show one) naming the countersign request."""
    return {
        "action_requests": [{"name": call.get("name"), "args": call.get("args"), "description": f"Awaiting countersign request {pending.request_id} ({gated.action}); decide it in countersign."}],
        "review_configs": [{"action_name": call.get("name"), "allowed_decisions": []}],  # nothing a resume says is a decision
        "countersign": {
            "requestId": pending.request_id,
            "workflowId": pending.workflow_id,
            "status": pending.status,
            "deadline": pending.deadline,
            "action": gated.action,
            "toolCallId": call.get("id"),
            "threadId": thread,
        },
    }


def run_approved(cs: Countersign, gated: GatedAction, arguments: dict[str, Any], execute: Callable[[dict[str, Any]], T], *, task_id: TaskId = None, wait: float = 0, on_behalf_of: str | None = None) -> Executed[T] | Refused:
    """Inside a graph node: runs `execute` with the approved arguments once countersign approves and the
    token is consumed; interrupts the graph while a reviewer decides; a refusal comes back with its code."""
    call = {"name": gated.action, "args": arguments}
    task, context = _task(task_id, call)
    while True:
        result = client.gated_call(cs, gated, arguments, execute, task_id=task, wait=wait, on_behalf_of=on_behalf_of, context=context)
        if not isinstance(result, Pending):
            return result
        # The first time this raises and the graph pauses; on a resume it returns the resume value, which decides nothing.
        interrupt(_interrupt_value(result, gated, call, context.get(THREAD_CONTEXT_KEY)))


async def arun_approved(cs: AsyncCountersign, gated: GatedAction, arguments: dict[str, Any], execute: Callable[[dict[str, Any]], Awaitable[T]], *, task_id: TaskId = None, wait: float = 0, on_behalf_of: str | None = None) -> Executed[T] | Refused:
    """run_approved for async nodes and the async client."""
    call = {"name": gated.action, "args": arguments}
    task, context = _task(task_id, call)
    while True:
        result = await async_client.gated_call(cs, gated, arguments, execute, task_id=task, wait=wait, on_behalf_of=on_behalf_of, context=context)
        if not isinstance(result, Pending):
            return result
        interrupt(_interrupt_value(result, gated, call, context.get(THREAD_CONTEXT_KEY)))


def refusal_message(call: Mapping[str, Any], refused: Refused) -> ToolMessage:
    """The ToolMessage a model gets for a call that did not run: the reason code in its text, the refusal as its artifact."""
    artifact = {"countersign": "refused", "requestId": refused.request_id, "status": refused.status, "code": refused.code, "message": refused.message}
    return ToolMessage(content=refused.text(), name=call.get("name"), tool_call_id=call.get("id") or "", status="error", artifact=artifact)


ToolResult = Union[ToolMessage, Command[Any]]


class ToolFailed(Exception):
    """The tool ran and answered an error (ToolNode turns its exceptions into one): reported failed, then handed to the model as it is."""

    def __init__(self, message: ToolMessage) -> None:
        super().__init__(str(message.content)[:2000])
        self.tool_message = message


def _checked(result: ToolResult) -> ToolResult:
    if isinstance(result, ToolMessage) and result.status == "error":
        raise ToolFailed(result)
    return result


def countersign_tool_node(
    cs: Countersign | AsyncCountersign,
    tools: Sequence[BaseTool | Callable[..., Any]],
    *,
    interrupt_on: Mapping[str, GatedAction],
    task_id: TaskId = None,
    wait: float = 0,
    on_behalf_of: str | None = None,
    **tool_node_options: Any,
) -> ToolNode:
    """A ToolNode for `tools` whose calls to the tools `interrupt_on` names go through countersign (see the
    module's comment); the others run as they would. A sync client serves graph.invoke, an async one graph.ainvoke."""
    options = {"task_id": task_id, "wait": wait, "on_behalf_of": on_behalf_of}

    def call_of(request: ToolCallRequest) -> tuple[Mapping[str, Any], GatedAction | None]:
        call = request.tool_call
        return call, interrupt_on.get(str(call.get("name")))

    def rerun(request: ToolCallRequest, call: Mapping[str, Any], approved: dict[str, Any]) -> ToolCallRequest:
        # Under its own name, with the approved (possibly edited) arguments: a payload cannot name another tool.
        return request.override(tool_call={**call, "args": approved})  # type: ignore[typeddict-item]

    def wrap(request: ToolCallRequest, execute: Callable[[ToolCallRequest], ToolResult]) -> ToolResult:
        call, gated = call_of(request)
        if gated is None or not isinstance(cs, Countersign):
            return execute(request)
        try:
            result = run_approved(cs, gated, dict(call.get("args") or {}), lambda approved: _checked(execute(rerun(request, call, approved))), **options)  # type: ignore[arg-type]
        except ToolFailed as failed:
            return failed.tool_message
        return result.result if isinstance(result, Executed) else refusal_message(call, result)

    async def awrap(request: ToolCallRequest, execute: Callable[[ToolCallRequest], Awaitable[ToolResult]]) -> ToolResult:
        call, gated = call_of(request)
        if gated is None:
            return await execute(request)
        if not isinstance(cs, AsyncCountersign):
            raise TypeError("countersign_tool_node: graph.ainvoke needs an AsyncCountersign client.")

        async def run(approved: dict[str, Any]) -> ToolResult:
            return _checked(await execute(rerun(request, call, approved)))

        try:
            result = await arun_approved(cs, gated, dict(call.get("args") or {}), run, **options)  # type: ignore[arg-type]
        except ToolFailed as failed:
            return failed.tool_message
        return result.result if isinstance(result, Executed) else refusal_message(call, result)

    if isinstance(cs, AsyncCountersign):
        return ToolNode(tools, awrap_tool_call=awrap, **tool_node_options)
    return ToolNode(tools, wrap_tool_call=wrap, **tool_node_options)
