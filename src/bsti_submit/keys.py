"""Where the trust's pseudonym key lives: a file readable by its owner only (the default), or the
OS keyring (`key_store = "keyring"`); and its encrypted export, for backup and for moving the
key to a new workstation.

Either store keeps the current key and every key it retired: logs and pseudonyms made before a
new key still belong to one of them.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Any, Protocol

from . import keyrings
from .config import Settings
from .deid.pseudonym import (
    KEY_BYTES,
    create_key,
    load_key,
    replace_key,
    retirement_stamp,
    write_key,
)
from .deid.pseudonym import trust_keys as file_keys
from .errors import KeyFileError
from .platforms import make_private

_KEY_NAME, _RETIRED_NAME = "pseudonym-key", "retired-pseudonym-keys"
_RETIRED = ".retired-"  # a retired key's name: the current key's, this, and when it retired
EXPORT_FORMAT = "bsti-submit-key-export/1"
# scrypt at 2**17 (OWASP's advice): about 0.3 s and 128 MiB per try, so a stolen export
# resists guessing. An import reads the file's own parameters, within these bounds.
_SCRYPT = {"n": 2**17, "r": 8, "p": 1}
_SCRYPT_MOST = {"n": 2**20, "r": 16, "p": 4}


class KeyStore(Protocol):
    where: str

    def exists(self) -> bool: ...

    def load(self) -> bytes: ...

    def create(self) -> None: ...

    def retire_and_create(self) -> str: ...

    def all_keys(self) -> list[tuple[str, bytes]]: ...

    def put(self, current: bytes, retired: dict[str, bytes]) -> None: ...


class FileKeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> bytes:
        return load_key(self.path)

    def create(self) -> None:
        create_key(self.path)

    def retire_and_create(self) -> str:
        return str(replace_key(self.path))

    def all_keys(self) -> list[tuple[str, bytes]]:
        return file_keys(self.path)

    def put(self, current: bytes, retired: dict[str, bytes]) -> None:
        if self.exists():
            raise KeyFileError(f"a pseudonym key already exists at {self.path}")
        for stamp, key in retired.items():
            write_key(self.path.with_name(f"{self.path.name}{_RETIRED}{stamp}"), key)
        write_key(self.path, current)


class KeyringKeyStore:
    """The key as hex text under the service "bsti-submit"; retired keys as one JSON entry."""

    where = f"the OS keyring (service {keyrings.SERVICE!r}, entry {_KEY_NAME!r})"

    def exists(self) -> bool:
        return keyrings.read(keyrings.SERVICE, _KEY_NAME, strict=False) is not None

    def load(self) -> bytes:
        text = keyrings.read(keyrings.SERVICE, _KEY_NAME)
        if text is None:
            raise KeyFileError(
                f"no pseudonym key in {self.where}: run `bsti-submit init --site CODE "
                "--key-store keyring`, or `bsti-submit key import FILE --key-store keyring`, as "
                "the account that runs the tool"
            )
        return _key_from_hex(text, self.where)

    def create(self) -> None:
        if self.exists():
            raise KeyFileError(f"a pseudonym key already exists in {self.where}")
        keyrings.store(keyrings.SERVICE, _KEY_NAME, secrets.token_hex(KEY_BYTES))

    def retire_and_create(self) -> str:
        retired = self._retired()
        stamp = retirement_stamp(set(retired))
        self._store_retired({**retired, stamp: self.load()})
        keyrings.store(keyrings.SERVICE, _KEY_NAME, secrets.token_hex(KEY_BYTES))
        return f"{_KEY_NAME}{_RETIRED}{stamp} in the OS keyring"

    def all_keys(self) -> list[tuple[str, bytes]]:
        retired = sorted(self._retired().items(), reverse=True)
        named = [(f"{_KEY_NAME}{_RETIRED}{stamp}", key) for stamp, key in retired]
        return [(_KEY_NAME, self.load()), *named]

    def put(self, current: bytes, retired: dict[str, bytes]) -> None:
        if self.exists() or self._retired():
            raise KeyFileError(f"a pseudonym key already exists in {self.where}")
        self._store_retired(retired)
        keyrings.store(keyrings.SERVICE, _KEY_NAME, current.hex())

    def _retired(self) -> dict[str, bytes]:
        """The retired keys by the time they were retired."""
        text = keyrings.read(keyrings.SERVICE, _RETIRED_NAME)
        try:
            entries = dict(json.loads(text)) if text else {}
        except (TypeError, ValueError) as error:
            raise KeyFileError(f"the retired keys in {self.where} are damaged") from error
        return {stamp: _key_from_hex(value, self.where) for stamp, value in entries.items()}

    def _store_retired(self, retired: dict[str, bytes]) -> None:
        if retired:
            entries = {stamp: key.hex() for stamp, key in retired.items()}
            keyrings.store(keyrings.SERVICE, _RETIRED_NAME, json.dumps(entries))


def key_store(settings: Settings) -> KeyStore:
    if settings.key_store == "keyring":
        return KeyringKeyStore()
    return FileKeyStore(settings.key_file)


def other_store(settings: Settings) -> KeyStore:
    """The store `settings` does not use: where a key would be left behind by a switch."""
    if settings.key_store == "keyring":
        return FileKeyStore(settings.key_file)
    return KeyringKeyStore()


def _key_from_hex(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError as error:  # never quote it: it is the secret
        raise KeyFileError(f"the pseudonym key in {where} is not hex text") from error
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"the pseudonym key in {where} is not {KEY_BYTES * 8} bits long")
    return key


# --- export and import ------------------------------------------------------------------


def export_keys(store: KeyStore, target: Path, passphrase: str) -> int:
    """Write every key of `store`, encrypted with `passphrase` (scrypt, then AES-256-GCM), to a
    new file readable by its owner only. The number of keys written."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    _check_passphrase(passphrase)
    (_, current), *retired = store.all_keys()
    retired_by_stamp = {name.rsplit(_RETIRED, 1)[-1]: key.hex() for name, key in retired}
    plain = json.dumps({"current": current.hex(), "retired": retired_by_stamp}).encode()
    salt, nonce = os.urandom(16), os.urandom(12)
    sealed = AESGCM(_derive(passphrase, salt, _SCRYPT)).encrypt(
        nonce, plain, EXPORT_FORMAT.encode()
    )
    document = {
        "format": EXPORT_FORMAT,
        "kdf": {"name": "scrypt", **_SCRYPT, "salt": _b64(salt)},
        "cipher": {"name": "AES-256-GCM", "nonce": _b64(nonce)},
        "keys": _b64(sealed),
    }
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as error:
        raise KeyFileError(f"{target} exists already: name a new file") from error
    except OSError as error:
        raise KeyFileError(f"{target} cannot be written: {error.strerror}") from error
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            json.dump(document, handle, indent=2)
        make_private(target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return 1 + len(retired)


def import_keys(store: KeyStore, source: Path, passphrase: str) -> int:
    """Put the keys exported to `source` into `store`, which must have none. The number."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    document = _read_export(source)
    try:
        kdf, cipher = document["kdf"], document["cipher"]
        if kdf["name"] != "scrypt" or cipher["name"] != "AES-256-GCM":
            raise ValueError("unknown algorithm")
        cost = {name: int(kdf[name]) for name in _SCRYPT}
        if any(not 1 <= cost[name] <= _SCRYPT_MOST[name] for name in cost):
            raise ValueError("scrypt parameters out of bounds")
        salt = base64.b64decode(kdf["salt"])
        nonce = base64.b64decode(cipher["nonce"])
        sealed = base64.b64decode(document["keys"])
        keys = json.loads(
            AESGCM(_derive(passphrase, salt, cost)).decrypt(nonce, sealed, EXPORT_FORMAT.encode())
        )
        current = _key_from_hex(keys["current"], str(source))
        retired = {
            stamp: _key_from_hex(hexed, str(source)) for stamp, hexed in keys["retired"].items()
        }
    except InvalidTag as error:
        raise KeyFileError(f"{source}: wrong passphrase, or the file was changed") from error
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise KeyFileError(f"{source} is not a bsti-submit key export") from error
    store.put(current, retired)
    return 1 + len(retired)


def _read_export(source: Path) -> dict[str, Any]:
    try:
        document = json.loads(source.read_text(encoding="ascii"))
    except OSError as error:
        raise KeyFileError(f"{source} cannot be read: {error.strerror}") from error
    except (UnicodeDecodeError, ValueError) as error:
        raise KeyFileError(f"{source} is not a bsti-submit key export") from error
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise KeyFileError(f"{source} is not a bsti-submit key export ({EXPORT_FORMAT})")
    return document


def _check_passphrase(passphrase: str) -> None:
    if len(passphrase) < 12:
        raise KeyFileError("the passphrase must be at least 12 characters long")


def _derive(passphrase: str, salt: bytes, cost: dict[str, int]) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, **cost).derive(passphrase.encode())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
