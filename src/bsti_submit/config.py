"""Settings for a run: command-line flag > `BSTI_SUBMIT_*` variable > config file > default.

The config file is TOML: `--config`, else `BSTI_SUBMIT_CONFIG`, else `config.toml` in the
platformdirs user config folder (written by `bsti-submit init`).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from . import keyrings
from .deid.profile import DEFAULT_PROFILE
from .errors import ConfigError, UsageError
from .platforms import private_file_problem, replace_file

APP_NAME = "bsti-submit"
ENV_PREFIX = "BSTI_SUBMIT_"
SITE_CODE = re.compile(r"^[A-Z0-9]{2,10}$")


def data_dir() -> Path:
    """Where the pseudonym key and the lookup table live."""
    return platformdirs.user_data_path(APP_NAME)


def log_dir() -> Path:
    """Where audit logs are written by default."""
    return platformdirs.user_log_path(APP_NAME)


def state_dir() -> Path:
    """Where the quarantine (and later the delivery state) live."""
    return platformdirs.user_state_path(APP_NAME)


def default_config_file() -> Path:
    """The config file `init` writes and every command reads when none is named."""
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


# The secrets: each from its environment variable, or else from the file a setting names.
SECRETS = {
    "token": ("BSTI_SUBMIT_TOKEN", "token_file"),
    "password": ("BSTI_SUBMIT_PASSWORD", "password_file"),
}
KEY_STORES = ("file", "keyring")  # where the pseudonym key lives


@dataclass(frozen=True)
class Settings:
    """Everything a run needs besides its source. Immutable once built."""

    profile: str = DEFAULT_PROFILE
    site: str = ""
    destination: str = ""
    key_store: str = "file"
    key_file: Path = field(default_factory=lambda: data_dir() / "pseudonym.key")
    lookup_file: Path = field(default_factory=lambda: data_dir() / "lookup.sqlite")
    log_dir: Path = field(default_factory=log_dir)
    state_dir: Path = field(default_factory=state_dir)
    local_id_pattern: str = ""
    ca_bundle: Path | None = None
    token_file: Path | None = None
    username: str = ""
    password_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    batch_instances: int = 50
    batch_megabytes: int = 64
    spool_megabytes: int = 256  # cleaned instances waiting to be sent, at most
    idle_timeout: int = 120
    retries: int = 5
    retry_backoff: float = 1.0  # seconds before the first retry; doubled each time, jittered
    quiet_seconds: int = 0
    log_retention_days: int = 30
    workers: int = 0  # 0: one per CPU
    after_delivery: str = "keep"
    move_to: Path | None = None
    listen_address: str = "0.0.0.0"  # noqa: S104 - every interface: PACS sends from another host
    listen_port: int = 11112
    listen_ae_title: str = "BSTISUBMIT"
    allowed_calling_ae_titles: str = ""  # comma-separated; none allowed until set
    allowed_calling_addresses: str = ""  # comma-separated addresses or networks; "": any
    pacs_host: str = ""  # the trust's PACS, for `retrieve` and `check-pacs`
    pacs_port: int = 104
    pacs_ae_title: str = ""
    pacs_retrieve: str = "move"  # C-MOVE to listen_ae_title, or C-GET
    pacs_timeout: int = 30  # seconds to wait for the PACS to connect or answer
    # Where each value came from: "default", "config file PATH", "environment VAR", "flag".
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def state_database(self) -> Path:
        """What was sent where, which source files are done, and the runs."""
        return self.state_dir / "state.sqlite"

    @property
    def quarantine_dir(self) -> Path:
        """Instances held back, with their findings."""
        return self.state_dir / "quarantine"

    @property
    def spool_dir(self) -> Path:
        """Cleaned instances waiting for the endpoint's answer."""
        return self.state_dir / "spool"

    @property
    def staging_dir(self) -> Path:
        """What the workers wrote, before the run commits it."""
        return self.state_dir / "staging"

    def secret(self, name: str, destination: str = "") -> str | None:
        """The token or password for `destination` (else the configured one): from its
        environment variable, else the OS keyring, else its file (which must be readable by
        its owner only). Never printed, logged or recorded."""
        variable, file_setting = SECRETS[name]
        return (
            os.environ.get(variable)
            or self._keyring_secret(name, destination)
            or _secret_file(getattr(self, file_setting))
        )

    def secret_source(self, name: str, destination: str = "") -> str:
        """Where the token or password comes from, never the value."""
        variable, file_setting = SECRETS[name]
        if os.environ.get(variable):
            return f"environment {variable}"
        if self._keyring_secret(name, destination):
            return f"keyring, for {(destination or self.destination).rstrip('/')}"
        path = getattr(self, file_setting)
        return f"file {path}" if path else "not set"

    def _keyring_secret(self, name: str, destination: str) -> str | None:
        url = destination or self.destination
        if not url.startswith("https://"):
            return None  # a folder needs no credentials
        # a keyring that fails must not stop a run whose secret is in its file
        return keyrings.read(keyrings.endpoint_service(url), name, strict=False)

    @classmethod
    def load(cls, config_file: Path | None = None, **flags: Any) -> Settings:
        """Defaults, then the config file, then `BSTI_SUBMIT_<FIELD>` variables, then the flags
        that are not None; each value remembers where it came from."""
        chosen_file = config_file or config_file_in_use()
        layers: list[tuple[str, dict[str, Any]]] = [
            (f"config file {chosen_file}", _read_config(chosen_file)),
            *(
                (
                    f"environment {_env_name(item.name)}",
                    {item.name: os.environ[_env_name(item.name)]},
                )
                for item in fields(cls)
                if item.name != "sources" and os.environ.get(_env_name(item.name))
            ),
            ("flag", {name: value for name, value in flags.items() if value is not None}),
        ]
        merged: dict[str, Any] = {}
        sources = {item.name: "default" for item in fields(cls) if item.name != "sources"}
        for origin, layer in layers:
            merged.update(layer)
            sources.update(dict.fromkeys(layer, origin))
        typed = {}
        for name, value in merged.items():
            try:
                typed[name] = _checked(name, _typed(name, value))
            except ValueError as error:
                if sources[name] == "flag":
                    raise UsageError(f"{name} (given on the command line): {error}") from error
                where = _where(sources[name], name)
                raise ConfigError(f"setting {name} ({where}): {error}") from error
        return replace(cls(), **typed, sources=sources)


