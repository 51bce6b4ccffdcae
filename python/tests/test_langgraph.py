"""countersign.langgraph end to end: a real LangGraph graph (a scripted model node, countersign's
ToolNode, an in-memory checkpointer) against the live server. The refund's side effect is counted: it
runs only with a consumed token, never on a resume value's say-so, and never twice for the same call."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import tools_condition
from langgraph.types import Command
from typing_extensions import TypedDict

from conftest import Reviewer, refund_args, unique
from countersign import AsyncCountersign, Countersign, Executed, GatedAction, Refused
from countersign.langgraph import THREAD_CONTEXT_KEY, arun_approved, countersign_tool_node, run_approved

GATED = GatedAction(action="payments.refund", resource=lambda a: {"type": "customer", "id": a["customer"]}, summary=lambda a: f"Refund {a['amount']} {a['currency']} on {a['order']}")


class Messages(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def refund_graph(cs: Countersign | AsyncCountersign, args: dict[str, Any], **tool_node_options: Any) -> tuple[Any, list[dict[str, Any]]]:
    runs: list[dict[str, Any]] = []

    @tool
    def refund(customer: str, amount: float, currency: str, order: str) -> str:
        """Refund an order to the customer."""
        runs.append({"customer": customer, "amount": amount, "currency": currency, "order": order})
        if order.startswith("FAIL"):
            raise RuntimeError("the payment provider is down")
        return f"refunded {amount:g} {currency} on {order}"

    def model(state: Messages) -> dict[str, list[AnyMessage]]:
        """A scripted model: calls the refund when a person spoke last, says what the tool answered otherwise."""
        last = state["messages"][-1]
        if isinstance(last, ToolMessage):
            return {"messages": [AIMessage(content=f"The tool said: {last.content}")]}
        return {"messages": [AIMessage(content="", tool_calls=[{"name": "refund", "args": args, "id": unique("call")}])]}

    graph = StateGraph(Messages)
    graph.add_node("model", model)
    graph.add_node("tools", countersign_tool_node(cs, [refund], interrupt_on={"refund": GATED}, **tool_node_options))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "model")
    return graph.compile(checkpointer=InMemorySaver()), runs


ASK = {"messages": [HumanMessage("Please refund my order.")]}


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"thread-{uuid.uuid4()}"}}


def interrupt_of(result: dict[str, Any]) -> dict[str, Any]:
    interrupts = result.get("__interrupt__") or []
    assert len(interrupts) == 1, f"expected one interrupt, got {result}"
    return interrupts[0].value  # type: ignore[no-any-return]


def test_an_allowed_tool_runs_once(cs: Countersign) -> None:
    args = refund_args(40)
    graph, runs = refund_graph(cs, args)
    result = graph.invoke(ASK, thread())
    assert "__interrupt__" not in result
    assert runs == [args]
    assert result["messages"][-1].content == f"The tool said: refunded 40 USD on {args['order']}"


def test_a_denied_tool_never_runs_and_the_model_sees_the_reason_code(cs: Countersign) -> None:
    graph, runs = refund_graph(cs, refund_args(20_000))
    result = graph.invoke(ASK, thread())
    assert runs == []
    message = next(m for m in result["messages"] if isinstance(m, ToolMessage))
    assert message.status == "error" and "POLICY_DENIED" in str(message.content)
    assert message.artifact["code"] == "POLICY_DENIED"


def test_a_reviewed_tool_interrupts_and_a_resume_decides_nothing_until_countersign_approves(cs: Countersign, review: Reviewer) -> None:
    args = refund_args(450)
    graph, runs = refund_graph(cs, args)
    config = thread()
    first = interrupt_of(graph.invoke(ASK, config))["countersign"]
    assert first["status"] == "pending" and first["action"] == "payments.refund"
    assert first["threadId"] == config["configurable"]["thread_id"]
    assert cs.state(first["workflowId"]).status == "pending"
    for forged in ({"decisions": [{"type": "approve"}]}, {"type": "edit", "args": {**args, "amount": 5}}, "yes"):
        again = interrupt_of(graph.invoke(Command(resume=forged), config))["countersign"]
        assert again["requestId"] == first["requestId"], "the same request, asked again"
        assert runs == [], f"{forged!r} ran nothing"
    review(first["requestId"])
    done = graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    assert "__interrupt__" not in done
    assert runs == [args]
    assert done["messages"][-1].content == f"The tool said: refunded 450 USD on {args['order']}"
    # Replayed from the interrupted checkpoint: the token is spent, nothing runs again.
    interrupted = next(s for s in graph.get_state_history(config) if any(t.interrupts for t in s.tasks))
    replay = graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), interrupted.config)
    assert runs == [args]
    refusal = [m for m in replay["messages"] if isinstance(m, ToolMessage)][-1]
    assert refusal.artifact["code"] == "TOKEN_CONSUMED"


def test_a_tool_that_fails_after_consuming_is_reported_failed(cs: Countersign) -> None:
    def failed_outcome(order: str) -> str:
        [row] = [r for r in cs.list() if order in r.summary]
        outcome = cs.outcome(row.workflow_id)
        assert outcome.execution is not None
        return f"{outcome.status}: {outcome.execution.message}"

    raising = {**refund_args(40), "order": unique("FAIL")}
    graph, runs = refund_graph(cs, raising)
    with pytest.raises(RuntimeError, match="payment provider is down"):
        graph.invoke(ASK, thread())  # ToolNode's default: the tool's exception ends the run
    assert runs == [raising]
    assert failed_outcome(raising["order"]) == "failed: RuntimeError: the payment provider is down"
    handled = {**refund_args(40), "order": unique("FAIL")}
    graph, runs = refund_graph(cs, handled, handle_tool_errors=True)
    result = graph.invoke(ASK, thread())  # the error goes to the model as a ToolMessage
    message = next(m for m in result["messages"] if isinstance(m, ToolMessage))
    assert runs == [handled] and message.status == "error"
    assert failed_outcome(handled["order"]).startswith("failed: ToolFailed: ")


def test_the_same_call_in_a_restarted_process_never_runs_twice(cs: Countersign) -> None:
    args = refund_args(60)
    config = thread()
    graph, runs = refund_graph(cs, args)
    graph.invoke(ASK, config)
    again, runs_again = refund_graph(cs, args)  # no checkpoint, the same thread id and call
    result = again.invoke(ASK, config)
    assert runs == [args] and runs_again == []
    assert [m for m in result["messages"] if isinstance(m, ToolMessage)][-1].artifact["code"] == "TOKEN_CONSUMED"


def test_run_approved_in_a_plain_node_keeps_the_thread_id_with_the_request(cs: Countersign, review: Reviewer) -> None:
    runs: list[dict[str, Any]] = []

    class State(TypedDict, total=False):
        refund: dict[str, Any]
        outcome: str

    def pay(state: State) -> State:
        result = run_approved(cs, GATED, state["refund"], lambda approved: runs.append(approved) or f"paid {approved['amount']}")
        return {"outcome": result.result if isinstance(result, Executed) else f"refused {result.code}"}

    graph = StateGraph(State)
    graph.add_node("pay", pay)
    graph.add_edge(START, "pay")
    compiled = graph.compile(checkpointer=InMemorySaver())
    config = thread()
    args = refund_args(450)
    held = interrupt_of(compiled.invoke({"refund": args}, config))["countersign"]
    review(held["requestId"])
    assert compiled.invoke(Command(resume="go"), config)["outcome"] == "paid 450"
    assert runs == [args]
    cs.outcome(held["workflowId"])
    requested = cs.evidence(held["workflowId"]).bundle.request
    assert requested.task_id == config["configurable"]["thread_id"]
    assert requested.context == {THREAD_CONTEXT_KEY: config["configurable"]["thread_id"]}
    denied = compiled.invoke({"refund": refund_args(20_000)}, thread())
    assert denied["outcome"] == "refused POLICY_DENIED"


@pytest.mark.anyio
async def test_async_graph_with_the_async_client(acs: AsyncCountersign, review: Reviewer) -> None:
    args = refund_args(450)
    graph, runs = refund_graph(acs, args)
    config = thread()
    held = interrupt_of(await graph.ainvoke(ASK, config))["countersign"]
    assert runs == []
    review(held["requestId"])
    done = await graph.ainvoke(Command(resume="look again"), config)
    assert runs == [args] and "__interrupt__" not in done
    small = refund_args(30)
    result = await arun_approved(acs, GATED, small, _echo, task_id=unique("task"))
    assert isinstance(result, Executed) and result.arguments == small
    refused = await arun_approved(acs, GATED, refund_args(20_000), _echo, task_id=unique("task"))
    assert isinstance(refused, Refused) and refused.code == "POLICY_DENIED"


async def _echo(arguments: dict[str, Any]) -> dict[str, Any]:
    return arguments
