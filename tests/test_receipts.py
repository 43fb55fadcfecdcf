"""Signed submission receipts: written by each run that delivers, checked with the trust's
public key, broken by any change, and free of original identifiers."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bsti_submit.signing import SignatureError, canonical, public_pem, verify
from bsti_submit.testing import FakePatient, make_instance

from .helpers import found_in, planted_identifiers, run, send, submit_one, submit_to_folder
from .servers import TOKEN, DicomWebServer, dicomweb_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DicomWebServer]:
    with dicomweb_server(tmp_path_factory.mktemp("dicomweb")) as running:
        yield running


@pytest.fixture
def sent(
    export: Path, server: DicomWebServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], Path]:
    """The export sent to the endpoint: the run's JSON summary and its receipt."""
    monkeypatch.setenv("BSTI_SUBMIT_TOKEN", TOKEN)
    result = send(export, server, "--json")
    summary = json.loads(result.output)
    assert summary["receipt"], result.output
    return summary, Path(summary["receipt"])


def receipt_instances(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    studies = document["studies"]
    assert isinstance(studies, list)
    return {i["sop_instance_uid"]: i for study in studies for i in study["instances"]}


def verify_cli(path: Path, *options: str) -> tuple[int, str]:
    result = run("receipt", "verify", str(path), *options)
    return result.exit_code, result.output


@pytest.mark.integration
def test_a_delivering_run_writes_a_receipt_of_exactly_what_the_server_stored(
    sent: tuple[dict[str, Any], Path],
    server: DicomWebServer,
    patient: FakePatient,
    second_patient: FakePatient,
) -> None:
    summary, path = sent
    assert path.parent == Path(str(summary["audit_log"])).parent  # beside the audit log
    document = json.loads(path.read_bytes())
    stored = server.stored_files()
    instances = receipt_instances(document)
    assert document["run"]["run_id"] == summary["run_id"]
    assert document["destination"] == server.url
    assert document["profile"]["sha256"] and document["profile"]["name"] == "bsti-covid19"
    assert "bsti-submit" in document["tool"]
    sent_now = {
        sop for sop, i in instances.items() if i["acknowledgement"]["status"] == "delivered"
    }
    assert sent_now and sent_now <= set(stored)
    for sop in sent_now:  # the hash is of the very bytes the server holds
        assert instances[sop]["sha256"] == hashlib.sha256(stored[sop]).hexdigest()
        assert instances[sop]["acknowledgement"]["retrieve_url"].endswith(f"/instances/{sop}")
    assert len(document["studies"]) == 2
    for study in document["studies"]:
        assert str(study["pseudonym"]).startswith("RX1-")
        assert study["counts"]["instances"] == len(study["instances"])
    text = path.read_bytes()
    leaked = found_in(text, planted_identifiers(patient) + planted_identifiers(second_patient))
    assert leaked == []
    assert b"MULLER_ZOE" not in text and b"export" not in text  # no source path


@pytest.mark.integration
def test_the_receipt_verifies_with_the_trusts_key_and_its_printed_public_key(
    sent: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    _, path = sent
    code, output = verify_cli(path)
    assert code == 0, output
    assert output.startswith("OK: receipt of run")
    public = run("key", "public")
    assert public.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    assert "key ID" in public.stderr
    pem = tmp_path / "rx1.pem"
    pem.write_text(public.stdout)
    assert verify_cli(path, "--public-key", str(pem))[0] == 0


@pytest.mark.integration
def test_a_receipt_fails_with_any_byte_changed_an_instance_removed_or_another_key(
    sent: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    _, path = sent
    data = path.read_bytes()
    changed = tmp_path / "changed.json"
    for position in [*random.Random(20).sample(range(len(data)), 60), len(data) - 1]:
        spoiled = bytearray(data)
        spoiled[position] = ord("0") if spoiled[position] != ord("0") else ord("1")
        changed.write_bytes(bytes(spoiled))
        code, output = verify_cli(changed)
        assert code == 1 and output.startswith("FAILED"), (position, output)
    changed.write_bytes(data.replace(b'",', b'", ', 1))  # the same JSON, not the signed bytes
    code, output = verify_cli(changed)
    assert code == 1 and "not in the form it was signed in" in output
    changed.write_bytes(data.replace(b'"Ed25519"', b'"Ed25518"'))  # outside what is signed
    code, output = verify_cli(changed)
    assert code == 1 and "not an Ed25519 signature" in output
    document = json.loads(data)
    del document["studies"][0]["instances"][0]  # re-written in the signed form: still fails
    changed.write_bytes(canonical(document))
    code, output = verify_cli(changed)
    assert code == 1 and "does not match" in output
    other = tmp_path / "other.pem"
    other.write_text(public_pem(Ed25519PrivateKey.generate().public_key()))
    code, output = verify_cli(path, "--public-key", str(other))
    assert code == 1 and "not the public key given" in output


@pytest.mark.integration
def test_receipt_run_id_writes_the_same_receipt_again_and_json_prints_it(
    sent: tuple[dict[str, Any], Path],
) -> None:
    summary, path = sent
    first = path.read_bytes()
    path.unlink()
    result = run("receipt", str(summary["run_id"])[:8])
    assert result.exit_code == 0, result.output
    assert "2 studies" in result.output and str(path) in result.output
    assert path.read_bytes() == first
    printed = run("receipt", str(summary["run_id"]), "--json")
    assert printed.stdout.encode() == first


def test_a_run_to_a_folder_gets_a_receipt_with_the_hash_of_each_file_written(
    export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = submit_to_folder(export, out, "--json")
    receipt = Path(json.loads(result.output)["receipt"])
    document = json.loads(receipt.read_bytes())
    written = {p.stem: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*.dcm")}
    instances = receipt_instances(document)
    assert {sop: i["sha256"] for sop, i in instances.items()} == written
    assert {i["acknowledgement"]["status"] for i in instances.values()} == {
        "written to the destination folder"
    }
    assert verify_cli(receipt)[0] == 0


def test_a_run_that_sends_nothing_writes_no_receipt(tmp_path: Path, patient: FakePatient) -> None:
    held = make_instance(patient)
    held.BurnedInAnnotation = "YES"  # held: no text found to mask
    result = submit_one(tmp_path, held, "--json")
    summary = json.loads(result.output)
    assert summary["exit_status"] == 5 and summary["audit_log"]
    assert summary["receipt"] is None
    assert not list(Path(summary["audit_log"]).parent.glob("receipt-*"))


def test_receipt_names_a_missing_run_in_one_line(tmp_path: Path) -> None:
    result = run("receipt", "0123456789abcdef")
    assert result.exit_code == 2
    assert "no audit log of run 0123456789abcdef" in result.stderr
    assert "Traceback" not in result.output


def test_verify_refuses_a_file_that_is_not_a_receipt(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"hello": "world"}\n')
    pem = tmp_path / "collection.pem"
    pem.write_text(public_pem(Ed25519PrivateKey.generate().public_key()))
    code, output = verify_cli(other, "--public-key", str(pem))
    assert code == 1 and "no signature" in output
    with pytest.raises(SignatureError, match="not JSON"):
        verify(b"\xff", [])
    missing = run("receipt", "verify", str(other), "--public-key", str(tmp_path / "none.pem"))
    assert missing.exit_code == 2 and "cannot be read" in missing.stderr


def test_after_a_new_key_old_receipts_still_verify_and_the_public_key_changes(
    export: Path, tmp_path: Path
) -> None:
    made = run("init", "--site", "RX1")
    assert "bsti-submit key public" in made.output
    result = submit_to_folder(export, tmp_path / "out", "--json")
    receipt = Path(json.loads(result.output)["receipt"])
    before = run("key", "public").stdout
    assert run("init", "--site", "RX1", "--new-key").exit_code == 0
    after = run("key", "public").stdout
    assert after != before
    assert verify_cli(receipt)[0] == 0  # the retired key's public half is still the trust's
    new_pem, old_pem = tmp_path / "new.pem", tmp_path / "old.pem"
    new_pem.write_text(after)
    old_pem.write_text(before)
    assert verify_cli(receipt, "--public-key", str(new_pem))[0] == 1
    assert verify_cli(receipt, "--public-key", str(old_pem))[0] == 0
