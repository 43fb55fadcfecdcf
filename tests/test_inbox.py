"""The listener's inbox (whole files only, quiet studies found, nothing lost to a race) and
which addresses its node lets in."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from pathlib import Path

from bsti_submit.config import Settings
from bsti_submit.listener import Inbox, StorageNode
from bsti_submit.run import RunSummary


def files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def test_a_study_folder_holds_whole_files_only(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox")
    inbox.store("1.2.3", "1.2.3.4", b"DICOM bytes")
    (stored,) = inbox.folder("1.2.3").iterdir()
    assert stored.read_bytes() == b"DICOM bytes" and stored.stat().st_mode & 0o777 == 0o600
    assert "1.2.3" not in str(stored), "a UID became a file name"
    assert not list(inbox.incoming.iterdir())
    assert (tmp_path / "inbox").stat().st_mode & 0o777 == 0o700


def test_an_instance_being_written_keeps_its_study_waiting(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox")
    inbox.store("1.2.3", "1.2.3.4", b"first")
    folder = inbox.folder("1.2.3")
    now = time.time()
    os.utime(next(folder.iterdir()), (now - 100, now - 100))
    assert inbox.ready(10, now) == [folder]
    arriving = inbox.incoming / f"{folder.name}.next.dcm.1.partial"
    arriving.write_bytes(b"half")
    assert inbox.ready(10, now) == [], "taken while an instance of it was still arriving"
    os.utime(arriving, (now - 61, now - 61))  # left by a crash: its sender had no success
    assert inbox.ready(10, now) == [folder]
    assert not arriving.exists()


def test_storing_while_the_loop_looks_loses_nothing(tmp_path: Path) -> None:
    """The sending loop scans the inbox while associations write into it: a file renamed or a
    folder made as it looks must neither crash the loop nor lose an instance."""
    inbox = Inbox(tmp_path / "inbox")
    errors: list[BaseException] = []

    def send(study: int) -> None:
        try:
            for index in range(150):
                inbox.store(f"1.2.{study}", f"1.2.{study}.{index}", b"x" * 2048)
        except BaseException as error:
            errors.append(error)

    senders = [threading.Thread(target=send, args=(study,)) for study in range(4)]
    for sender in senders:
        sender.start()
    while any(sender.is_alive() for sender in senders):
        inbox.ready(3600)  # the loop looks and takes nothing
        inbox.ready(0)  # or finds every study ready
    for sender in senders:
        sender.join()
    assert not errors
    assert len(files(tmp_path / "inbox")) == 600
    assert inbox.studies() == 4


def test_clearing_a_study_leaves_only_what_still_waits(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox")
    inbox.store("1.2.3", "1.2.3.4", b"one")
    folder = inbox.folder("1.2.3")
    (only,) = folder.iterdir()
    only.unlink()  # delivered: the run deleted it
    inbox.clear(folder, _summary())
    assert not folder.exists() and inbox.studies() == 0


def _summary() -> RunSummary:
    return RunSummary(run_id="r", audit_log=None, destination="d", profile="p")


def test_an_ipv4_sender_to_a_dual_stack_node_is_matched_by_its_ipv4_network(
    tmp_path: Path,
) -> None:
    settings = replace(
        Settings(), allowed_calling_ae_titles="PACS", allowed_calling_addresses="10.20.30.0/24"
    )
    node = StorageNode(settings, Inbox(tmp_path / "inbox"))
    assert node.address_allowed("10.20.30.4")
    assert node.address_allowed("::ffff:10.20.30.4")  # as a node listening on "::" sees it
    assert not node.address_allowed("::ffff:10.20.31.4")
    assert not node.address_allowed("fe80::1%eth0")
