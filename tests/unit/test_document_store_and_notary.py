"""The document store (local folder; S3 through botocore's Stubber, which checks every call
against the real S3 service model without a network) and the notary adapters."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from tailguard.errors import NotFound
from tailguard.infra.document_store import (
    DocumentConflict,
    LocalFolderStore,
    S3Store,
    document_store_from_settings,
)
from tailguard.infra.notary import FolderNotary, HttpNotary, NoNotary, notary_from_settings
from tailguard.infra.settings import SettingsError, load_settings

KEY = "contracts/L00001/contract-v1.pdf"
PDF = b"%PDF-1.4\n% a contract\n%%EOF\n"


def test_local_store_is_write_once(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    store.put(KEY, PDF, "application/pdf")
    assert (tmp_path / "contracts" / "L00001" / "contract-v1.pdf").read_bytes() == PDF
    store.put(KEY, PDF, "application/pdf")  # the same bytes again: a retry, fine
    with pytest.raises(DocumentConflict):
        store.put(KEY, PDF + b" ", "application/pdf")
    assert store.get(KEY) == PDF
    assert not [p for p in (tmp_path / "contracts" / "L00001").iterdir()
                if p.name.startswith(".tmp")]
    with pytest.raises(NotFound):
        store.get("contracts/L00002/contract-v1.pdf")
    for bad in ("../etc/passwd", "/abs/path.pdf", "a//b", "a/../b", "a b.pdf", ""):
        with pytest.raises(ValueError, match="not a document key"):
            store.put(bad, PDF, "application/pdf")


@pytest.fixture
def s3() -> Iterator[tuple[S3Store, Stubber]]:
    client = boto3.client("s3", region_name="cn-north-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    with Stubber(client) as stubber:
        yield S3Store(client, "tg-documents", "prod/"), stubber
        stubber.assert_no_pending_responses()


def test_s3_key_layout_and_write_once(s3: tuple[S3Store, Stubber]) -> None:
    store, stub = s3
    object_key = "prod/contracts/L00001/contract-v1.pdf"
    digest = hashlib.sha256(PDF).hexdigest()
    assert store.object_key(KEY) == object_key
    assert store.describe(KEY) == f"s3://tg-documents/{object_key}"
    stub.add_client_error("head_object", "404", "Not Found", 404,
                          expected_params={"Bucket": "tg-documents", "Key": object_key})
    stub.add_response("put_object", {}, expected_params={
        "Bucket": "tg-documents", "Key": object_key, "Body": PDF,
        "ContentType": "application/pdf", "Metadata": {"sha256": digest}})
    store.put(KEY, PDF, "application/pdf")
    # Same bytes again: a HEAD shows the same hash, nothing is written.
    stub.add_response("head_object", {"Metadata": {"sha256": digest}},
                      expected_params={"Bucket": "tg-documents", "Key": object_key})
    store.put(KEY, PDF, "application/pdf")
    stub.add_response("head_object", {"Metadata": {"sha256": digest}},
                      expected_params={"Bucket": "tg-documents", "Key": object_key})
    with pytest.raises(DocumentConflict):
        store.put(KEY, PDF + b"x", "application/pdf")
    stub.add_client_error("get_object", "NoSuchKey", "gone", 404,
                          expected_params={"Bucket": "tg-documents", "Key": object_key})
    with pytest.raises(NotFound):
        store.get(KEY)


def test_store_and_notary_from_settings(tmp_path: Path) -> None:
    local = document_store_from_settings(load_settings({"TAILGUARD_DOCUMENT_ROOT": str(tmp_path)}))
    assert isinstance(local, LocalFolderStore) and local.root == tmp_path
    remote = document_store_from_settings(load_settings({
        "TAILGUARD_DOCUMENT_STORE": "s3://bucket/a/b", "AWS_DEFAULT_REGION": "cn-north-1",
        "TAILGUARD_S3_ENDPOINT_URL": "http://127.0.0.1:9000"}))
    assert isinstance(remote, S3Store) and (remote.bucket, remote.prefix) == ("bucket", "a/b")
    with pytest.raises(SettingsError, match="TAILGUARD_DOCUMENT_STORE"):
        document_store_from_settings(load_settings({"TAILGUARD_DOCUMENT_STORE": "ftp://x"}))
    assert isinstance(notary_from_settings(load_settings({"TAILGUARD_NOTARY": "none"})), NoNotary)
    assert isinstance(notary_from_settings(load_settings({})), FolderNotary)
    assert isinstance(notary_from_settings(load_settings({"TAILGUARD_NOTARY": "https://e.x/a"})),
                      HttpNotary)
    with pytest.raises(SettingsError, match="TAILGUARD_NOTARY"):
        notary_from_settings(load_settings({"TAILGUARD_NOTARY": "folder:"}))


NOTE = "tailguard.dev/log\n5\n9+bHoAcBXmgaCvxMFQS7WqNmWcDhwVUpcb+gLcAQX+4=\n\n— tailguard x\n"


def test_folder_notary_keeps_each_checkpoint_once_and_detects_a_fork(tmp_path: Path) -> None:
    notary = FolderNotary(tmp_path / "anchors")
    reference = notary.anchor(5, NOTE)
    assert Path(reference).read_text() == NOTE
    assert Path(reference).name == "checkpoint-000000000005.txt"
    assert notary.anchor(5, NOTE) == reference
    with pytest.raises(RuntimeError, match="forked"):
        notary.anchor(5, NOTE.replace("5\n", "5\n\n", 1))


def test_http_notary_posts_the_note_and_keeps_the_answer() -> None:
    received: list[tuple[str | None, bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["X-Tlog-Tree-Size"], body))
            self.send_response(201)
            self.end_headers()
            self.wfile.write(b"evidence-0001\n")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        notary = HttpNotary(f"http://127.0.0.1:{server.server_address[1]}/anchor")
        assert notary.anchor(5, NOTE) == "evidence-0001"
    finally:
        server.shutdown()
    assert received == [("5", NOTE.encode())]
