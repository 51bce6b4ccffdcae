"""Where an interrupted agent run waits for countersign: its serialized state, keyed by the countersign
request id of each call it holds, so a decision (by wait or by webhook) finds the run it resumes
(client/adapters/openai-agents-store.ts). In memory, or one file per request id (mode 0600: a run's
state carries the conversation) so another process can resume it."""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

MAX_STATE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class HeldCall:
    """One tool call of the run that waits for a countersign decision."""

    call_id: str
    tool_name: str
    request_id: str
    workflow_id: str


@dataclass(frozen=True)
class HeldRun:
    """An interrupted run: its serialized state and the calls it holds for countersign."""

    state: str
    calls: tuple[HeldCall, ...]

    def to_json(self) -> str:
        return json.dumps({"state": self.state, "calls": [asdict(c) for c in self.calls]})

    @classmethod
    def from_json(cls, text: str) -> HeldRun:
        data = json.loads(text)
        return cls(state=data["state"], calls=tuple(HeldCall(**c) for c in data["calls"]))


class RunStateStore(Protocol):
    def get(self, request_id: str) -> HeldRun | None: ...
    def put(self, request_id: str, run: HeldRun) -> None: ...
    def take(self, request_id: str) -> HeldRun | None:
        """Removes and returns the run stored under `request_id`, or None when it is gone (resumed already): at most one caller gets it."""
        ...

    def delete(self, request_id: str) -> None: ...


class MemoryRunStateStore:
    def __init__(self) -> None:
        self._runs: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, request_id: str) -> HeldRun | None:
        with self._lock:
            text = self._runs.get(request_id)
        return HeldRun.from_json(text) if text is not None else None

    def put(self, request_id: str, run: HeldRun) -> None:
        with self._lock:
            self._runs[request_id] = run.to_json()

    def take(self, request_id: str) -> HeldRun | None:
        with self._lock:
            text = self._runs.pop(request_id, None)
        return HeldRun.from_json(text) if text is not None else None

    def delete(self, request_id: str) -> None:
        with self._lock:
            self._runs.pop(request_id, None)


class FileRunStateStore:
    """One JSON file per request id under `directory` (mode 0600); `take` claims a file by renaming it, so two resumes never both get it."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _path(self, request_id: str) -> Path:
        return self.directory / f"{re.sub(r'[^A-Za-z0-9._-]', '_', request_id)[:200]}.json"

    @staticmethod
    def _read(path: Path) -> HeldRun | None:
        try:
            with path.open("rb") as f:
                data = f.read(MAX_STATE_BYTES + 1)
        except FileNotFoundError:
            return None
        if len(data) > MAX_STATE_BYTES:
            raise ValueError(f"{path} is larger than {MAX_STATE_BYTES} bytes")
        return HeldRun.from_json(data.decode())

    def get(self, request_id: str) -> HeldRun | None:
        return self._read(self._path(request_id))

    def put(self, request_id: str, run: HeldRun) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self._path(request_id).with_suffix(f".{uuid.uuid4().hex}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(run.to_json())
        os.replace(tmp, self._path(request_id))

    def take(self, request_id: str) -> HeldRun | None:
        claimed = self._path(request_id).with_suffix(f".{uuid.uuid4().hex}.taken")
        try:
            os.rename(self._path(request_id), claimed)
        except FileNotFoundError:
            return None
        try:
            return self._read(claimed)
        finally:
            claimed.unlink(missing_ok=True)

    def delete(self, request_id: str) -> None:
        self._path(request_id).unlink(missing_ok=True)