AFTER_DELIVERY = ("keep", "move", "delete")  # what becomes of a source file once it is safe
# The least each number may be: a negative count, or no batch at all, would make no sense.
_LEAST = {
    "batch_instances": 1,
    "batch_megabytes": 1,
    "spool_megabytes": 1,
    "idle_timeout": 1,
    "retries": 0,
    "retry_backoff": 0,
    "quiet_seconds": 0,
    "log_retention_days": 1,
    "workers": 0,
    "listen_port": 1,
    "pacs_port": 1,
    "pacs_timeout": 1,
}
PACS_RETRIEVE = ("move", "get")
# An AE title: 1 to 16 characters of printable ASCII but the backslash, not all spaces.
AE_TITLE = re.compile(r"^(?=.*[^ ])[ -\[\]-~]{1,16}$")


def _checked(name: str, value: Any) -> Any:
    """A setting's value, refused (ValueError, saying why) where it cannot work."""
    if name in _LEAST and value < _LEAST[name]:
        raise ValueError(f"must be {_LEAST[name]} or more, not {value}")
    if name == "site" and value and not SITE_CODE.match(value):
        raise ValueError(
            f"site code {value!r} is not valid: 2 to 10 capital letters or digits, such as "
            "the trust's ODS code"
        )
    if name == "key_store" and value not in KEY_STORES:
        raise ValueError(f"must be one of {', '.join(KEY_STORES)}, not {value!r}")
    if name == "pacs_retrieve" and value not in PACS_RETRIEVE:
        raise ValueError(f"must be one of {', '.join(PACS_RETRIEVE)}, not {value!r}")
    if name in ("listen_ae_title", "pacs_ae_title") and value and not AE_TITLE.match(value):
        raise ValueError(
            f"AE title {value!r} is not valid: 1 to 16 letters, digits, spaces or punctuation"
        )
    if name == "after_delivery" and value not in AFTER_DELIVERY:
        raise ValueError(f"must be one of {', '.join(AFTER_DELIVERY)}, not {value!r}")
    if name == "allowed_calling_addresses":
        networks(value)
    if name == "local_id_pattern":
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from error
    if name == "destination" and value:
        from .delivery.address import parse_destination

        try:
            parsed = parse_destination(value)
        except UsageError as error:
            raise ValueError(str(error)) from error
        return parsed if isinstance(parsed, str) else value  # a folder as given: ./x stays ./x
    return value


def networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The addresses and networks of a comma-separated list ("10.1.2.0/24, 10.1.3.7")."""
    found = []
    for item in (part.strip() for part in value.split(",")):
        if item:
            try:
                found.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
    return found


def _where(source: str, name: str) -> str:
    """Where a value came from, with the config file's line that sets it."""
    prefix = "config file "
    if not source.startswith(prefix):
        return source
    path = Path(source.removeprefix(prefix))
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return source
    setting = re.compile(rf"^\s*{re.escape(name)}\s*=")
    number = next((index for index, line in enumerate(lines, 1) if setting.match(line)), None)
    return f"{source}, line {number}" if number else source


