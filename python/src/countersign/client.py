"""The agent's connection to countersign, synchronous: submit, wait, consume, report, evidence, guard
(client/sdk.ts). No Temporal client and no Temporal credentials here: only what the API key allows."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from . import _core
from ._http import MAX_HTTP_WAIT_SECONDS, SyncHttp, wait_params
from .errors import ConsumeRefused, CountersignError
from .gate import Executed, GatedAction, GateResult, Pending, Refused, call_template, failure_message, not_approved, undecided
from .keys import KeyStore, MemoryKeyStore
from .models import ApprovalOutcome, ConsumeBody, EvidenceView, RequestList, RequestRow, SignedReceipt, SubmitBody, SubmitState, Whoami

T = TypeVar("T")
FINAL_POLL_SECONDS = 0.25


class Countersign:
    """An agent's connection: `Countersign(url=..., api_key=...)`, or COUNTERSIGN_URL / COUNTERSIGN_API_KEY."""

    def __init__(self, url: str | None = None, api_key: str | None = None, *, key_store: KeyStore | None = None, transport: httpx.BaseTransport | None = None) -> None:
        base, key = _core.settings(url, api_key)
        self._http = SyncHttp(base, key, transport)
        self.keys: KeyStore = key_store if key_store is not None else MemoryKeyStore()
        self._me: Whoami | None = None

    def __repr__(self) -> str:
        return f"Countersign(url={str(self._http.base)!r}, agent={self._me.name if self._me else None!r})"

    def __enter__(self) -> Countersign:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def whoami(self) -> Whoami:
        """Who this API key is, as the server says (asked once)."""
        if self._me is None:
            self._me = Whoami.model_validate(self._http.request("GET", "/v1/whoami"))
        return self._me

    @property
    def agent_id(self) -> str:
        return self.whoami().name

    def submit(self, request: SubmitBody | Mapping[str, Any], *, wait: float = 0) -> ApprovalRequest:
        """Submits an action and waits up to `wait` seconds for the decision. The same agent, task and
        action join one request; once it has ended, its final decision comes back without a new review."""
        body, workflow_id = _core.plan_submit(request, self.agent_id, self.keys)
        first = min(wait, MAX_HTTP_WAIT_SECONDS)
        data = self._http.request("POST", "/v1/requests", _core.wire(body), params=wait_params(first), wait_seconds=first)
        state = _core.checked_state(data, workflow_id)
        if wait > first and state.outcome is None:
            state = self.wait(workflow_id, wait - first)
        return ApprovalRequest(self, body, state)

    def state(self, request_id: str, *, wait: float = 0) -> SubmitState:
        """A request's state now; with `wait`, after waiting up to that long (at most 60 s) for the decision."""
        wait = min(wait, MAX_HTTP_WAIT_SECONDS)
        return SubmitState.model_validate(self._http.request("GET", _core.path(request_id), params=wait_params(wait), wait_seconds=wait))

    def wait(self, request_id: str, seconds: float) -> SubmitState:
        """Waits up to `seconds` more for the decision of a submitted request."""
        remaining = seconds
        while True:
            chunk = min(remaining, MAX_HTTP_WAIT_SECONDS)
            state = self.state(request_id, wait=chunk)
            remaining -= chunk
            if state.outcome is not None or remaining <= 0:
                return state

    def outcome(self, request_id: str) -> ApprovalOutcome:
        """The final outcome, once the request has ended (waits for it)."""
        while True:
            state = self.state(request_id, wait=MAX_HTTP_WAIT_SECONDS)
            if state.final and state.outcome is not None:
                return state.outcome
            if state.outcome is not None:
                time.sleep(FINAL_POLL_SECONDS)

    def consume(self, request_id: str, body: ConsumeBody) -> SignedReceipt:
        """Spends the token on the action about to run; refusals raise ConsumeRefused with the reason code."""
        try:
            return SignedReceipt.model_validate(self._http.request("POST", _core.path(request_id, "consume"), _core.wire(body)))
        except CountersignError as err:
            raise _core.as_refusal(err) from None

    def report(self, request_id: str, status: str, *, message: str | None = None, result_digest: str | None = None) -> None:
        """Reports how execution went ("succeeded" or "failed"), after consuming."""
        body = _core.report_body(status, message, result_digest)
        try:
            self._http.request("POST", _core.path(request_id, "report"), _core.wire(body))
        except CountersignError as err:
            raise _core.as_refusal(err) from None

    def evidence(self, request_id: str) -> EvidenceView:
        """The evidence: the signed bundle once the request has ended, the chain so far while open."""
        return EvidenceView.model_validate(self._http.request("GET", _core.path(request_id, "evidence")))

    def list(self, *, open: bool = False) -> list[RequestRow]:
        """This agent's requests, newest first (only open ones with `open`)."""
        return RequestList.model_validate(self._http.request("GET", "/v1/requests", params={"open": "true"} if open else None)).requests

    def guard(self, request: Mapping[str, Any], *, wait: float = 60) -> Guard:
        """Runs code only after approval and the token's consumption, then reports: `with cs.guard(request) as approval:`,
        or `@cs.guard({...without payload...})` on a function whose arguments are the payload."""
        return Guard(self, request, wait)


