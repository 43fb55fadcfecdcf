"""Read-only views for the trust's staff: the runs and what each study got, the held instances,
the lookup table, and the endpoint check. Each opens what it reads and creates nothing: a view
asked for before the first run finds nothing, and says so."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .delivery.state import DeliveryState, StudyStatus
from .delivery.stow import StowClient
from .errors import UsageError
from .gate.quarantine import Held, Quarantine
from .lookup import LookupTable, PatientEntry
from .run import endpoint_for


@dataclass
class History:
    """Every run (ID, destination, start, finish or None) and every study's counts."""

    runs: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    studies: list[StudyStatus] = field(default_factory=list)


@dataclass(frozen=True)
class HeldInstance:
    """One held instance, its cleaned file, and the picture of its text regions if any."""

    entry: Held
    path: Path
    picture: Path | None


def history(settings: Settings) -> History:
    """What the state database holds (`status`)."""
    if not settings.state_database.exists():
        return History()
    with closing(DeliveryState(settings.state_database)) as state:
        return History(state.runs(), state.studies())


def held_entries(settings: Settings) -> list[Held]:
    """Everything held or released, oldest first (`quarantine list`)."""
    if not settings.quarantine_dir.exists():
        return []
    with closing(Quarantine(settings.quarantine_dir)) as held:
        return held.entries()


def held_instance(settings: Settings, held_id: str) -> HeldInstance:
    """One held instance for its reviewer (`quarantine show`); a usage error if unknown."""
    if not settings.quarantine_dir.exists():
        raise UsageError(f"no quarantined instance with ID {held_id}: nothing is held")
    with closing(Quarantine(settings.quarantine_dir)) as held:
        entry = held.get(held_id)
        return HeldInstance(entry, held.path_of(entry), held.review_picture(entry))


def patients(
    settings: Settings, pseudonym: str | None = None, patient_id: str | None = None
) -> list[PatientEntry]:
    """The lookup table's rows for a pseudonym, or for a patient ID (`lookup`)."""
    if (pseudonym is None) == (patient_id is None):
        raise UsageError("give either a PSEUDONYM or --patient-id ID")
    if not settings.lookup_file.exists():
        return []
    with closing(LookupTable(settings.lookup_file)) as table:
        if pseudonym is not None:
            entry = table.by_pseudonym(pseudonym)
            return [entry] if entry else []
        return table.by_patient_id(str(patient_id))


def check_endpoint(settings: Settings) -> str:
    """Prove the destination endpoint works: TLS, authentication, a harmless query."""
    if not settings.destination.startswith("https://"):
        raise UsageError("give the endpoint's https:// base URL, or set it with init")
    with closing(StowClient(endpoint_for(settings, settings.destination))) as client:
        return client.check()
