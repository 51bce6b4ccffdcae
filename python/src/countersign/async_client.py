"""The agent's connection to countersign for asyncio: the same operations and meanings as the synchronous
client (client.py), awaited."""

from __future__ import annotations

import functools
import inspect
import asyncio
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from . import _core
from ._http import MAX_HTTP_WAIT_SECONDS, AsyncHttp, wait_params
from .errors import ConsumeRefused, CountersignError
from .gate import Executed, GatedAction, GateResult, Pending, Refused, call_template, failure_message, not_approved, undecided
from .keys import KeyStore, MemoryKeyStore
from .models import ApprovalOutcome, ConsumeBody, EvidenceView, RequestList, RequestRow, SignedReceipt, SubmitBody, SubmitState, Whoami

T = TypeVar("T")
FINAL_POLL_SECONDS = 0.25


class AsyncCountersign:
    """An agent's connection for asyncio: `AsyncCountersign(url=..., api_key=...)`, or COUNTERSIGN_URL / COUNTERSIGN_API_KEY."""

    def __init__(self, url: str | None = None, api_key: str | None = None, *, key_store: KeyStore | None = None, transport: httpx.AsyncBaseTransport | None = None) -> None:
        base, key = _core.settings(url, api_key)
        self._http = AsyncHttp(base, key, transport)
        self.keys: KeyStore = key_store if key_store is not None else MemoryKeyStore()
        self._me: Whoami | None = None

    def __repr__(self) -> str:
        return f"AsyncCountersign(url={str(self._http.base)!r}, agent={self._me.name if self._me else None!r})"

    async def __aenter__(self) -> AsyncCountersign:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def whoami(self) -> Whoami:
        """Who this API key is, as the server says (asked once)."""
        if self._me is None:
            self._me = Whoami.model_validate(await self._http.request("GET", "/v1/whoami"))
        return self._me

    async def agent_id(self) -> str:
        return (await self.whoami()).name

    async def submit(self, request: SubmitBody | Mapping[str, Any], *, wait: float = 0) -> AsyncApprovalRequest:
        """Submits an action and waits up to `wait` seconds for the decision. The same agent, task and
        action join one request; once it has ended, its final decision comes back without a new review."""
        body, workflow_id = _core.plan_submit(request, await self.agent_id(), self.keys)
        first = min(wait, MAX_HTTP_WAIT_SECONDS)
        data = await self._http.request("POST", "/v1/requests", _core.wire(body), params=wait_params(first), wait_seconds=first)
        state = _core.checked_state(data, workflow_id)
        if wait > first and state.outcome is None:
            state = await self.wait(workflow_id, wait - first)
        return AsyncApprovalRequest(self, body, state)

    async def state(self, request_id: str, *, wait: float = 0) -> SubmitState:
        """A request's state now; with `wait`, after waiting up to that long (at most 60 s) for the decision."""
        wait = min(wait, MAX_HTTP_WAIT_SECONDS)
        return SubmitState.model_validate(await self._http.request("GET", _core.path(request_id), params=wait_params(wait), wait_seconds=wait))

    async def wait(self, request_id: str, seconds: float) -> SubmitState:
        """Waits up to `seconds` more for the decision of a submitted request."""
        remaining = seconds
        while True:
            chunk = min(remaining, MAX_HTTP_WAIT_SECONDS)
            state = await self.state(request_id, wait=chunk)
            remaining -= chunk
            if state.outcome is not None or remaining <= 0:
                return state

    async def outcome(self, request_id: str) -> ApprovalOutcome:
        """The final outcome, once the request has ended (waits for it)."""
        while True:
            state = await self.state(request_id, wait=MAX_HTTP_WAIT_SECONDS)
            if state.final and state.outcome is not None:
                return state.outcome
            if state.outcome is not None:
                await asyncio.sleep(FINAL_POLL_SECONDS)

    async def consume(self, request_id: str, body: ConsumeBody) -> SignedReceipt:
        """Spends the token on the action about to run; refusals raise ConsumeRefused with the reason code."""
        try:
            return SignedReceipt.model_validate(await self._http.request("POST", _core.path(request_id, "consume"), _core.wire(body)))
        except CountersignError as err:
            raise _core.as_refusal(err) from None

    async def report(self, request_id: str, status: str, *, message: str | None = None, result_digest: str | None = None) -> None:
        """Reports how execution went ("succeeded" or "failed"), after consuming."""
        body = _core.report_body(status, message, result_digest)
        try:
            await self._http.request("POST", _core.path(request_id, "report"), _core.wire(body))
        except CountersignError as err:
            raise _core.as_refusal(err) from None

    async def evidence(self, request_id: str) -> EvidenceView:
        """The evidence: the signed bundle once the request has ended, the chain so far while open."""
        return EvidenceView.model_validate(await self._http.request("GET", _core.path(request_id, "evidence")))

    async def list(self, *, open: bool = False) -> list[RequestRow]:
        """This agent's requests, newest first (only open ones with `open`)."""
        return RequestList.model_validate(await self._http.request("GET", "/v1/requests", params={"open": "true"} if open else None)).requests

    def guard(self, request: Mapping[str, Any], *, wait: float = 60) -> AsyncGuard:
        """Runs code only after approval and the token's consumption, then reports: `async with cs.guard(request) as approval:`,
        or `@cs.guard({...without payload...})` on an async function whose arguments are the payload."""
        return AsyncGuard(self, request, wait)


