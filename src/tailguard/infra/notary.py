"""The notary port (anchoring): each signed checkpoint handed to a third party.

A checkpoint signed only by our key proves nothing against us; once a copy sits with someone
else (a qualified evidence platform, 司法存证/电子数据存证 service, a public timestamp), we can
no longer show a different tree to different people without the copies disagreeing. The port
is one method, `anchor(tree_size, signed_note) -> reference`; the service records the
reference beside the checkpoint and retries checkpoints not yet anchored.

Adapters: `FolderNotary` (sandbox; one file per checkpoint), `HttpNotary` (POSTs the note as
text/plain to an endpoint and keeps its answer as the reference; the shape a real evidence
platform's adapter will have) and `NoNotary`. `TAILGUARD_NOTARY` chooses: `folder:PATH`,
`http://…`/`https://…` or `none`.
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Protocol

from tailguard.infra.settings import Settings, SettingsError

HTTP_TIMEOUT_S = 10.0
REFERENCE_CHARS_MAX = 300


class Notary(Protocol):
    name: str

    def anchor(self, tree_size: int, signed_note: str) -> str:
        """Hand over a signed checkpoint; returns the notary's reference for it."""


class FolderNotary:
    """Sandbox: writes `checkpoint-<size, 12 digits>.txt` into a folder (write-once)."""

    name = "folder"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def anchor(self, tree_size: int, signed_note: str) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"checkpoint-{tree_size:012d}.txt"
        data = signed_note.encode()
        if path.exists():
            if path.read_bytes() != data:
                raise RuntimeError(f"{path} already holds another checkpoint of size "
                                   f"{tree_size}: the log forked")
            return str(path)
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
        return str(path)


class HttpNotary:
    """POSTs the signed note to an endpoint; the response body (trimmed) is the reference."""

    name = "http"

    def __init__(self, url: str) -> None:
        self.url = url

    def anchor(self, tree_size: int, signed_note: str) -> str:
        request = urllib.request.Request(
            self.url, data=signed_note.encode(), method="POST",
            headers={"Content-Type": "text/plain; charset=utf-8",
                     "X-Tlog-Tree-Size": str(tree_size)},
        )
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            body: bytes = response.read()
        text = body.decode("utf-8", "replace").strip()
        return (text or f"{self.url} {response.status}")[:REFERENCE_CHARS_MAX]


class NoNotary:
    name = "none"

    def anchor(self, tree_size: int, signed_note: str) -> str:
        return ""


def notary_from_settings(settings: Settings) -> Notary:
    spec = settings.notary
    if spec == "none":
        return NoNotary()
    if spec.startswith("folder:") and spec[len("folder:"):]:
        return FolderNotary(Path(spec[len("folder:"):]))
    if spec.startswith(("http://", "https://")):
        return HttpNotary(spec)
    raise SettingsError("TAILGUARD_NOTARY must be 'folder:PATH', 'http(s)://URL' or 'none'")
