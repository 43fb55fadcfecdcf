"""No attribute value can steer where a file is written; no secret shows anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from bsti_submit.errors import ExitStatus
from bsti_submit.testing import FakePatient, make_instance

from .helpers import run, save
from .servers import TOKEN, dicomweb_server


@pytest.mark.parametrize("uid", ["../../escaped", "1.2.3/../../x", "/etc/passwd", "1.2.3\\..\\x"])
def test_a_uid_value_cannot_steer_the_output_path(
    tmp_path: Path, patient: FakePatient, uid: str
) -> None:
    """Even a profile that keeps UIDs cannot make a value a path: such a file fails."""
    dataset = make_instance(patient)
    dataset.SeriesInstanceUID = uid
    source = save(dataset, tmp_path / "in" / "one").parent
    recipe = tmp_path / "keep-uids.deid"
    recipe.write_text(
        "FORMAT dicom\n#@ extends: ps315-basic\n%header\nKEEP (0020,000E)  # justification: test\n"
    )
    result = run("submit", str(source), "--to", str(tmp_path / "out"), "--profile", str(recipe))
    assert result.exit_code == ExitStatus.INPUT_ERRORS, (
        result.output
    )  # failed, with its reason: not written, not held
    assert "SeriesInstanceUID is not a valid UID, so no output path can be made" in result.output
    written = [path for path in tmp_path.rglob("*.dcm") if "in" not in path.parts]
    assert written == [], "a file was written or held: a release could write it anywhere"
    assert not list(tmp_path.parent.glob("escaped*"))


@pytest.mark.integration  # Orthanc behind nginx TLS
def test_no_secret_anywhere(
    export: Path, tmp_path: Path, isolated_folders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Token, basic-auth password and pseudonym key, searched for in every output, log, audit
    record, error message, --version, config show, doctor, and what the server stored."""
    password = "basic-auth-password-not-to-leak"
    monkeypatch.setenv("BSTI_SUBMIT_TOKEN", TOKEN)
    monkeypatch.setenv("BSTI_SUBMIT_PASSWORD", password)
    outputs = [run("init", "--site", "RX1").output]
    (key_file,) = isolated_folders.rglob("pseudonym.key")
    key_hex = key_file.read_text().strip()
    with dicomweb_server(tmp_path / "server") as server:
        monkeypatch.setenv("BSTI_SUBMIT_DESTINATION", server.url)
        monkeypatch.setenv("BSTI_SUBMIT_CA_BUNDLE", str(server.ca_file))
        outputs.append(run("submit", str(export)).output)
        outputs.append(run("scan", str(export), "--json").output)
        outputs.append(run("check-endpoint").output)
        monkeypatch.setenv("BSTI_SUBMIT_TOKEN", "wrong-" + TOKEN)
        outputs.append(run("submit", str(export), "--to", server.url).output)  # an error
        monkeypatch.setenv("BSTI_SUBMIT_TOKEN", TOKEN)
        stored = b"".join(server.stored_files().values())
    for command in (
        ["--version"],
        ["config", "show"],
        ["doctor"],
        ["status"],
        ["quarantine", "list"],
    ):
        outputs.append(run(*command).output)
    files = [p for p in isolated_folders.rglob("*") if p.is_file() and p != key_file]
    texts = [*outputs, *(p.read_bytes().decode("latin-1") for p in files)]
    for secret in (TOKEN, password, key_hex):
        assert not any(secret in text for text in texts), secret
        assert secret.encode() not in stored
    assert bytes.fromhex(key_hex) not in stored