def _env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def site_config_file() -> Path:
    """The machine-wide config file, for installs shared by every user of a host."""
    return platformdirs.site_config_path(APP_NAME) / "config.toml"


def config_file_in_use() -> Path | None:
    """BSTI_SUBMIT_CONFIG, else the user's config file, else the machine's, else none."""
    named = os.environ.get(_env_name("config"))
    if named:
        return Path(named)
    for candidate in (default_config_file(), site_config_file()):
        if candidate.is_file():
            return candidate
    return None


def _typed(name: str, value: Any) -> Any:
    kind = str(next(item.type for item in fields(Settings) if item.name == name))
    if "Path" in kind:
        return Path(str(value)).expanduser()
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError(f"must be a whole number, not {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"must be a whole number, not {value!r}") from error
    if kind == "float":
        if isinstance(value, bool):
            raise ValueError(f"must be a number, not {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"must be a number, not {value!r}") from error
    return str(value)


def _read_config(path: Path | None) -> dict[str, Any]:
    """A config file's settings; its errors name the file, the line and what is wrong."""
    if path is None:
        return {}
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except FileNotFoundError as error:
        raise ConfigError(f"config file {path} does not exist") from error
    except OSError as error:
        raise ConfigError(f"config file {path} cannot be read: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path}: {error}") from error
    known = {item.name for item in fields(Settings)} - {"sources"}
    unknown = sorted(set(values) - known)
    if unknown:
        names = ", ".join(sorted(known))
        raise ConfigError(f"config file {path}: unknown setting {unknown[0]!r} (known: {names})")
    return values


def write_config(path: Path, settings: Settings) -> None:
    """Write the settings `init` chose as a TOML config file."""
    chosen = {"site": settings.site, "profile": settings.profile}
    if settings.destination:
        chosen["destination"] = settings.destination
    chosen["key_store"] = settings.key_store
    if settings.key_store == "file":
        chosen["key_file"] = str(settings.key_file)
    if path.exists():  # rewritten: the settings init does not choose keep their lines
        kept = [line for line in _config_lines(path) if not any(_sets(line, n) for n in chosen)]
    else:
        kept = ["# bsti-submit configuration, written by `bsti-submit init`."]
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_lines(path, kept + [f"{name} = {json.dumps(value)}" for name, value in chosen.items()])


# Settings `config set` leaves to `init`: the key decides every pseudonym (init --new-key).
_SET_BY_INIT = ("key_file", "key_store")


def set_value(path: Path, name: str, text: str) -> Any:
    """Set one setting in the config file, checked as a run would check it; the other lines
    (comments too) are kept. The value written."""
    _settable(name)
    try:
        value = _checked(name, _typed(name, text))
    except ValueError as error:
        raise UsageError(f"{name}: {error}") from error
    written = value if isinstance(value, int) else str(value)
    line = f"{name} = {json.dumps(written)}"
    lines = [kept for kept in _config_lines(path) if not _sets(kept, name)]
    _write_lines(path, [*lines, line])
    return value


def unset_value(path: Path, name: str) -> bool:
    """Remove a setting from the config file (its default, or a variable, applies again);
    whether it was there."""
    _settable(name)
    lines = _config_lines(path)
    kept = [line for line in lines if not _sets(line, name)]
    if len(kept) != len(lines):
        _write_lines(path, kept)
    return len(kept) != len(lines)


def _settable(name: str) -> None:
    known = sorted({item.name for item in fields(Settings)} - {"sources"})
    if name not in known:
        raise UsageError(f"unknown setting {name!r} (known: {', '.join(known)})")
    if name in _SET_BY_INIT:
        raise UsageError(f"{name} is chosen by init: bsti-submit init --new-key replaces the key")


def _sets(line: str, name: str) -> bool:
    return re.match(rf"^\s*{re.escape(name)}\s*=", line) is not None


def _config_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as error:
        raise ConfigError(f"config file {path} does not exist: run bsti-submit init") from error
    except OSError as error:
        raise ConfigError(f"config file {path} cannot be read: {error.strerror}") from error


def _write_lines(path: Path, lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:  # a hand-edited file we would make worse
        raise ConfigError(f"config file {path} would not be valid TOML: {error}") from error
    temporary = path.with_name(f".{path.name}.new")
    try:
        temporary.write_text(text, encoding="utf-8")
        replace_file(temporary, path)
    except OSError as error:
        raise ConfigError(f"config file {path} cannot be written: {error.strerror}") from error


def _secret_file(path: Path | None) -> str | None:
    """A secret from a file readable by its owner only; its content is never quoted."""
    if path is None:
        return None
    try:
        problem = private_file_problem(path)
        if problem:
            raise ConfigError(problem)
        return path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"{path} cannot be read: {error.strerror or error}") from error
