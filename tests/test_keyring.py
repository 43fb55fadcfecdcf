"""Secrets in the OS keyring: login and logout, the lookup order, the pseudonym key kept there,
and the key's encrypted export and import."""

from __future__ import annotations

import json
from pathlib import Path

import keyring
import pydicom
import pytest
from click.testing import CliRunner, Result
from keyring.backends import fail

from bsti_submit.cli import main
from bsti_submit.errors import ExitStatus

from .helpers import SITE, run, submit_to_folder
from .platform_standins import MemoryKeyring
from .servers import TOKEN, dicomweb_server

URL = "https://collection.example/dicom-web"
SERVICE = f"bsti-submit {URL}"
PASSPHRASE = "correct horse battery staple"


def answered(*args: str, answers: str) -> Result:
    """`bsti-submit ARGS` with `answers` typed at its prompts."""
    return CliRunner().invoke(main, list(args), input=answers, catch_exceptions=False)


def secret_line(name: str) -> str:
    (line,) = [x for x in run("config", "show").output.splitlines() if x.startswith(f"{name}:")]
    return line


def test_login_stores_the_token_and_config_show_says_so_without_it(
    os_keyring: MemoryKeyring,
) -> None:
    stored = answered("login", "--token", "--url", URL + "/", answers="keyring-token-123\n")
    assert stored.exit_code == ExitStatus.SUCCESS, stored.output
    assert "keyring-token-123" not in stored.output
    assert os_keyring.entries == {(SERVICE, "token"): "keyring-token-123"}
    run("init", "--site", SITE, "--destination", URL)
    line = secret_line("token")
    assert line == f"token: set (value hidden), from keyring, for {URL}"
    assert secret_line("password") == "password: not set"
    assert secret_line("keyring") == "keyring: tests.platform_standins.MemoryKeyring"
    answered("login", "--password", answers="basic-password-456\n")  # the configured URL
    assert os_keyring.entries[(SERVICE, "password")] == "basic-password-456"


