"""Where an agent keeps its per-request X25519 keys: in memory (default), or one PEM file per request
so a restarted agent can still open its token (the same files as the TypeScript SDK's fileKeyStore)."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Protocol

from .sealing import AgentKey


class KeyStore(Protocol):
    def get(self, workflow_id: str) -> AgentKey | None: ...
    def put(self, workflow_id: str, key: AgentKey) -> None: ...
    def delete(self, workflow_id: str) -> None: ...


class MemoryKeyStore:
    def __init__(self) -> None:
        self._keys: dict[str, AgentKey] = {}
        self._lock = threading.Lock()

    def get(self, workflow_id: str) -> AgentKey | None:
        with self._lock:
            return self._keys.get(workflow_id)

    def put(self, workflow_id: str, key: AgentKey) -> None:
        with self._lock:
            self._keys[workflow_id] = key

    def delete(self, workflow_id: str) -> None:
        with self._lock:
            self._keys.pop(workflow_id, None)

    def __repr__(self) -> str:
        return f"MemoryKeyStore({len(self._keys)} keys)"


class FileKeyStore:
    """One PKCS#8 PEM file per request (mode 0600) under `directory` (made 0700)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _path(self, workflow_id: str) -> Path:
        return self.directory / f"{re.sub(r'[^A-Za-z0-9._-]', '_', workflow_id)[:200]}.pem"

    def get(self, workflow_id: str) -> AgentKey | None:
        try:
            pem = self._path(workflow_id).read_bytes()
        except FileNotFoundError:
            return None
        return AgentKey.from_private_pem(pem)

    def put(self, workflow_id: str, key: AgentKey) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._path(workflow_id)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_pem())
        os.chmod(path, 0o600)

    def delete(self, workflow_id: str) -> None:
        self._path(workflow_id).unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"FileKeyStore({str(self.directory)!r})"