class AsyncApprovalRequest(_core.RequestCore):
    """One submitted action: its decision, its token, its consumption and report."""

    def __init__(self, cs: AsyncCountersign, request: SubmitBody, state: SubmitState) -> None:
        super().__init__(request, state, cs.keys)
        self._cs = cs

    async def wait(self, seconds: float) -> AsyncApprovalRequest:
        self.state = await self._cs.wait(self.workflow_id, seconds)
        return self

    async def consume(self, payload: Mapping[str, Any] | None = None, token: SecretStr | None = None) -> SignedReceipt:
        """Spends the token on the payload about to run (default: the approved one)."""
        receipt = await self._cs.consume(self.workflow_id, self.consume_body(payload, token))
        self._keys.delete(self.workflow_id)  # spent: its key has nothing left to open
        return receipt

    async def report(self, status: str, *, message: str | None = None, result_digest: str | None = None) -> None:
        await self._cs.report(self.workflow_id, status, message=message, result_digest=result_digest)


class AsyncApproval:
    """Inside a guard: the approved request, the payload to run (a reviewer's edit when there was one) and the signed receipt."""

    def __init__(self, request: AsyncApprovalRequest, payload: dict[str, Any], receipt: SignedReceipt) -> None:
        self.request = request
        self.payload = payload
        self.receipt = receipt

    def __repr__(self) -> str:
        return f"AsyncApproval(request_id={self.request.request_id!r}, receipt_id={self.receipt.body.receipt_id!r})"


async def begin(cs: AsyncCountersign, request: Mapping[str, Any], wait: float) -> Refused | Pending | AsyncApproval:
    """Submits, and on approval consumes the token for the approved payload; otherwise says why nothing may run."""
    submitted = await cs.submit(request, wait=wait)
    blocked = undecided(submitted)
    if blocked is not None:
        return blocked
    payload = dict(submitted.outcome.payload or {}) if submitted.outcome else {}
    try:
        receipt = await submitted.consume(payload)
    except ConsumeRefused as err:  # spent, expired, bound elsewhere: nothing runs (anything else is raised)
        return Refused(submitted.request_id, submitted.status, err.code, err.message)
    return AsyncApproval(submitted, payload, receipt)


async def finish(approval: AsyncApproval, error: BaseException | None) -> None:
    if error is None:
        await approval.request.report("succeeded")
    else:
        await approval.request.report("failed", message=failure_message(error))


async def gated_call(cs: AsyncCountersign, gated: GatedAction, arguments: dict[str, Any], execute: Callable[[dict[str, Any]], Awaitable[T]], *, task_id: str, wait: float = 0, on_behalf_of: str | None = None, context: Mapping[str, str] | None = None) -> GateResult[T]:
    """One call through countersign: `execute` runs only with a consumed token, with exactly the (approved) arguments it is given."""
    started = await begin(cs, gated.request(arguments, task_id=task_id, on_behalf_of=on_behalf_of, context=context), wait)
    if not isinstance(started, AsyncApproval):
        return started
    approved = gated.arguments(started.payload)
    try:
        result = await execute(approved)
    except BaseException as err:
        await finish(started, err)
        raise
    await finish(started, None)
    return Executed(started.request.request_id, result, approved, started.receipt)


class AsyncGuard:
    """`async with cs.guard(request) as approval:` runs its body only after approval and consumption (NotApproved otherwise),
    then reports how it went; `@cs.guard(request_without_payload)` does the same for each call of a function,
    whose arguments are the payload (and whose approved, possibly edited, payload are the arguments it runs with)."""

    def __init__(self, cs: AsyncCountersign, request: Mapping[str, Any], wait: float) -> None:
        self._cs = cs
        self._request = request
        self._wait = wait
        self._approval: AsyncApproval | None = None

    async def __aenter__(self) -> AsyncApproval:
        started = await begin(self._cs, self._request, self._wait)
        if not isinstance(started, AsyncApproval):
            raise not_approved(started)
        self._approval = started
        return started

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        approval, self._approval = self._approval, None
        if approval is not None:
            await finish(approval, exc)

    def __call__(self, fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        signature = inspect.signature(fn)
        template = call_template(self._request)

        @functools.wraps(fn)
        async def guarded(*args: Any, **kwargs: Any) -> T:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            result = await gated_call(self._cs, template.gated, dict(bound.arguments), lambda approved: fn(**approved), wait=self._wait, **template.options())
            if isinstance(result, Executed):
                return result.result
            raise not_approved(result)

        return guarded
