"""What the sync and the async client share: settings, the submit plan, the refusal mapping, and an
approval request's pure half (its state, its token, the consume body for a payload)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr, ValidationError

from ._canonical import action_digest, approval_workflow_id
from ._http import server_url
from .errors import ConsumeRefused, CountersignError, InvalidRequest, ServerProblem
from .keys import KeyStore
from .models import REASON_CODES, ApprovalOutcome, ConsumeBody, ReportBody, SubmitBody, SubmitState
from .sealing import generate_agent_key, open_token

MAX_REPORT_MESSAGE = 2000


def settings(url: str | None, api_key: str | None) -> tuple[httpx.URL, str]:
    url = url if url is not None else os.environ.get("COUNTERSIGN_URL")
    api_key = api_key if api_key is not None else os.environ.get("COUNTERSIGN_API_KEY")
    if not url:
        raise InvalidRequest("Say where the server is: COUNTERSIGN_URL (or Countersign(url=...)), such as http://127.0.0.1:7280.")
    if not api_key:
        raise InvalidRequest("Give the agent's API key: COUNTERSIGN_API_KEY (or Countersign(api_key=...)), from countersign keys agent NAME.")
    if len(api_key) > 512 or not api_key.isprintable():
        raise InvalidRequest("COUNTERSIGN_API_KEY is not an API key (printable, at most 512 characters).")
    return server_url(url), api_key


def invalid(err: ValidationError) -> InvalidRequest:
    """Pydantic's first issue as one sentence naming the field (never the value: it may be a secret)."""
    first = err.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "the request"
    return InvalidRequest(f'Field "{where}": {first["msg"]}.')


def path(workflow_id: str, action: str = "") -> str:
    return f"/v1/requests/{quote(workflow_id[:300], safe='')}{'/' + action if action else ''}"


def as_refusal(err: CountersignError) -> CountersignError:
    """A consume or report refusal as ConsumeRefused with its reason code (client/sdk.ts asRefusal); a
    refused credential stays Unauthenticated, another agent's request NotFound."""
    if isinstance(err, InvalidRequest) or (type(err) is ServerProblem and err.code in REASON_CODES):
        return ConsumeRefused(err.code, err.message, status=err.status, problem=err.problem)
    return err


def plan_submit(request: SubmitBody | Mapping[str, Any], agent_id: str, keys: KeyStore) -> tuple[SubmitBody, str]:
    """The body to send and its workflow id: the agent is the key's own unless the request names one;
    the token is sealed to a fresh X25519 key per request (the same key when the same request is asked again)."""
    raw: dict[str, Any] = request.model_dump(by_alias=True, exclude_none=True) if isinstance(request, SubmitBody) else dict(request)
    if "agentId" not in raw and "agent_id" not in raw:
        raw["agentId"] = agent_id
    placeholder = "agentKey" not in raw and "agent_key" not in raw
    if placeholder:
        raw["agentKey"] = "A" * 43 + "="
    try:
        body = SubmitBody.model_validate(raw)
    except ValidationError as err:
        raise invalid(err) from None
    try:
        workflow_id = approval_workflow_id(body.agent_id or agent_id, body.task_id, body.action, body.resource.model_dump(exclude_none=True), body.payload)
    except (ValueError, TypeError) as err:
        raise InvalidRequest(f'Field "payload": {err}.') from None
    if placeholder:
        key = keys.get(workflow_id)
        if key is None:
            key = generate_agent_key()
            keys.put(workflow_id, key)
        body = body.model_copy(update={"agent_key": key.public_key})
    return body, workflow_id


def wire(model: SubmitBody | ConsumeBody | ReportBody) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def checked_state(data: Any, expected_workflow_id: str | None = None) -> SubmitState:
    state = SubmitState.model_validate(data)
    if expected_workflow_id is not None and state.workflow_id != expected_workflow_id:
        raise CountersignError(
            "DIGEST_DISAGREEMENT",
            f"The server names workflow {state.workflow_id[:200]} for this request, this client computed {expected_workflow_id}: "
            "their canonical JSON disagrees, so no token could be bound to it.",
        )
    return state


def report_body(status: str, message: str | None, result_digest: str | None) -> ReportBody:
    try:
        return ReportBody.model_validate({"status": status, "message": None if message is None else message[:MAX_REPORT_MESSAGE], "resultDigest": result_digest})
    except ValidationError as err:
        raise invalid(err) from None


class RequestCore:
    """One submitted action from the agent's side: its state and the token it may open."""

    def __init__(self, request: SubmitBody, state: SubmitState, keys: KeyStore) -> None:
        self.request = request
        self.state = state
        self._keys = keys

    @property
    def request_id(self) -> str:
        return self.state.request_id

    @property
    def workflow_id(self) -> str:
        return self.state.workflow_id

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def outcome(self) -> ApprovalOutcome | None:
        return self.state.outcome

    @property
    def deadline(self) -> str | None:
        return self.state.deadline

    @property
    def approved(self) -> bool:
        return self.state.status == "approved" and self.state.outcome is not None and self.state.outcome.payload is not None

    def open_token(self) -> SecretStr | None:
        """The plaintext token (a SecretStr: its repr is masked), or None until approved or when the key is not this agent's."""
        grant = self.outcome.token if self.outcome else None
        key = self._keys.get(self.workflow_id)
        if grant is None or grant.sealed is None or key is None:
            return None
        try:
            return open_token(key, grant.sealed, self.workflow_id, grant.token_id)
        except ConsumeRefused:
            return None  # sealed to another key: this agent never held it

    def consume_body(self, payload: Mapping[str, Any] | None, token: SecretStr | None) -> ConsumeBody:
        if payload is None:
            payload = self.outcome.payload if self.outcome else None
        token = token if token is not None else self.open_token()
        if token is None:
            raise ConsumeRefused("TOKEN_INVALID", f"Request {self.request_id} has no token to consume (status {self.status}).")
        if payload is None:
            raise ConsumeRefused("BINDING_MISMATCH", "There is no payload to consume the token for.")
        try:
            digest = action_digest(self.request.action, self.request.resource.model_dump(exclude_none=True), payload)
        except (ValueError, TypeError) as err:
            raise ConsumeRefused("BINDING_MISMATCH", f"The payload cannot be bound: {err}.") from None
        agent_id = self.request.agent_id or ""
        return ConsumeBody(token=token, agent_id=agent_id, task_id=self.request.task_id, action_digest=digest)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(request_id={self.request_id!r}, workflow_id={self.workflow_id!r}, status={self.status!r})"
