"""The trust's evidence of what left: its signing key, receipts written on demand, and the
check of a signed document against the trust's keys or a public key it handed out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import receipts, withdrawal
from .config import Settings
from .history import find_run
from .keys import key_store
from .receipts import Written, write_receipt
from .signing import load_public_key, signing_key, verify_file


def public_key(settings: Settings) -> Ed25519PublicKey:
    """The public half of the trust's current signing key."""
    return signing_key(key_store(settings).load()).public_key()


def trust_public_keys(settings: Settings) -> list[Ed25519PublicKey]:
    """The public keys of the current signing key and of every retired one."""
    return [signing_key(key).public_key() for _, key in key_store(settings).all_keys()]


def receipt_for_run(settings: Settings, run: str) -> Written:
    """(Re)write the signed receipt of the run named by its ID or its audit log."""
    found = find_run(settings.log_dir, run)
    return write_receipt(found.path, key_store(settings).load())


def verify_signed(settings: Settings, path: Path, public_key_file: Path | None) -> dict[str, Any]:
    """A receipt or withdrawal request checked against the public key given, or else against
    this trust's own keys (current and retired)."""
    keys = [load_public_key(public_key_file)] if public_key_file else trust_public_keys(settings)
    return verify_file(path, keys, (receipts.FORMAT, withdrawal.FORMAT))