def test_the_variable_comes_before_the_keyring_and_the_keyring_before_the_file(
    os_keyring: MemoryKeyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-token\n")
    token_file.chmod(0o600)
    run("init", "--site", SITE, "--destination", URL)
    run("config", "set", "token_file", str(token_file))
    assert secret_line("token").endswith(f"from file {token_file}")
    os_keyring.entries[(SERVICE, "token")] = "keyring-token"
    assert secret_line("token").endswith(f"from keyring, for {URL}")
    monkeypatch.setenv("BSTI_SUBMIT_TOKEN", "variable-token")
    assert secret_line("token").endswith("from environment BSTI_SUBMIT_TOKEN")
    shown = run("config", "show").output
    assert not any(value in shown for value in ("file-token", "keyring-token", "variable-token"))


def test_logout_removes_what_login_stored(os_keyring: MemoryKeyring) -> None:
    os_keyring.entries.update({(SERVICE, "token"): "t", (SERVICE, "password"): "p"})
    os_keyring.entries[("bsti-submit https://other.example", "token")] = "kept"
    first = run("logout", "--url", URL)
    assert first.output.strip() == f"Removed the token and password for {URL} from the OS keyring."
    assert list(os_keyring.entries) == [("bsti-submit https://other.example", "token")]
    assert "held nothing" in run("logout", "--url", URL).output


def test_login_without_a_keyring_says_what_to_do_instead() -> None:
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    result = answered("login", "--url", URL, answers="some-token\n")
    assert result.exit_code == ExitStatus.CONFIG
    assert "this machine has no keyring" in result.output and "Traceback" not in result.output
    run("init", "--site", SITE, "--destination", URL)
    assert secret_line("token") == "token: not set"  # a run without a keyring is not stopped
    assert secret_line("keyring") == "keyring: none on this machine"


def test_login_needs_an_https_endpoint(tmp_path: Path) -> None:
    result = answered("login", "--url", str(tmp_path / "folder"), answers="t\n")
    assert result.exit_code == ExitStatus.USAGE
    assert "--url https://" in result.output


@pytest.mark.integration  # Orthanc behind nginx TLS
def test_a_run_sends_with_the_token_login_stored(export: Path, tmp_path: Path) -> None:
    with dicomweb_server(tmp_path / "server") as server:
        assert answered("login", "--url", server.url, answers=f"{TOKEN}\n").exit_code == 0
        sent = run(
            "submit",
            str(export),
            "--to",
            server.url,
            "--site",
            SITE,
            "--ca-bundle",
            str(server.ca_file),
        )
        assert sent.exit_code == ExitStatus.INPUT_ERRORS, sent.output  # the export's bad files
        assert len(server.stored_files()) == 5


def pseudonyms(export: Path, out: Path) -> set[str]:
    submit_to_folder(export, out)
    return {pydicom.dcmread(path).PatientID for path in out.rglob("*.dcm")}


def test_the_pseudonym_key_can_live_in_the_keyring(
    os_keyring: MemoryKeyring, export: Path, tmp_path: Path, isolated_folders: Path
) -> None:
    done = run("init", "--site", SITE, "--key-store", "keyring")
    assert "Created the pseudonym key in the OS keyring" in done.output
    assert not list(isolated_folders.rglob("pseudonym.key"))
    assert "key_store = keyring" in run("config", "show").output
    key = os_keyring.entries[("bsti-submit", "pseudonym-key")]
    first = pseudonyms(export, tmp_path / "one")
    assert first == pseudonyms(export, tmp_path / "two")
    renewed = run("init", "--site", SITE, "--new-key")
    assert "Retired the old pseudonym key to pseudonym-key.retired-" in renewed.output
    retired = json.loads(os_keyring.entries[("bsti-submit", "retired-pseudonym-keys")])
    assert list(retired.values()) == [key]
    assert pseudonyms(export, tmp_path / "three").isdisjoint(first)


def test_an_exported_key_moves_to_a_new_workstation_with_its_pseudonyms(
    os_keyring: MemoryKeyring,
    export: Path,
    tmp_path: Path,
    isolated_folders: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run("init", "--site", SITE)
    run("init", "--site", SITE, "--new-key")  # a retired key goes with it too
    before = pseudonyms(export, tmp_path / "before")
    backup = tmp_path / "rx1.key-export"
    (key_file,) = isolated_folders.rglob("pseudonym.key")
    exported = answered("key", "export", "--to", str(backup), answers=f"{PASSPHRASE}\n" * 2)
    assert exported.output.strip().endswith(
        f"Wrote 2 key(s) from {key_file} to {backup}, encrypted."
    )
    assert backup.stat().st_mode & 0o777 == 0o600
    key_hex = key_file.read_text().strip()
    assert key_hex not in backup.read_text()
    # the new workstation: other folders, the keyring for the key
    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / "new" / variable.lower()))
    wrong = answered(
        "key", "import", str(backup), "--key-store", "keyring", answers="wrong passphrase!\n"
    )
    assert wrong.exit_code == ExitStatus.CONFIG and "wrong passphrase" in wrong.output
    assert os_keyring.entries == {}
    imported = answered(
        "key", "import", str(backup), "--key-store", "keyring", answers=f"{PASSPHRASE}\n"
    )
    assert imported.output.strip().endswith(
        "Imported 2 key(s) into the OS keyring (service 'bsti-submit', entry 'pseudonym-key')."
    )
    assert (
        "Kept the existing pseudonym key"
        in run("init", "--site", SITE, "--key-store", "keyring").output
    )
    assert pseudonyms(export, tmp_path / "after") == before
    again = answered(
        "key", "import", str(backup), "--key-store", "keyring", answers=f"{PASSPHRASE}\n"
    )
    assert again.exit_code == ExitStatus.CONFIG and "already exists" in again.output


def test_an_export_needs_a_long_passphrase_and_a_new_file(tmp_path: Path) -> None:
    run("init", "--site", SITE)
    short = answered("key", "export", "--to", str(tmp_path / "k"), answers="short\nshort\n")
    assert short.exit_code == ExitStatus.CONFIG and "at least 12 characters" in short.output
    assert not (tmp_path / "k").exists()
    (tmp_path / "k").write_text("something else")
    taken = answered("key", "export", "--to", str(tmp_path / "k"), answers=f"{PASSPHRASE}\n" * 2)
    assert taken.exit_code == ExitStatus.CONFIG and "exists already" in taken.output
    assert (tmp_path / "k").read_text() == "something else"
    damaged = answered("key", "import", str(tmp_path / "k"), answers=f"{PASSPHRASE}\n")
    assert (
        damaged.exit_code == ExitStatus.CONFIG
        and "is not a bsti-submit key export" in damaged.output
    )


