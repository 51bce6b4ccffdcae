"""countersign for Python agents: ask before acting, run only with a consumed single-use token.

    from countersign import Countersign

    cs = Countersign()  # COUNTERSIGN_URL, COUNTERSIGN_API_KEY
    with cs.guard({"taskId": "ticket-4711", "action": "payments.refund", "summary": "Refund 40 USD",
                   "resource": {"type": "customer", "id": "C-42"}, "payload": refund}) as approval:
        do_refund(**approval.payload)

Integrations: countersign.langgraph, countersign.openai_agents, countersign.pydantic_ai (each with its extra).
"""

from ._canonical import action_digest, approval_workflow_id, canonical_json, request_id_for
from .async_client import AsyncApproval, AsyncApprovalRequest, AsyncCountersign, AsyncGuard
from .client import Approval, ApprovalRequest, Countersign, Guard
from .errors import (
    ConsumeRefused,
    CountersignError,
    Forbidden,
    InvalidRequest,
    NotApproved,
    NotFound,
    ServerProblem,
    ServerUnreachable,
    Unauthenticated,
)
from .gate import Executed, GatedAction, GateResult, Pending, Refused
from .keys import FileKeyStore, KeyStore, MemoryKeyStore
from .models import (
    ApprovalOutcome,
    ConsumeBody,
    EvidenceBundle,
    EvidenceEvent,
    EvidenceView,
    Problem,
    ReasonCode,
    ReportBody,
    RequestRow,
    Resource,
    SealedToken,
    SignedReceipt,
    SubmitBody,
    SubmitState,
    TokenGrant,
    Whoami,
)
from .sealing import AgentKey, generate_agent_key, open_token

__version__ = "0.1.0"

__all__ = [
    "AgentKey",
    "Approval",
    "ApprovalOutcome",
    "ApprovalRequest",
    "AsyncApproval",
    "AsyncApprovalRequest",
    "AsyncCountersign",
    "AsyncGuard",
    "ConsumeBody",
    "ConsumeRefused",
    "Countersign",
    "CountersignError",
    "EvidenceBundle",
    "EvidenceEvent",
    "EvidenceView",
    "Executed",
    "FileKeyStore",
    "Forbidden",
    "GateResult",
    "GatedAction",
    "Guard",
    "InvalidRequest",
    "KeyStore",
    "MemoryKeyStore",
    "NotApproved",
    "NotFound",
    "Pending",
    "Problem",
    "ReasonCode",
    "Refused",
    "ReportBody",
    "RequestRow",
    "Resource",
    "SealedToken",
    "ServerProblem",
    "ServerUnreachable",
    "SignedReceipt",
    "SubmitBody",
    "SubmitState",
    "TokenGrant",
    "Unauthenticated",
    "Whoami",
    "action_digest",
    "approval_workflow_id",
    "canonical_json",
    "generate_agent_key",
    "open_token",
    "request_id_for",
]
