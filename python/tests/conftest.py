"""The live half of the suite talks to the countersign server and worker test/python.test.ts starts
(COUNTERSIGN_URL, the agents' API keys, and the CLI that signs a reviewer's decision). Run it with
`node --import tsx test/run.ts test/python.test.ts`; a live test run without them fails, never skips."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import countersign
from countersign import AsyncCountersign, Countersign


def live(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the live tests through node --import tsx test/run.ts test/python.test.ts, which starts the server.")
    return value


def pytest_sessionstart(session: pytest.Session) -> None:
    src = os.environ.get("COUNTERSIGN_TEST_PYTHON_SRC")
    if src:  # the cached venv must be running this clone's source
        assert Path(countersign.__file__).resolve().is_relative_to(Path(src).resolve()), countersign.__file__


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def cs() -> Iterator[Countersign]:
    live("COUNTERSIGN_URL")
    with Countersign() as client:
        yield client


@pytest.fixture
async def acs() -> AsyncIterator[AsyncCountersign]:
    live("COUNTERSIGN_URL")
    async with AsyncCountersign() as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def refund_args(amount: float) -> dict[str, Any]:
    """A refund the test policy allows (≤ 100), reviews (> 100) or denies (> 10,000): each with its own order."""
    return {"customer": "C-42", "amount": amount, "currency": "USD", "order": unique("O")}


def refund_request(amount: float, **overrides: Any) -> dict[str, Any]:
    args = refund_args(amount)
    return {
        "taskId": unique("task"),
        "action": "payments.refund",
        "summary": f"Refund {amount} USD on {args['order']}",
        "resource": {"type": "customer", "id": "C-42"},
        "payload": args,
        **overrides,
    }


Reviewer = Callable[..., str]


@pytest.fixture
def review() -> Reviewer:
    """A reviewer's decision made with the real CLI, signed by their key: `review show` then the decision (approve by default)."""
    cli = json.loads(live("COUNTERSIGN_TEST_CLI"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "COUNTERSIGN_"))}
    env.update(COUNTERSIGN_URL=live("COUNTERSIGN_URL"), COUNTERSIGN_HOME=live("COUNTERSIGN_TEST_HOME"))

    def decide(request_id: str, *decision: str, reviewer: str = "dave") -> str:
        shown = subprocess.run([*cli, "review", "show", request_id, "--as", reviewer], env=env, capture_output=True, text=True, timeout=120)
        assert shown.returncode == 0, shown.stderr
        args = list(decision) or ["approve"]
        done = subprocess.run([*cli, "review", args[0], request_id, *args[1:], "--as", reviewer], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return decide
