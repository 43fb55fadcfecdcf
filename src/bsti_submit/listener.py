"""`bsti-submit listen`: a DICOM node that PACS or a modality sends studies to (C-STORE, C-ECHO).

Received instances go, whole or not at all, into a private inbox under the state folder, one
folder per study, named by a hash so that no UID is a file name. A study is taken once nothing
of it arrived for `quiet_seconds`, through the same line as `submit`, and its inbox files are
deleted once each is delivered, held, skipped or failed (the audit log records which): the
inbox keeps an identifiable copy no longer than the study's processing, except an instance the
endpoint has not yet acknowledged, which is tried again. What was received
and not yet processed when the listener stopped is taken when it starts again.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import platforms
from .config import Settings, networks
from .errors import BstiError, ConfigError
from .keys import key_store
from .locks import RunLock
from .run import RunSummary, check_destination, submit

LOGGER = logging.getLogger("bsti_submit.listen")
_SUCCESS, _OUT_OF_RESOURCES, _CANNOT_UNDERSTAND = 0x0000, 0xA700, 0xC000
_REFUSED = 0x0124  # not authorised
_PARTIAL = ".partial"
_STALE_SECONDS = 60  # a temporary file this old was left by a crash: every write is one call
RETRY_SECONDS = 30  # at least this long before a study that could not be sent is tried again
LISTEN_LOCK = "listen.lock"  # one receiving node per state folder: `listen` or `retrieve`


def _modified(path: Path) -> float:
    """When a file was last written; 0 when it is gone (renamed or deleted as we looked)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _hashed(uid: str) -> str:
    return hashlib.sha256(uid.encode("ascii", "replace")).hexdigest()[:32]


class Inbox:
    """Received instances, one private folder per study. An instance is written in the
    `.incoming` folder and renamed into its study's folder once whole, so a study folder
    holds complete files only, even while its study is being sent."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / ".incoming"
        for folder in (root, self.incoming):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)

    def folder(self, study_uid: str) -> Path:
        """The folder a study's instances go in."""
        return self.root / _hashed(study_uid)

    def store(self, study_uid: str, sop_uid: str, encoded: bytes) -> None:
        """Write one instance under a temporary name, then rename: never half a file."""
        study, name = _hashed(study_uid), f"{_hashed(sop_uid)}.dcm"
        temporary = self.incoming / f"{study}.{name}.{threading.get_ident()}{_PARTIAL}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(encoded)
                handle.flush()
                os.fsync(handle.fileno())  # acknowledged means on disk: PACS deletes on success
            self._move_in(temporary, self.root / study / name)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    @staticmethod
    def _move_in(temporary: Path, target: Path) -> None:
        for attempt in range(2):  # the sending loop may remove an empty folder as we look
            target.parent.mkdir(mode=0o700, exist_ok=True)
            try:
                platforms.replace_file(temporary, target)
                return
            except FileNotFoundError:
                if attempt or not temporary.exists():
                    raise

    def _study_folders(self) -> list[Path]:
        return sorted(
            path for path in self.root.iterdir() if path.is_dir() and path != self.incoming
        )

    def studies(self) -> int:
        """How many studies wait in the inbox."""
        return len(self._study_folders())

    def ready(self, quiet_seconds: float, now: float | None = None) -> list[Path]:
        """Study folders nothing arrived in for `quiet_seconds`, oldest first (an instance
        still being written counts as arriving). A temporary file left by a crash is deleted:
        its sender had no success for it and sends it again."""
        now = time.time() if now is None else now
        arriving = self._arriving(now)
        found: list[tuple[float, Path]] = []
        for folder in self._study_folders():
            newest = max([_modified(file) for file in folder.iterdir()], default=0.0)
            newest = max(newest, arriving.get(folder.name, 0.0))
            if newest and now - newest >= quiet_seconds:
                found.append((newest, folder))
            elif not newest and now - _modified(folder) > _STALE_SECONDS:
                with contextlib.suppress(OSError):  # an instance may arrive as we look
                    folder.rmdir()
        return [folder for _, folder in sorted(found)]

    def _arriving(self, now: float) -> dict[str, float]:
        """Study folder name -> when an instance of it was last being written."""
        arriving: dict[str, float] = {}
        for file in self.incoming.iterdir():
            modified = _modified(file)
            if modified and now - modified > _STALE_SECONDS:
                file.unlink(missing_ok=True)
            elif modified:
                study = file.name.split(".", 1)[0]
                arriving[study] = max(arriving.get(study, 0.0), modified)
        return arriving

    def clear(self, folder: Path, summary: RunSummary) -> None:
        """Delete what the run is done with but left (held, skipped or failed instances; the
        delivered ones it deleted itself). An instance the endpoint did not acknowledge stays,
        and its quiet clock starts again, so the study is tried again after quiet_seconds."""
        for entry in [*summary.quarantined, *summary.skipped, *summary.failed]:
            entry.path.unlink(missing_ok=True)
        left = list(folder.iterdir())
        for file in left:
            os.utime(file)
        if not left:
            with contextlib.suppress(OSError):  # an instance may arrive as we look
                folder.rmdir()


def allowed_senders(settings: Settings) -> list[str]:
    """The calling AE titles that may send: the configured ones, and the trust's PACS."""
    titles = [*settings.allowed_calling_ae_titles.split(","), settings.pacs_ae_title]
    return list(dict.fromkeys(title.strip() for title in titles if title.strip()))