class LockedKeyring(MemoryKeyring):
    """A keyring that is there but refuses to be read: a locked Secret Service, a denied
    Keychain prompt."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")


def test_a_locked_keyring_does_not_stop_a_run_whose_token_is_in_a_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-token\n")
    token_file.chmod(0o600)
    run("init", "--site", SITE, "--destination", URL)
    run("config", "set", "token_file", str(token_file))
    keyring.set_keyring(LockedKeyring())
    assert secret_line("token").endswith(f"from file {token_file}")


def test_a_key_missing_from_the_keyring_is_never_quietly_replaced(
    os_keyring: MemoryKeyring, export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_KEY_STORE", "keyring")
    result = submit_to_folder(export, tmp_path / "out")
    assert result.exit_code == ExitStatus.CONFIG
    assert "no pseudonym key in the OS keyring" in result.output and "key import" in result.output
    assert os_keyring.entries == {} and not (tmp_path / "out").exists()


def test_init_will_not_switch_stores_and_leave_the_key_behind(
    os_keyring: MemoryKeyring, isolated_folders: Path
) -> None:
    run("init", "--site", SITE)
    switched = run("init", "--site", SITE, "--force", "--key-store", "keyring")
    assert switched.exit_code == ExitStatus.CONFIG
    assert "the pseudonym key is in" in switched.output and "key import" in switched.output
    assert os_keyring.entries == {}


def test_keys_retired_within_one_second_are_all_kept(isolated_folders: Path) -> None:
    run("init", "--site", SITE)
    run("init", "--site", SITE, "--new-key")
    run("init", "--site", SITE, "--new-key")
    (key_file,) = isolated_folders.rglob("pseudonym.key")
    assert len(list(key_file.parent.glob("pseudonym.key.retired-*"))) == 2


def test_keys_move_from_the_keyring_to_a_file_and_old_logs_still_verify(
    os_keyring: MemoryKeyring,
    export: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run("init", "--site", SITE, "--key-store", "keyring")
    submit_to_folder(export, tmp_path / "out", "--audit-log", str(tmp_path / "first.jsonl"))
    run("init", "--site", SITE, "--new-key")
    verified = run("audit", "verify", str(tmp_path / "first.jsonl"))
    assert verified.exit_code == ExitStatus.SUCCESS, verified.output
    assert "sealed under the retired key pseudonym-key.retired-" in verified.output
    backup = tmp_path / "backup.key-export"
    answered("key", "export", "--to", str(backup), answers=f"{PASSPHRASE}\n" * 2)
    for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / "new" / variable.lower()))
    imported = answered(
        "key", "import", str(backup), "--key-store", "file", answers=f"{PASSPHRASE}\n"
    )
    assert "Imported 2 key(s)" in imported.output, imported.output
    run("init", "--site", SITE)
    again = run("audit", "verify", str(tmp_path / "first.jsonl"))
    assert (
        again.exit_code == ExitStatus.SUCCESS
        and "retired key pseudonym.key.retired-" in again.output
    )


def test_an_import_never_mixes_with_keys_already_in_the_keyring(
    os_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    run("init", "--site", SITE)
    backup = tmp_path / "backup.key-export"
    answered("key", "export", "--to", str(backup), answers=f"{PASSPHRASE}\n" * 2)
    os_keyring.entries[("bsti-submit", "retired-pseudonym-keys")] = '{"20200101T000000Z": "00"}'
    refused = answered(
        "key", "import", str(backup), "--key-store", "keyring", answers=f"{PASSPHRASE}\n"
    )
    assert refused.exit_code == ExitStatus.CONFIG, refused.output
    assert ("bsti-submit", "pseudonym-key") not in os_keyring.entries


def test_an_export_with_absurd_scrypt_costs_is_refused(tmp_path: Path) -> None:
    run("init", "--site", SITE)
    backup = tmp_path / "backup.key-export"
    answered("key", "export", "--to", str(backup), answers=f"{PASSPHRASE}\n" * 2)
    document = json.loads(backup.read_text())
    document["kdf"]["n"] = 2**40  # would take hours and terabytes before any answer
    tampered = tmp_path / "tampered"
    tampered.write_text(json.dumps(document))
    result = answered("key", "import", str(tampered), answers=f"{PASSPHRASE}\n")
    assert result.exit_code == ExitStatus.CONFIG and "not a bsti-submit key export" in result.output
