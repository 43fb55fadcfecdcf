"""Stand-ins for the OS's own parts: Windows' modules and commands, so the Windows branches run
on Linux, and a keyring (Credential Manager, Keychain) in memory."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from typing import Any

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class Msvcrt:
    """`msvcrt.locking` as Windows does it: byte ranges of a file, mandatory, refused with
    OSError while another descriptor holds them. Files are told apart by inode."""

    LK_UNLCK, LK_NBLCK = 0, 2

    def __init__(self) -> None:
        self.held: dict[tuple[int, int], int] = {}  # (inode, offset) -> holding descriptor
        self.calls: list[tuple[int, int]] = []  # (mode, offset)

    def locking(self, descriptor: int, mode: int, length: int) -> None:
        offset = os.lseek(descriptor, 0, os.SEEK_CUR)
        self.calls.append((mode, offset))
        place = (os.fstat(descriptor).st_ino, offset)
        if mode == self.LK_UNLCK:
            self.held.pop(place)
        elif self.held.setdefault(place, descriptor) != descriptor:
            raise PermissionError(13, "Permission denied")


class Icacls:
    """The `icacls` command: lists a file's grants, or records what it was asked to set."""

    def __init__(self, grants: str = "HOST\\alice:(F)", returncode: int = 0) -> None:
        self.grants = grants
        self.returncode = returncode
        self.commands: list[list[str]] = []

    def __call__(self, command: Sequence[str], **options: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(list(command))
        listing = f"{command[1]} {self.grants}\n\nSuccessfully processed 1 files" + (
            "" if self.returncode == 0 else "; Failed processing 1 files"
        )
        return subprocess.CompletedProcess(
            list(command), self.returncode, stdout=listing, stderr=""
        )


class MemoryKeyring(KeyringBackend):
    """An OS keyring for one test: what it holds is in `entries`."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")
