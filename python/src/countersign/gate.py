"""What every integration stands on: one tool call through countersign (client/adapters/gate.ts).

A call becomes an action request (the tool's mapping names the action, the resource and the summary;
the payload is the call's arguments unless mapped). On approval the single-use token is consumed for
exactly the arguments that then run — the approved ones, edited or not — and the run is reported.
Nothing else ever runs a tool: not a client's "approve", not a resumed state, not a replay. A second
run of the same call (same agent, task and arguments) joins the same request, whose token is spent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, Union

from ._core import RequestCore
from .errors import InvalidRequest, NotApproved
from .models import OPEN_STATUSES, ApprovalOutcome, Resource, SignedReceipt

T = TypeVar("T")
Payload = dict[str, Any]


@dataclass(frozen=True)
class GatedAction:
    """How one tool's calls become action requests."""

    #: The catalog action for this tool, e.g. payments.refund.
    action: str
    #: What the call affects: a Resource (or its dict), or a function of the call's arguments.
    resource: Resource | Mapping[str, Any] | Callable[[Payload], Resource | Mapping[str, Any]]
    #: One line for reviewers (the agent's words), or a function of the arguments; default: the tool and its arguments.
    summary: str | Callable[[Payload], str] | None = None
    #: The payload reviewers see and the token binds; default: the arguments themselves.
    to_payload: Callable[[Payload], Payload] | None = None
    #: The arguments that run for an approved payload (edited or not); default: the payload itself.
    from_payload: Callable[[Payload], Payload] | None = None

    def request(self, arguments: Payload, *, task_id: str, on_behalf_of: str | None = None, context: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The action request for one call: whatever asks countersign about this call sends exactly this, so all of them join one request."""
        resource = self.resource(arguments) if callable(self.resource) else self.resource
        summary = self.summary(arguments) if callable(self.summary) else self.summary
        return {
            "taskId": task_id,
            "action": self.action,
            "summary": (summary or f"{self.action} {arguments}")[:500],
            "resource": resource.model_dump(exclude_none=True) if isinstance(resource, Resource) else dict(resource),
            "payload": self.to_payload(arguments) if self.to_payload else dict(arguments),
            **({"onBehalfOf": on_behalf_of} if on_behalf_of else {}),
            **({"context": dict(context)} if context else {}),
        }

    def arguments(self, payload: Payload) -> Payload:
        return self.from_payload(payload) if self.from_payload else dict(payload)


@dataclass(frozen=True)
class Executed(Generic[T]):
    """The token was consumed for `arguments` and the tool ran with them; the run was reported."""

    request_id: str
    result: T
    arguments: Payload
    receipt: SignedReceipt
    kind: str = field(default="executed", init=False)


@dataclass(frozen=True)
class Refused:
    """Never ran: denied, expired, changes requested, or the token was refused (spent already, expired)."""

    request_id: str
    status: str
    code: str
    message: str
    kind: str = field(default="refused", init=False)

    def text(self) -> str:
        """The sentence a model is told when its tool call did not run."""
        return f"countersign: not executed ({self.code}): {self.message}"


@dataclass(frozen=True)
class Pending:
    """Waiting for a reviewer: nothing ran; the same call again joins the same request."""

    request_id: str
    workflow_id: str
    status: str
    deadline: str | None = None
    kind: str = field(default="pending", init=False)

    def text(self) -> str:
        return (
            f"countersign: not executed (PENDING_REVIEW): request {self.request_id} awaits a reviewer's decision; "
            "the tool runs only after countersign approves it."
        )


GateResult = Union[Executed[T], Refused, Pending]


def refusal(request_id: str, status: str, outcome: ApprovalOutcome | None) -> Refused:
    """Why a request that is not approved (or whose token is spent) does not run: its outcome's code, else TOKEN_CONSUMED or NOT_CONSUMED."""
    spent = status in ("executed", "failed")
    code = (outcome.code if outcome else None) or ("TOKEN_CONSUMED" if spent else "NOT_CONSUMED")
    message = (outcome.message if outcome else None) or f"Request {request_id} is {status}: the tool does not run."
    return Refused(request_id, status, code, message)


def undecided(request: RequestCore) -> Refused | Pending | None:
    """Why this request may not run now (pending, or refused with its reason code); None when it is approved with a payload."""
    outcome = request.outcome
    if request.status in OPEN_STATUSES and outcome is None:
        return Pending(request.request_id, request.workflow_id, request.status, request.deadline)
    if request.status != "approved" or outcome is None or outcome.payload is None:
        return refusal(request.request_id, request.status, outcome)
    return None


def failure_message(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:2000]


def not_approved(blocked: Refused | Pending) -> NotApproved:
    if isinstance(blocked, Pending):
        return NotApproved("PENDING_REVIEW", blocked.text(), request_id=blocked.request_id, status_name=blocked.status)
    return NotApproved(blocked.code, blocked.message, request_id=blocked.request_id, status_name=blocked.status)


@dataclass(frozen=True)
class CallTemplate:
    """A guard decorator's request without its payload: each call's arguments fill it in."""

    gated: GatedAction
    task_id: str
    on_behalf_of: str | None
    context: Mapping[str, str] | None

    def options(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "on_behalf_of": self.on_behalf_of, "context": self.context}


def call_template(request: Mapping[str, Any]) -> CallTemplate:
    if "payload" in request:
        raise InvalidRequest('Field "payload": a guard used as a decorator takes its payload from the function\'s arguments; leave it out.')
    task_id = request.get("taskId", request.get("task_id"))
    if not isinstance(task_id, str):
        raise InvalidRequest('Field "taskId": a guard needs the task the calls belong to.')
    on_behalf_of = request.get("onBehalfOf", request.get("on_behalf_of"))
    return CallTemplate(
        gated=GatedAction(action=str(request.get("action", "")), resource=request.get("resource") or {}, summary=request.get("summary")),
        task_id=task_id,
        on_behalf_of=str(on_behalf_of) if on_behalf_of else None,
        context=request.get("context"),
    )
