"""The document store port and its adapters: a local folder (default) and S3-compatible storage.

Documents are write-once: a key, once written, keeps its bytes. Writing the same bytes again
is a no-op (so a retried issue is harmless); writing other bytes under a used key is refused,
because a signed contract is never replaced, only followed by an addendum under a new key.

Keys are relative paths with `/` separators, e.g. `contracts/L00001/contract-v1.pdf`; the
local adapter maps them under its root folder, the S3 adapter under `PREFIX/` in its bucket.
`TAILGUARD_DOCUMENT_STORE` chooses: `local` (files under `TAILGUARD_DOCUMENT_ROOT`) or
`s3://BUCKET[/PREFIX]` (with `TAILGUARD_S3_ENDPOINT_URL` for MinIO and other S3-compatible
services; credentials come from boto3's usual chain, never from tailguard's settings).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from tailguard.errors import NotFound
from tailguard.infra.settings import Settings, SettingsError

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)*")
KEY_CHARS_MAX = 400


class DocumentConflict(RuntimeError):
    """Other bytes under a key already written: documents are never replaced."""


def check_key(key: str) -> str:
    """Keys are plain relative paths: no `..`, no absolute paths, no odd characters."""
    if len(key) > KEY_CHARS_MAX or not _KEY.fullmatch(key) or ".." in key.split("/"):
        raise ValueError(f"not a document key: {key!r}")
    return key


class DocumentStore(Protocol):
    """Where contract PDFs (and later borrower uploads) live."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`; same bytes again is fine, other bytes raise
        `DocumentConflict`."""

    def get(self, key: str) -> bytes:
        """The bytes under `key`, or `NotFound`."""

    def describe(self, key: str) -> str:
        """Where the key lives, for people (a path or an s3:// URL)."""


class LocalFolderStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        if path.exists():
            if hashlib.sha256(path.read_bytes()).digest() != hashlib.sha256(data).digest():
                raise DocumentConflict(f"{key} already holds other bytes")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside, then rename: a reader never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise NotFound(f"document {key} is not in the store")
        return path.read_bytes()

    def describe(self, key: str) -> str:
        return str(self._path(key))


class S3Store:
    """Any S3-compatible object store through a boto3 S3 client (or one with its interface).

    Object key = `prefix/` + document key. Each object carries its SHA-256 as metadata
    (`x-amz-meta-sha256`) so a later `put` can tell "same bytes" from "other bytes" with a HEAD,
    without downloading the document.
    """

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _head(self, object_key: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=object_key)
            return head
        except Exception as exc:  # botocore ClientError 404, without importing botocore here
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def put(self, key: str, data: bytes, content_type: str) -> None:
        object_key = self.object_key(key)
        digest = hashlib.sha256(data).hexdigest()
        head = self._head(object_key)
        if head is not None:
            if head.get("Metadata", {}).get("sha256") != digest:
                raise DocumentConflict(f"{key} already holds other bytes")
            return
        self.client.put_object(Bucket=self.bucket, Key=object_key, Body=data,
                               ContentType=content_type, Metadata={"sha256": digest})

    def get(self, key: str) -> bytes:
        object_key = self.object_key(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=object_key)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("404", "NoSuchKey", "NotFound"):
                raise NotFound(f"document {key} is not in the store") from exc
            raise
        body: bytes = response["Body"].read()
        return body

    def describe(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"


def document_store_from_settings(settings: Settings) -> DocumentStore:
    spec = settings.document_store
    if spec == "local":
        return LocalFolderStore(settings.document_root)
    if spec.startswith("s3://"):
        bucket, _, prefix = spec[len("s3://"):].partition("/")
        if not bucket:
            raise SettingsError("TAILGUARD_DOCUMENT_STORE: s3://BUCKET[/PREFIX] needs a bucket")
        import boto3

        client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
        return S3Store(client, bucket, prefix)
    raise SettingsError("TAILGUARD_DOCUMENT_STORE must be 'local' or 's3://BUCKET[/PREFIX]'")
