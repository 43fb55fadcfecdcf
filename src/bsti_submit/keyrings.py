"""Secrets in the OS keyring (Windows Credential Manager, macOS Keychain, the Secret Service on
Linux desktops) through the `keyring` library, as twine keeps its tokens.

An endpoint's token or password is stored under the service "bsti-submit <destination URL>",
so one workstation can hold credentials for several endpoints; the pseudonym key under the
service "bsti-submit". A machine with no keyring (a Linux server, a cron job with no desktop
session) simply has none: reads find nothing, and `login` says so.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError

SERVICE = "bsti-submit"


def _keyring() -> Any:
    import keyring  # its backends are probed on import: only when a secret is wanted

    return keyring


def endpoint_service(destination: str) -> str:
    return f"{SERVICE} {destination.rstrip('/')}"


def backend_name() -> str | None:
    """The keyring in use, or None where there is none."""
    backend = _keyring().get_keyring()
    if _is_unavailable(backend):
        return None
    return f"{type(backend).__module__}.{type(backend).__name__}"


def read(service: str, name: str, strict: bool = True) -> str | None:
    """The stored secret, or None if there is none or no keyring. A keyring that fails (locked,
    access denied) raises ConfigError, or with `strict=False` counts as holding nothing."""
    keyring = _keyring()
    try:
        value = keyring.get_password(service, name)
    except keyring.errors.NoKeyringError:
        return None
    except Exception as error:  # Windows' backend raises its own pywintypes.error
        if not strict:
            return None
        raise ConfigError(f"the keyring could not be read ({type(error).__name__})") from error
    return str(value) if value is not None else None


def store(service: str, name: str, value: str) -> None:
    keyring = _keyring()
    if backend_name() is None:
        raise ConfigError(
            "this machine has no keyring to store it in: use the environment variable or a "
            "file readable by you only (see the README)"
        )
    try:
        keyring.set_password(service, name, value)
    except Exception as error:  # never its message: it may quote the value
        raise ConfigError(
            f"the keyring refused it ({type(error).__name__}); Windows Credential Manager "
            "holds at most 1,280 characters: keep a longer token in a file"
        ) from error


def remove(service: str, name: str) -> bool:
    """Delete the stored secret; whether there was one."""
    keyring = _keyring()
    if read(service, name) is None:
        return False
    try:
        keyring.delete_password(service, name)
    except Exception as error:
        raise ConfigError(f"the keyring refused to delete it ({type(error).__name__})") from error
    return True


def _is_unavailable(backend: Any) -> bool:
    from keyring.backends import fail, null

    return isinstance(backend, fail.Keyring | null.Keyring)
