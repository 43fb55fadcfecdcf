"""One exception hierarchy and the exit codes a wrapper script can branch on.

This module imports nothing from the package, so every other module can use it.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit codes; the README publishes this table."""

    SUCCESS = 0
    ERROR = 1
    USAGE = 2
    CONFIG = 3
    INPUT_ERRORS = 4
    QUARANTINED = 5
    PARTIAL_DELIVERY = 6
    ENDPOINT = 7
    ALREADY_RUNNING = 8
    INTERRUPTED = 9
    INCOMPLETE = 10  # audit verify: the chain holds but the log has no footer


class BstiError(Exception):
    """Base of every error this tool reports to its user as one clear line."""

    exit_status = ExitStatus.ERROR


class UsageError(BstiError):
    """The command was given arguments that cannot work together."""

    exit_status = ExitStatus.USAGE


class AlreadyRunningError(BstiError):
    """Another run holds the lock on the state folder."""

    exit_status = ExitStatus.ALREADY_RUNNING


class ConfigError(BstiError):
    """The settings, the key or a folder cannot be used."""

    exit_status = ExitStatus.CONFIG


class ProfileError(ConfigError):
    """A de-identification profile cannot be found or parsed."""


class KeyFileError(ConfigError):
    """The pseudonym key is missing, unreadable or unsafe."""


class EndpointError(BstiError):
    """The central endpoint cannot be reached, or refuses us."""

    exit_status = ExitStatus.ENDPOINT


class PacsError(BstiError):
    """The trust's PACS cannot be reached, refuses us, or fails a query or a retrieval."""

    exit_status = ExitStatus.ENDPOINT


class DestinationError(BstiError):
    """The destination cannot be written to."""

    exit_status = ExitStatus.CONFIG


class HeldError(BstiError):
    """An instance stays in the quarantine: the gate still finds something in it."""

    exit_status = ExitStatus.QUARANTINED


class InstanceError(BstiError):
    """One input file cannot be de-identified; the run goes on without it."""

    status = "failed"


class NotAnInstanceError(InstanceError):
    """A DICOM file that is deliberately not processed, such as a DICOMDIR; not an error."""

    status = "skipped"