class ApprovalRequest(_core.RequestCore):
    """One submitted action: its decision, its token, its consumption and report."""

    def __init__(self, cs: Countersign, request: SubmitBody, state: SubmitState) -> None:
        super().__init__(request, state, cs.keys)
        self._cs = cs

    def wait(self, seconds: float) -> ApprovalRequest:
        self.state = self._cs.wait(self.workflow_id, seconds)
        return self

    def consume(self, payload: Mapping[str, Any] | None = None, token: SecretStr | None = None) -> SignedReceipt:
        """Spends the token on the payload about to run (default: the approved one)."""
        receipt = self._cs.consume(self.workflow_id, self.consume_body(payload, token))
        self._keys.delete(self.workflow_id)  # spent: its key has nothing left to open
        return receipt

    def report(self, status: str, *, message: str | None = None, result_digest: str | None = None) -> None:
        self._cs.report(self.workflow_id, status, message=message, result_digest=result_digest)


class Approval:
    """Inside a guard: the approved request, the payload to run (a reviewer's edit when there was one) and the signed receipt."""

    def __init__(self, request: ApprovalRequest, payload: dict[str, Any], receipt: SignedReceipt) -> None:
        self.request = request
        self.payload = payload
        self.receipt = receipt

    def __repr__(self) -> str:
        return f"Approval(request_id={self.request.request_id!r}, receipt_id={self.receipt.body.receipt_id!r})"


def begin(cs: Countersign, request: Mapping[str, Any], wait: float) -> Refused | Pending | Approval:
    """Submits, and on approval consumes the token for the approved payload; otherwise says why nothing may run."""
    submitted = cs.submit(request, wait=wait)
    blocked = undecided(submitted)
    if blocked is not None:
        return blocked
    payload = dict(submitted.outcome.payload or {}) if submitted.outcome else {}
    try:
        receipt = submitted.consume(payload)
    except ConsumeRefused as err:  # spent, expired, bound elsewhere: nothing runs (anything else is raised)
        return Refused(submitted.request_id, submitted.status, err.code, err.message)
    return Approval(submitted, payload, receipt)


def finish(approval: Approval, error: BaseException | None) -> None:
    if error is None:
        approval.request.report("succeeded")
    else:
        approval.request.report("failed", message=failure_message(error))


def gated_call(cs: Countersign, gated: GatedAction, arguments: dict[str, Any], execute: Callable[[dict[str, Any]], T], *, task_id: str, wait: float = 0, on_behalf_of: str | None = None, context: Mapping[str, str] | None = None) -> GateResult[T]:
    """One call through countersign: `execute` runs only with a consumed token, with exactly the (approved) arguments it is given."""
    started = begin(cs, gated.request(arguments, task_id=task_id, on_behalf_of=on_behalf_of, context=context), wait)
    if not isinstance(started, Approval):
        return started
    approved = gated.arguments(started.payload)
    try:
        result = execute(approved)
    except BaseException as err:
        finish(started, err)
        raise
    finish(started, None)
    return Executed(started.request.request_id, result, approved, started.receipt)


class Guard:
    """`with cs.guard(request) as approval:` runs its body only after approval and consumption (NotApproved otherwise),
    then reports how it went; `@cs.guard(request_without_payload)` does the same for each call of a function,
    whose arguments are the payload (and whose approved, possibly edited, payload are the arguments it runs with)."""

    def __init__(self, cs: Countersign, request: Mapping[str, Any], wait: float) -> None:
        self._cs = cs
        self._request = request
        self._wait = wait
        self._approval: Approval | None = None

    def __enter__(self) -> Approval:
        started = begin(self._cs, self._request, self._wait)
        if not isinstance(started, Approval):
            raise not_approved(started)
        self._approval = started
        return started

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        approval, self._approval = self._approval, None
        if approval is not None:
            finish(approval, exc)

    def __call__(self, fn: Callable[..., T]) -> Callable[..., T]:
        signature = inspect.signature(fn)
        template = call_template(self._request)

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> T:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            result = gated_call(self._cs, template.gated, dict(bound.arguments), lambda approved: fn(**approved), wait=self._wait, **template.options())
            if isinstance(result, Executed):
                return result.result
            raise not_approved(result)

        return guarded