class StorageNode:
    """The Storage SCP (C-STORE, C-ECHO) that writes what allowed senders send into an inbox."""

    def __init__(self, settings: Settings, inbox: Inbox) -> None:
        self.settings = settings
        self.inbox = inbox
        self.allowed = allowed_senders(settings)
        self.addresses = networks(settings.allowed_calling_addresses)
        if not self.allowed:
            raise ConfigError(
                "no calling AE title is allowed to send: set allowed_calling_ae_titles "
                "(comma-separated) to the PACS's and modalities' AE titles"
            )

    @contextmanager
    def running(self) -> Iterator[None]:
        """Accept associations on the configured address and port while the block runs."""
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
        from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

        ae = AE(ae_title=self.settings.listen_ae_title)
        ae.require_calling_aet = self.allowed
        for context in AllStoragePresentationContexts:
            assert context.abstract_syntax is not None
            ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        handlers: list[Any] = [
            (evt.EVT_C_STORE, self.store),
            (evt.EVT_REJECTED, _log_rejected),
            (evt.EVT_ACCEPTED, _log_accepted),
        ]
        address = (self.settings.listen_address, self.settings.listen_port)
        try:
            server: Any = ae.start_server(address, block=False, evt_handlers=handlers)
        except OSError as error:
            raise ConfigError(
                f"cannot listen on {address[0]} port {address[1]}: {error.strerror or error}"
            ) from error
        # socketserver's own hook: a connection from elsewhere is closed before it associates
        server.verify_request = lambda _request, client: self.address_allowed(client[0])
        try:
            yield
        finally:
            server.shutdown()

    def address_allowed(self, address: str) -> bool:
        """Whether a sender at `address` may connect (logged when it may not)."""
        if not self.addresses:
            return True
        host = ipaddress.ip_address(address.split("%")[0])
        if isinstance(host, ipaddress.IPv6Address) and host.ipv4_mapped:
            host = host.ipv4_mapped  # an IPv4 sender to a node listening on "::"
        if any(host in network for network in self.addresses):
            return True
        LOGGER.warning("refused a connection from %s: not in allowed_calling_addresses", address)
        return False

    def store(self, event: Any) -> int:
        """An EVT_C_STORE handler: the instance into the inbox, then success (or why not)."""
        sender = event.assoc.requestor.address  # over a C-GET, the requestor is this node
        if event.assoc.is_acceptor and not self.address_allowed(sender):
            return _REFUSED
        try:
            dataset = event.dataset
            study, sop = str(dataset.StudyInstanceUID), str(dataset.SOPInstanceUID)
        except Exception:  # a dataset that does not decode, or names no study
            return _CANNOT_UNDERSTAND
        try:
            self.inbox.store(study, sop, bytes(event.encoded_dataset(include_meta=True)))
        except OSError:
            LOGGER.error("an instance could not be written to the inbox")
            return _OUT_OF_RESOURCES
        return _SUCCESS


class StudyLine:
    """What becomes of a received study: `submit`, then its inbox files cleared."""

    def __init__(self, settings: Settings, destination: str) -> None:
        key_store(settings).load()  # no key, or one others can read: refused before receiving
        check_destination(settings, destination)
        self.destination = destination
        # delivered source files go at once; the rest are cleared after the study
        self.settings = replace(settings, after_delivery="delete")
        self.inbox = Inbox(settings.state_dir / "inbox")

    def send(self, folder: Path) -> RunSummary:
        summary = submit(folder, self.destination, self.settings)
        self.inbox.clear(folder, summary)
        return summary


class Listener:
    """The Storage SCP and the loop that sends each quiet study down the line."""

    def __init__(
        self,
        settings: Settings,
        destination: str,
        on_study: Callable[[RunSummary], None] | None = None,
        on_error: Callable[[BstiError], None] | None = None,
    ) -> None:
        self.settings = settings
        self.line = StudyLine(settings, destination)
        self.node = StorageNode(settings, self.line.inbox)
        self.on_study = on_study
        self.on_error = on_error  # a study that could not be sent now, and why
        self._retry_at: dict[Path, float] = {}  # study folder -> when to try it again

    def serve(self, stop: threading.Event, listening: Callable[[], None] | None = None) -> None:
        """Listen until `stop` is set (or Ctrl-C), processing each study once it is quiet;
        `listening` is called once associations are accepted."""
        with RunLock(self.settings.state_dir, name=LISTEN_LOCK), self.node.running():
            if listening is not None:
                listening()
            while not stop.is_set():
                self.process_ready()
                stop.wait(0.5)

    def process_ready(self) -> None:
        """Send each quiet study. One that cannot be sent now (the endpoint down, the run lock
        held by a cron `submit`) stays in the inbox and is tried again later: the node goes on
        receiving meanwhile."""
        now = time.monotonic()
        for folder in self.line.inbox.ready(self.settings.quiet_seconds):
            if self._retry_at.get(folder, 0.0) > now:
                continue
            try:
                summary = self.line.send(folder)
            except BstiError as error:
                self._retry_at[folder] = now + max(self.settings.quiet_seconds, RETRY_SECONDS)
                # by kind only: the day log names no file, and an error's text may
                LOGGER.error(
                    "a study could not be sent (%s); it stays in the inbox and is tried again",
                    type(error).__name__,
                )
                if self.on_error is not None:
                    self.on_error(error)
                continue
            self._retry_at.pop(folder, None)
            if self.on_study is not None:
                self.on_study(summary)


# Associations are logged by AE title and address only: never a patient, study or file name.
def _log_rejected(event: Any) -> None:
    requestor = event.assoc.requestor
    LOGGER.warning("refused an association from %s at %s", requestor.ae_title, requestor.address)


def _log_accepted(event: Any) -> None:
    requestor = event.assoc.requestor
    LOGGER.info("accepted an association from %s at %s", requestor.ae_title, requestor.address)
