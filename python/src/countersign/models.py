"""The HTTP API's bodies as pydantic v2 models, field for field with the server's /openapi.json
(tests/test_openapi_drift.py fails when the two disagree). Python names are snake_case; the wire
names are the API's camelCase (aliases), and a model accepts either.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer
from pydantic.alias_generators import to_camel

ApprovalStatus = Literal[
    "evaluating",
    "pending",
    "escalated",
    "approved",
    "denied",
    "changes_requested",
    "expired",
    "executed",
    "failed",
    "not_executed",
    "outcome_unknown",
    "cancelled",
]
OutcomeStatus = Literal["approved", "denied", "changes_requested", "expired", "executed", "failed", "not_executed", "outcome_unknown", "cancelled"]
OPEN_STATUSES: frozenset[str] = frozenset({"evaluating", "pending", "escalated"})


class ReasonCode:
    """The reason codes a refusal or an outcome carries (common/codes.ts)."""

    POLICY_DENIED = "POLICY_DENIED"
    REVIEWER_DENIED = "REVIEWER_DENIED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    SLA_EXPIRED = "SLA_EXPIRED"
    INVALID_REQUEST = "INVALID_REQUEST"
    TOKEN_INVALID = "TOKEN_INVALID"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_CONSUMED = "TOKEN_CONSUMED"
    BINDING_MISMATCH = "BINDING_MISMATCH"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    ALREADY_DECIDED = "ALREADY_DECIDED"
    NOT_CONSUMED = "NOT_CONSUMED"
    STALE_VERSION = "STALE_VERSION"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    ASSURANCE_REQUIRED = "ASSURANCE_REQUIRED"
    TOO_MANY_OPEN_REQUESTS = "TOO_MANY_OPEN_REQUESTS"
    BATCH_NOT_ALLOWED = "BATCH_NOT_ALLOWED"


REASON_CODES: tuple[str, ...] = tuple(v for k, v in vars(ReasonCode).items() if k.isupper())

_IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"
_HEX_DIGEST = r"^[0-9a-f]{64}$"
MAX_SUMMARY_CHARS = 500
MAX_TEXT_CHARS = 2000


class _Body(BaseModel):
    """What the client sends: unknown fields refused, as the server refuses them."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class _View(BaseModel):
    """What the server answers: fields it adds later are ignored, not errors."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class Resource(_Body):
    """What an action affects, e.g. {"type": "customer", "id": "C-42"}."""

    type: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_-]*$")]
    id: Annotated[str, Field(min_length=1, max_length=256)]
    owner: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    environment: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")] | None = None


class SubmitBody(_Body):
    """An action request as an agent submits it (DESIGN §2); `agent_id` is the credential's own and may be left out."""

    agent_id: Annotated[str, Field(min_length=1, max_length=128, pattern=_IDENTIFIER)] | None = None
    task_id: Annotated[str, Field(min_length=1, max_length=128, pattern=_IDENTIFIER)]
    action: Annotated[str, Field(max_length=200, pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$")]
    summary: Annotated[str, Field(min_length=1, max_length=MAX_SUMMARY_CHARS)]
    resource: Resource
    payload: dict[str, Any]
    on_behalf_of: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    context: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=MAX_TEXT_CHARS)]] | None = None
    agent_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]{43}=$")]


class ConsumeBody(_Body):
    """Spends the token on the action about to run: `action_digest` is the digest of exactly that action."""

    token: SecretStr = Field(min_length=1, max_length=200)
    agent_id: Annotated[str, Field(min_length=1, max_length=128)]
    task_id: Annotated[str, Field(min_length=1, max_length=128)]
    action_digest: Annotated[str, Field(pattern=_HEX_DIGEST)]

    @field_serializer("token", when_used="json")
    def _reveal(self, token: SecretStr) -> str:
        return token.get_secret_value()


class ReportBody(_Body):
    """How execution went, after consuming."""

    status: Literal["succeeded", "failed"]
    result_digest: Annotated[str, Field(pattern=_HEX_DIGEST)] | None = None
    message: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | None = None


class Problem(_View):
    """RFC 9457 problem details, with the reason code to act on."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None


class Whoami(_View):
    role: str
    name: str


class SealedToken(_View):
    """The token sealed to the request's agentKey (X25519 → HKDF-SHA256 → AES-256-GCM)."""

    alg: Literal["X25519-HKDF-SHA256-A256GCM"]
    epk: str
    iv: str
    ciphertext: str
    tag: str


class TokenGrant(_View):
    """What an approval carries: never the plaintext, only the sealed box."""

    token_id: str
    expires_at: str
    sealed: SealedToken | None = None


class ExecutionResult(_View):
    status: Literal["succeeded", "failed", "unknown", "not_executed"]
    result_digest: str | None = None
    message: str | None = None
    receipt_id: str | None = None


class EvidenceRef(_View):
    path: str
    digest: str


