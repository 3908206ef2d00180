"""minutierd driven by Python's grpcio, an implementation independent of ours."""
import hashlib
import os
import signal
import subprocess
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from minutier.v1 import archive_pb2 as pb
from minutier.v1 import archive_pb2_grpc as rpc
from minutier.v1 import lifecycle_pb2 as lpb
from minutier.v1 import lifecycle_pb2_grpc as lrpc

BIN = Path(__file__).resolve().parents[2] / "target" / "release"


def pem_blocks(path):
    """The PEM blocks of a credential bundle: certificate, key, CA."""
    blocks, current = [], []
    for line in Path(path).read_text().splitlines(keepends=True):
        if line.startswith("#"):
            continue
        current.append(line)
        if line.startswith("-----END "):
            blocks.append("".join(current).encode())
            current = []
    assert len(blocks) == 3, "a bundle holds certificate, key and CA"
    return blocks


def tls_channel(addr, bundle, with_identity=True):
    cert, key, ca = pem_blocks(bundle)
    creds = grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=key if with_identity else None,
        certificate_chain=cert if with_identity else None)
    return grpc.secure_channel(addr, creds)


@pytest.fixture()
def daemon(tmp_path):
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [BIN / "minutierd", "--data-dir", data, "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "RUST_LOG": "error"})
    key = addr = None
    for line in proc.stdout:
        if line.startswith("verifier key: "):
            key = line.split(": ", 1)[1].strip()
        if line.startswith("minutierd listening on "):
            addr = line.split()[3]
            break
    assert addr, "minutierd did not start"
    # An administrator on the box issues an archivist's credential.
    bundle = tmp_path / "archivist.pem"
    issued = subprocess.run(
        [BIN / "minutier", "--data-dir", data, "admin", "issue", "--name", "Python Client",
         "--role", "archivist", "-o", bundle], capture_output=True, text=True)
    assert issued.returncode == 0, issued.stderr
    channel = tls_channel(addr, bundle)
    yield channel, key, tmp_path, addr, bundle
    channel.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def chunks(header, content, size=100_000):
    yield pb.IngestRequest(header=header)
    for i in range(0, len(content), size):
        yield pb.IngestRequest(chunk=content[i:i + size])


def test_health_ingest_get_and_offline_verification(daemon):
    channel, key, tmp, _, _ = daemon
    health = health_pb2_grpc.HealthStub(channel)
    status = health.Check(health_pb2.HealthCheckRequest(service="minutier.v1.Archive"))
    assert status.status == health_pb2.HealthCheckResponse.SERVING

    stub = rpc.ArchiveStub(channel)
    content = os.urandom(700_000)
    digest = hashlib.sha256(content).hexdigest()
    header = pb.IngestHeader(
        metadata=pb.DocumentMetadata(title="Plan cadastral", originating_agency="MAIRIE-PY",
                                     file_name="plan.pdf", media_type="application/pdf",
                                     keywords=["cadastre"], start_date="1950-01-01"),
        declared_sha256=digest)
    receipt = stub.Ingest(chunks(header, content))
    assert receipt.content_sha256 == digest
    assert receipt.size == len(content)
    assert receipt.seal.startswith("c2sp.org/tlog-proof@v1\n")

    got = b"".join(r.chunk for r in stub.Get(pb.GetRequest(archive_id=receipt.archive_id)))
    assert got == content
    info = stub.GetMetadata(pb.GetMetadataRequest(archive_id=receipt.archive_id))
    assert info.metadata.title == "Plan cadastral"
    assert info.log_index == receipt.log_index

    # The seal returned over gRPC verifies offline with the CLI.
    doc, seal = tmp / "plan.pdf", tmp / "plan.tlog-proof"
    doc.write_bytes(content)
    seal.write_text(receipt.seal)
    verified = subprocess.run([BIN / "minutier", "verify", doc, "--seal", seal, "--key", key],
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    records = stub.GetRecords(pb.GetRecordsRequest(start=receipt.log_index, end=receipt.log_index + 1))
    assert records.records[0].record.startswith(b"minutier/record/v1\n")
    assert hashlib.sha256(content).hexdigest().encode() in records.records[0].record


def test_refusals_carry_precise_status_codes(daemon):
    channel, _, _, addr, bundle = daemon
    stub = rpc.ArchiveStub(channel)
    with pytest.raises(grpc.RpcError) as err:
        stub.Ingest(iter([pb.IngestRequest(chunk=b"x"), pb.IngestRequest(header=pb.IngestHeader())]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    header = pb.IngestHeader(metadata=pb.DocumentMetadata(title="t"), declared_sha256="0" * 64)
    with pytest.raises(grpc.RpcError) as err:
        stub.Ingest(chunks(header, b"not what was declared"))
    assert err.value.code() == grpc.StatusCode.DATA_LOSS

    with pytest.raises(grpc.RpcError) as err:
        stub.GetMetadata(pb.GetMetadataRequest(archive_id="0000000000000000000000000z"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

    # Without a client certificate: UNAUTHENTICATED, with what to do.
    with tls_channel(addr, bundle, with_identity=False) as anonymous_channel:
        anonymous = rpc.ArchiveStub(anonymous_channel)
        with pytest.raises(grpc.RpcError) as err:
            anonymous.GetCheckpoint(pb.GetCheckpointRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "credential" in err.value.details()

    # Still serving.
    ok = stub.Ingest(chunks(pb.IngestHeader(metadata=pb.DocumentMetadata(title="ok")), b"fine"))
    assert ok.size == 4


def test_reflection_describes_the_api(daemon):
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    channel, _, _, _, _ = daemon
    db = ProtoReflectionDescriptorDatabase(channel)
    services = set(db.get_services())
    assert {"minutier.v1.Archive", "minutier.v1.Lifecycle", "grpc.health.v1.Health"} <= services
    pool = DescriptorPool(db)
    ingest = pool.FindServiceByName("minutier.v1.Archive").FindMethodByName("Ingest")
    assert ingest.client_streaming and not ingest.server_streaming
    assert ingest.input_type.full_name == "minutier.v1.IngestRequest"


def record_fields(record):
    """A minutier/record/v1 record as a dict (format: docs/seal-format.md)."""
    lines = record.decode().split("\n")
    assert lines[0] == "minutier/record/v1" and lines[-1] == ""
    return dict(line.split(" ", 1) for line in lines[1:-1])


def test_an_archive_history_is_a_hash_chain_checked_independently(daemon):
    """Corrections and reads are records chained by the RFC 6962 leaf hash of
    the previous one; each commits to a canonical JSON document."""
    channel, _, _, _, _ = daemon
    stub, life = rpc.ArchiveStub(channel), lrpc.LifecycleStub(channel)
    header = pb.IngestHeader(metadata=pb.DocumentMetadata(
        title="Arrêté", rules=pb.ManagementRules(appraisal=pb.AppraisalRule(
            duration_years=10, final_action=pb.FINAL_ACTION_KEEP))))
    receipt = stub.Ingest(chunks(header, b"Arrete municipal n 12"))
    corrected = life.CorrectMetadata(lpb.CorrectMetadataRequest(
        archive_id=receipt.archive_id, metadata=pb.DocumentMetadata(title="Arrêté n°12")))
    assert corrected.archive.metadata.title == "Arrêté n°12"
    # The rules were kept, their start date settled at ingest.
    assert corrected.archive.metadata.rules.appraisal.start_date != ""
    stub.GetMetadata(pb.GetMetadataRequest(archive_id=receipt.archive_id))
    with pytest.raises(grpc.RpcError) as e:
        life.ChangeRules(lpb.ChangeRulesRequest(
            archive_id=receipt.archive_id, rules=pb.ManagementRules(appraisal=pb.AppraisalRule(
                duration_years=1, final_action=pb.FINAL_ACTION_DESTROY))))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "definitive archive" in e.value.details()

    history = life.GetHistory(lpb.GetHistoryRequest(archive_id=receipt.archive_id))
    kinds = [record_fields(h.record)["kind"] for h in history.entries]
    assert kinds == ["ingest", "metadata-correction", "read-metadata", "read-metadata"]
    previous = "none"
    for h in history.entries:
        fields = record_fields(h.record)
        assert fields["archive"] == receipt.archive_id
        assert fields["previous"] == previous
        assert hashlib.sha256(h.document).hexdigest() == fields["metadata-sha256"]
        assert fields["content-sha256"] == receipt.content_sha256
        previous = hashlib.sha256(b"\x00" + h.record).hexdigest()
    assert previous == history.head
