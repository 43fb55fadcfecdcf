"""Keyed, one-way, repeatable pseudonyms: the same input and key always give the same output.

The key is 256 random bits kept at the trust; without it the mapping cannot be recomputed or
reversed. It is never logged, printed or written anywhere but its own file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from pydicom.uid import UID

from ..errors import KeyFileError
from ..platforms import make_private, private_file_problem, replace_file

KEY_BYTES = 32
PATIENT_CODE_LENGTH = 12  # base32 characters: 60 bits, so no two patients of a trust collide
MAX_DATE_SHIFT_DAYS = 730
_PRIVATE_MODE = 0o600  # POSIX; Windows ignores it


def create_key(path: Path) -> None:
    """Write a new random key as hex text, readable by its owner only. Never replaces a key."""
    write_key(path, secrets.token_bytes(KEY_BYTES))


def write_key(path: Path, key: bytes) -> None:
    """Write `key` as hex text to a new file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_MODE)
    except FileExistsError as error:
        raise KeyFileError(f"a pseudonym key already exists at {path}") from error
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key.hex() + "\n")
        make_private(path)  # the mode above means nothing on Windows: there its ACL does this
    except BaseException:
        path.unlink(missing_ok=True)  # no key is left that may be readable by others
        raise


def load_key(path: Path) -> bytes:
    """Read a key file, refusing one that others can read or that is not a 256-bit hex key."""
    try:
        problem = private_file_problem(path)
    except FileNotFoundError as error:
        raise KeyFileError(f"no pseudonym key at {path}") from error
    except OSError as error:
        raise KeyFileError(f"pseudonym key {path} cannot be checked: {error}") from error
    if problem:
        raise KeyFileError(f"pseudonym key {problem}")
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        # The message must not quote the file's content: it is the secret.
        raise KeyFileError(f"pseudonym key {path} is unreadable or not hex text") from error
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"pseudonym key {path} is not {KEY_BYTES * 8} bits long")
    return key


def is_well_known_uid(uid: str) -> bool:
    """SOP classes, transfer syntaxes and other UIDs defined by DICOM itself: never replaced."""
    return uid.startswith("1.2.840.10008.") or bool(UID(uid).keyword)


class Pseudonymizer:
    """Keyed mappings. One instance per key; safe to share within a process."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        # Every file of a series asks for the same few values: each is computed once.
        self.uid = lru_cache(maxsize=65536)(self._uid)
        self.patient = lru_cache(maxsize=4096)(self._patient)
        self.date_shift_days = lru_cache(maxsize=4096)(self._date_shift_days)

    def __repr__(self) -> str:  # never show the key
        return "Pseudonymizer(<key hidden>)"

    def _digest(self, purpose: str, value: str) -> bytes:
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _uid(self, original: str) -> str:
        """`2.25.<integer>` from 128 bits of the keyed hash; well-known UIDs pass through."""
        if is_well_known_uid(original):
            return original
        return f"2.25.{int.from_bytes(self._digest('uid', original)[:16], 'big')}"

    def _patient(self, site: str, issuer: str, patient_id: str) -> str:
        """`<site>-<code>`: the same patient (issuer and ID) always gets the same pseudonym."""
        digest = self._digest("patient", f"{issuer}\x00{patient_id}")
        code = base64.b32encode(digest).decode("ascii")[:PATIENT_CODE_LENGTH]
        return f"{site}-{code}"

    def _date_shift_days(self, issuer: str, patient_id: str) -> int:
        """The patient's date offset: 1 to MAX_DATE_SHIFT_DAYS days back, the same every run."""
        digest = self._digest("date-shift", f"{issuer}\x00{patient_id}")
        return -(1 + int.from_bytes(digest[:8], "big") % MAX_DATE_SHIFT_DAYS)


def replace_key(path: Path) -> Path:
    """Move an existing key aside (kept, readable by its owner only) and create a new one.
    Returns where the old key went: it is still needed to map back what was sent with it."""
    prefix = f"{path.name}.retired-"
    taken = {other.name.removeprefix(prefix) for other in path.parent.glob(f"{prefix}*")}
    retired = path.with_name(prefix + retirement_stamp(taken))
    replace_file(path, retired)
    create_key(path)
    return retired


def retirement_stamp(taken: set[str]) -> str:
    """When a key is retired, to the second; a second retirement within it gets a suffix, so
    no retired key is ever overwritten."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate, suffix = stamp, 1
    while candidate in taken:
        suffix += 1
        candidate = f"{stamp}-{suffix}"
    return candidate


def trust_keys(path: Path) -> list[tuple[str, bytes]]:
    """The trust's current key and every key it retired (newest first), by file name: logs
    and pseudonyms made before a new key still belong to one of them."""
    retired = sorted(path.parent.glob(f"{path.name}.retired-*"), reverse=True)
    return [(candidate.name, load_key(candidate)) for candidate in [path, *retired]]