class _OutcomeFields(_View):
    request_id: str
    workflow_id: str
    status: OutcomeStatus
    code: str | None = Field(default=None, json_schema_extra={"enum": list(REASON_CODES)})
    message: str | None = None
    reviewer_reason: str | None = None
    decided_by: Literal["policy", "reviewers", "timer", "cancellation"]
    reviewers: list[str]
    payload: dict[str, Any] | None = None
    edited: bool
    action_digest: str
    comment: str | None = None
    proposed_payload: dict[str, Any] | None = None
    rule_ids: list[str]
    risk: Literal["low", "medium", "high", "critical"]
    policy_digest: str | None = None
    decided_at: str
    execution: ExecutionResult | None = None


class ApprovalOutcome(_OutcomeFields):
    """The final decision: approved (with the payload to run and the sealed token), or why not."""

    token: TokenGrant | None = None
    evidence: EvidenceRef | None = None


class SubmitState(_View):
    """A request's state: its decision once made, else the pending state and deadline; `final` once it has ended."""

    request_id: str
    workflow_id: str
    status: ApprovalStatus
    outcome: ApprovalOutcome | None = None
    deadline: str | None = None
    final: bool | None = None


class ExecutionReceipt(_View):
    receipt_id: str
    workflow_id: str
    request_id: str
    token_id: str
    approval_record_digest: str
    action_digest: str
    agent_id: str
    task_id: str
    consumed_at: str


class SignedReceipt(_View):
    """The layer's signed receipt for a consumed token."""

    body: ExecutionReceipt
    key_id: str
    signature: str


class DisplayField(_View):
    name: str
    value: str


class RequestRow(_View):
    request_id: str
    workflow_id: str
    action: str
    resource: str
    summary: str
    risk: str | None = None
    groups: list[str]
    agent: str
    status: str
    started_at: str
    deadline: str | None = None
    display: list[DisplayField] | None = None
    approvals: int | None = None
    approvals_needed: int | None = None


class RequestList(_View):
    requests: list[RequestRow]


EVIDENCE_TYPES = (
    "requested", "evaluated", "notified", "notification_failed", "approved", "edited", "denied", "changes_requested", "escalated",
    "expired", "refused", "token_minted", "consumed", "consume_refused", "reported", "token_expired", "report_missing", "cancelled", "closed",
)  # fmt: skip


class EvidenceEvent(_View):
    """One step of an approval, chained to the one before by its hash."""

    seq: int
    at: str
    type: str = Field(json_schema_extra={"enum": list(EVIDENCE_TYPES)})
    actor: str | None = None
    detail: str
    data: dict[str, Any] | None = None
    prev_hash: str
    hash: str


class TokenBinding(_View):
    agent_id: str
    task_id: str
    action_digest: str
    workflow_id: str


class RecordedDecision(_View):
    reviewer: str
    decision: str
    action_digest: str
    at: str
    signed: bool
    assurance: Literal["key", "passkey", "chat"] | None = None


class ApprovalRecord(_View):
    """Signed by the layer when the token is minted: who asked, which policy, who decided, which token."""

    workflow_id: str
    request_id: str
    request_digest: str
    action_digest: str
    policy_digest: str
    rule_ids: list[str]
    decided_by: Literal["policy", "reviewers"]
    decisions: list[RecordedDecision]
    token_id: str
    token_hash: str
    binding: TokenBinding
    expires_at: str
    issued_at: str


class SignedApprovalRecord(_View):
    body: ApprovalRecord
    key_id: str
    signature: str


class ShownRequest(_View):
    """The action request as evidence keeps it (without its agentKey)."""

    agent_id: str
    task_id: str
    action: str
    summary: str
    resource: Resource
    on_behalf_of: str | None = None
    context: dict[str, str] | None = None
    payload: dict[str, Any]


class TokenRef(_View):
    token_id: str
    expires_at: str


class BundleOutcome(_OutcomeFields):
    """The outcome as evidence keeps it: the token by id only."""

    token: TokenRef | None = None


class BundleSigner(_View):
    key_id: str
    public_key: str


class BundleLogProof(_View):
    """Where a sealed bundle is in the transparency log: its leaf, the inclusion proof and the signed checkpoint (outside the signed body)."""

    run_id: str
    index: int
    tree_size: int
    inclusion: list[str]
    checkpoint: str


class EvidenceBundle(_View):
    """The hash-chained events and what they prove; `signer` and `signature` once sealed (`countersign verify` checks it offline)."""

    format: Literal["countersign/evidence/v1"]
    decided_at: Literal["edge"] | None = None
    """``"edge"`` for an allow decided at the front door: signed by the edge key, not the layer key."""
    workflow_id: str
    request_id: str
    request: ShownRequest
    request_digest: str
    outcome: BundleOutcome | None = None
    """Absent while the request is open: the bundle is then the chain so far."""
    events: list[EvidenceEvent]
    approval_record: SignedApprovalRecord | None = None
    receipt: SignedReceipt | None = None
    signer: BundleSigner | None = None
    signature: str | None = None
    log: BundleLogProof | None = None
    """Once sealed and under a checkpoint of the log."""


class EvidenceView(_View):
    """A request's evidence: the signed bundle once sealed, the hash chain so far while open."""

    sealed: bool
    bundle: EvidenceBundle
