"""Signed documents for the central collection: submission receipts and withdrawal requests.

The signing key is an Ed25519 key derived from the trust's pseudonym key, so it is made at
`init` and backed up, moved and rotated with it: one secret to keep, not two. The collection
holds the public key (`bsti-submit key public`). A document is JSON in one canonical form
(sorted keys, two-space indent, UTF-8) and its signature covers that form without the
signature itself; a file not in that form fails, so any byte changed is caught.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import BstiError, UsageError

_SIGNING_PURPOSE = b"bsti-submit receipt signing v1"  # the seed is for this and nothing else
ALGORITHM = "Ed25519"


class SignatureError(BstiError):
    """A signed document that does not verify."""


def signing_key(pseudonym_key: bytes) -> Ed25519PrivateKey:
    """The trust's signing key, derived from its pseudonym key."""
    seed = hmac.new(pseudonym_key, _SIGNING_PURPOSE, hashlib.sha256).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_pem(key: Ed25519PublicKey) -> str:
    """The public key as PEM (SubjectPublicKeyInfo), to hand to the central collection."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint that names a public key: the first 16 hex digits of its SHA-256."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key from a PEM file, as `key public` prints it."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as error:
        raise UsageError(f"public key {path} cannot be read: {error.strerror}") from error
    except ValueError as error:
        raise UsageError(f"{path} is not a PEM public key") from error
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{path} is not an Ed25519 public key")
    return key


def canonical(document: dict[str, Any]) -> bytes:
    """The one form a signed document is written and checked in."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def sign(document: dict[str, Any], key: Ed25519PrivateKey) -> bytes:
    """The document with its signature, in canonical form, ready to write."""
    public = key.public_key()
    value = key.sign(canonical(document))
    signature = {
        "algorithm": ALGORITHM,
        "key_id": key_id(public),
        "value": base64.b64encode(value).decode("ascii"),
    }
    return canonical({**document, "signature": signature})


def verify(data: bytes, keys: list[Ed25519PublicKey]) -> dict[str, Any]:
    """The document, without its signature, if `data` is in canonical form and signed by one
    of `keys` (the one its key ID names); else SignatureError saying why not."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SignatureError("not a signed bsti-submit document (not JSON)") from error
    if not isinstance(document, dict) or not isinstance(document.get("signature"), dict):
        raise SignatureError("not a signed bsti-submit document (no signature)")
    if canonical(document) != data:
        raise SignatureError("altered: the file is not in the form it was signed in")
    signature = document.pop("signature")
    if signature.get("algorithm") != ALGORITHM or set(signature) != {
        "algorithm",
        "key_id",
        "value",
    }:
        raise SignatureError(f"altered: the signature is not an {ALGORITHM} signature as written")
    wanted = signature.get("key_id")
    key = next((key for key in keys if key_id(key) == wanted), None)
    if key is None:
        raise SignatureError(f"signed with key {wanted}, which is not the public key given")
    try:
        key.verify(
            base64.b64decode(str(signature.get("value")), validate=True), canonical(document)
        )
    except (InvalidSignature, ValueError) as error:
        raise SignatureError("altered: the signature does not match the content") from error
    return dict(document)


def verify_file(
    path: Path, keys: list[Ed25519PublicKey], formats: tuple[str, ...]
) -> dict[str, Any]:
    """The content of a signed document of one of `formats`, if it verifies under `keys`."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SignatureError(f"cannot be read: {error.strerror}") from error
    document = verify(data, keys)
    if document.get("format") not in formats:
        raise SignatureError("signed, but not a receipt or withdrawal request of this tool")
    return document
