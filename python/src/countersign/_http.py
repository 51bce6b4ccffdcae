"""JSON over HTTP to `countersign server` (client/http.ts): problem details become exceptions, 429 is
retried, redirects are refused (one could carry the key elsewhere), answers are bounded in size."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from pydantic import ValidationError

from .errors import CountersignError, Forbidden, InvalidRequest, NotFound, ServerProblem, ServerUnreachable, Unauthenticated
from .models import Problem

MAX_HTTP_WAIT_SECONDS = 60
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
RETRIES_ON_429 = 5
CONNECT_TIMEOUT_SECONDS = 10.0
#: Beyond a long-poll's own wait, how long an answer may take.
READ_GRACE_SECONDS = 30.0


def server_url(url: str) -> httpx.URL:
    """The server's base URL: http(s), and plain http only to this machine (a key never crosses a network in the clear)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise InvalidRequest(f'COUNTERSIGN_URL must be the server\'s URL, such as http://127.0.0.1:7280, got "{str(url)[:200]}".') from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidRequest(f'COUNTERSIGN_URL must be http:// or https://, got "{str(url)[:200]}".')
    if parsed.scheme == "http" and not _loopback(parsed.host):
        raise InvalidRequest(f"COUNTERSIGN_URL must be https:// for a server on another machine ({parsed.host}): keys are not sent in the clear.")
    return parsed


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def wait_params(seconds: float) -> dict[str, str]:
    return {"wait": f"{math.ceil(seconds)}s"} if seconds > 0 else {}


def problem_error(status: int, content: bytes) -> CountersignError:
    """The exception for a refusal: by status, then by reason code, with the problem attached."""
    problem: Problem | None = None
    try:
        problem = Problem.model_validate_json(content)
    except ValidationError:
        pass  # not problem details: a proxy's page
    message = problem.detail[:2000] if problem else f"The server answered {status}."
    code = problem.code if problem else f"HTTP_{status}"
    if status == 401:
        return Unauthenticated("UNAUTHENTICATED", message, status=status, problem=problem)
    if status == 404:
        return NotFound(code, message, status=status, problem=problem)
    if status in (400, 415, 422) and code == "INVALID_REQUEST":
        return InvalidRequest(message, status=status, problem=problem)
    if status == 403:
        return Forbidden(code, message, status=status, problem=problem)
    return ServerProblem(code, message, status=status, problem=problem)


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(10.0, max(1.0, float(response.headers.get("retry-after", "1"))))
    except ValueError:
        return 1.0


class _Credential:
    """The API key, kept out of every repr."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def header(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._value}", "accept": "application/json"}

    def __repr__(self) -> str:
        return "<api key>"


def _encode(body: Any) -> bytes | None:
    return None if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _decode(status: int, content: bytes) -> Any:
    if status == 204 or not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        raise ServerProblem(f"HTTP_{status}", f"The server answered {status} with a body that is not JSON.", status=status) from None


def _timeout(wait_seconds: float) -> httpx.Timeout:
    return httpx.Timeout(CONNECT_TIMEOUT_SECONDS + READ_GRACE_SECONDS + wait_seconds, connect=CONNECT_TIMEOUT_SECONDS)


def _too_large(base: httpx.URL) -> ServerUnreachable:
    return ServerUnreachable(f"The countersign server at {base} answered more than {MAX_RESPONSE_BYTES} bytes.")


def _unreachable(base: httpx.URL, err: Exception) -> ServerUnreachable:
    return ServerUnreachable(f"Cannot reach the countersign server at {base} ({type(err).__name__}). Is it running?")


def _bounded(chunks: Iterator[bytes], base: httpx.URL) -> bytes:
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > MAX_RESPONSE_BYTES:
            raise _too_large(base)
    return bytes(out)


async def _abounded(chunks: AsyncIterator[bytes], base: httpx.URL) -> bytes:
    out = bytearray()
    async for chunk in chunks:
        out += chunk
        if len(out) > MAX_RESPONSE_BYTES:
            raise _too_large(base)
    return bytes(out)


class SyncHttp:
    def __init__(self, base: httpx.URL, api_key: str, transport: httpx.BaseTransport | None = None) -> None:
        self.base = base
        self._credential = _Credential(api_key)
        self._client = httpx.Client(base_url=base, follow_redirects=False, transport=transport)

    def request(self, method: str, path: str, body: Any = None, *, params: dict[str, str] | None = None, wait_seconds: float = 0) -> Any:
        content = _encode(body)
        headers = {**self._credential.header(), **({"content-type": "application/json"} if content is not None else {})}
        for attempt in range(1, RETRIES_ON_429 + 1):
            try:
                with self._client.stream(method, path, content=content, headers=headers, params=params, timeout=_timeout(wait_seconds)) as response:
                    data = _bounded(response.iter_bytes(), self.base)
            except httpx.HTTPError as err:
                raise _unreachable(self.base, err) from None
            if response.status_code == 429 and attempt < RETRIES_ON_429:
                time.sleep(_retry_after(response))
                continue
            if response.is_success:
                return _decode(response.status_code, data)
            raise problem_error(response.status_code, data)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._client.close()


class AsyncHttp:
    def __init__(self, base: httpx.URL, api_key: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base = base
        self._credential = _Credential(api_key)
        self._client = httpx.AsyncClient(base_url=base, follow_redirects=False, transport=transport)

    async def request(self, method: str, path: str, body: Any = None, *, params: dict[str, str] | None = None, wait_seconds: float = 0) -> Any:
        content = _encode(body)
        headers = {**self._credential.header(), **({"content-type": "application/json"} if content is not None else {})}
        for attempt in range(1, RETRIES_ON_429 + 1):
            try:
                async with self._client.stream(method, path, content=content, headers=headers, params=params, timeout=_timeout(wait_seconds)) as response:
                    data = await _abounded(response.aiter_bytes(), self.base)
            except httpx.HTTPError as err:
                raise _unreachable(self.base, err) from None
            if response.status_code == 429 and attempt < RETRIES_ON_429:
                await asyncio.sleep(_retry_after(response))
                continue
            if response.is_success:
                return _decode(response.status_code, data)
            raise problem_error(response.status_code, data)
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self._client.aclose()
