"""What countersign refuses, as exceptions that carry the reason code and the RFC 9457 problem.

A message is the server's sentence or ours; it never holds a token, an API key or a private key.
"""

from __future__ import annotations

from typing import Any


class CountersignError(Exception):
    """Base of every countersign refusal: `code` is the reason code to act on; `problem` the server's RFC 9457 body, when it sent one."""

    def __init__(self, code: str, message: str, *, status: int | None = None, problem: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.problem = problem

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, message={self.message!r})"


class ServerProblem(CountersignError):
    """The server answered with problem details this client has no narrower class for."""


class Unauthenticated(ServerProblem):
    """401: no API key, or not a valid one (UNAUTHENTICATED)."""


class Forbidden(ServerProblem):
    """403: this credential may not do that (another agent's request, a reviewer's endpoint)."""


class NotFound(ServerProblem):
    """404: no such request, or not one this credential may see."""


class InvalidRequest(CountersignError):
    """Bad input (INVALID_REQUEST): one sentence naming the field; nothing was started."""

    def __init__(self, message: str, *, status: int | None = None, problem: Any = None) -> None:
        super().__init__("INVALID_REQUEST", message, status=status, problem=problem)


class ConsumeRefused(CountersignError):
    """The token's consumption or the outcome report was refused (TOKEN_CONSUMED, BINDING_MISMATCH, TOKEN_EXPIRED, …): nothing may run."""


class NotApproved(CountersignError):
    """guard(): the action was not approved (denied, expired, changes requested, still pending), so nothing ran."""

    def __init__(self, code: str, message: str, *, request_id: str, status_name: str) -> None:
        super().__init__(code, message)
        self.request_id = request_id
        self.status_name = status_name


class ServerUnreachable(CountersignError):
    """The server could not be reached, or broke off its answer."""

    def __init__(self, message: str) -> None:
        super().__init__("UNREACHABLE", message)
