"""The trust's PACS as a query/retrieve peer (pynetdicom as the SCU): C-ECHO, C-FIND in the
study root model, and C-MOVE to this node's AE title or C-GET over the same association.

Errors name the PACS by AE title, host and port, never a patient or a study.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from .config import Settings
from .errors import ConfigError, PacsError

# The study root query/retrieve information models (PS3.4 C.6.2)
FIND_MODEL = "1.2.840.10008.5.1.4.1.2.2.1"
MOVE_MODEL = "1.2.840.10008.5.1.4.1.2.2.2"
GET_MODEL = "1.2.840.10008.5.1.4.1.2.2.3"
_PENDING = (0xFF00, 0xFF01)
_SUCCESS, _WARNING = 0x0000, 0xB000
_MOVE_DESTINATION_UNKNOWN = 0xA801
_REFUSED = (0xA700, 0xA701, 0xA702)  # out of resources


@dataclass(frozen=True)
class StudyQuery:
    """One C-FIND at study level; empty keys match anything."""

    accession: str = ""
    patient_id: str = ""
    study_date: str = ""  # YYYYMMDD, or a range YYYYMMDD-YYYYMMDD
    modality: str = ""
    study_uid: str = ""

    def identifier(self) -> Dataset:
        query = Dataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = self.study_uid
        query.AccessionNumber = self.accession
        query.PatientID = self.patient_id
        query.StudyDate = self.study_date
        query.ModalitiesInStudy = self.modality
        query.NumberOfStudyRelatedInstances = ""
        return query


@dataclass(frozen=True)
class FoundStudy:
    """A study the PACS holds, as its C-FIND answer describes it."""

    study_uid: str
    accession: str
    patient_id: str
    study_date: str
    modalities: tuple[str, ...]
    instances: int | None  # None: the PACS did not say


@dataclass(frozen=True)
class Retrieved:
    """The PACS's count of the sub-operations of one C-MOVE or C-GET."""

    completed: int
    failed: int
    warnings: int


class Pacs:
    """Associations with the configured PACS, each opened for one piece of work."""

    def __init__(self, settings: Settings) -> None:
        if not settings.pacs_host or not settings.pacs_ae_title:
            raise ConfigError(
                "no PACS is configured: set pacs_host, pacs_port and pacs_ae_title "
                "(`bsti-submit config set pacs_host pacs.trust.nhs.uk`)"
            )
        self.settings = settings
        self.name = f"PACS {settings.pacs_ae_title} at {settings.pacs_host}:{settings.pacs_port}"

    def echo(self) -> None:
        """C-ECHO: the PACS accepts this node's association and answers."""
        from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

        with self._association([Verification]) as association:
            status = association.send_c_echo()
            self._check_final(status, "C-ECHO")

    def find(self, queries: Iterable[StudyQuery]) -> list[FoundStudy]:
        """Every study matching any query, once each, in the order the PACS named them."""

        found: dict[str, FoundStudy] = {}
        with self._association([FIND_MODEL]) as association:
            for query in queries:
                for answer in self._answers(
                    association.send_c_find(query.identifier(), FIND_MODEL)
                ):
                    study = _found_study(answer)
                    if study.study_uid:
                        found.setdefault(study.study_uid, study)
        return list(found.values())

    def move(self, study_uid: str) -> Retrieved:
        """C-MOVE one study to this node's AE title, which the PACS must know."""

        with self._association([MOVE_MODEL]) as association:
            responses = association.send_c_move(
                _study_identifier(study_uid), self.settings.listen_ae_title, MOVE_MODEL
            )
            return self._retrieved(responses, "C-MOVE")

    def get(self, study_uid: str, store: Callable[[Any], int]) -> Retrieved:
        """C-GET one study; each instance comes back over this association to `store`."""
        from pynetdicom import StoragePresentationContexts, build_role, evt

        storage = [context.abstract_syntax for context in StoragePresentationContexts]
        roles = [build_role(uid, scp_role=True) for uid in storage if uid is not None]
        handlers = [(evt.EVT_C_STORE, store)]
        contexts = [
            GET_MODEL,
            *storage,
        ]  # at most 128 presentation contexts: the common storage set
        with self._association(contexts, roles=roles, handlers=handlers) as association:
            responses = association.send_c_get(_study_identifier(study_uid), GET_MODEL)
            return self._retrieved(responses, "C-GET")

    @contextmanager
    def _association(
        self,
        contexts: list[Any],
        roles: list[Any] | None = None,
        handlers: list[Any] | None = None,
    ) -> Iterator[Any]:
        from pynetdicom import AE

        timeout = float(self.settings.pacs_timeout)
        ae = AE(ae_title=self.settings.listen_ae_title)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
        ae.connection_timeout = timeout
        for context in contexts:
            ae.add_requested_context(context)
        association = ae.associate(
            self.settings.pacs_host,
            self.settings.pacs_port,
            ae_title=self.settings.pacs_ae_title,
            ext_neg=roles or [],
            evt_handlers=handlers or [],
        )
        if association.is_rejected:
            raise PacsError(
                f"{self.name} refused the association: it must know this node's AE title "
                f"{self.settings.listen_ae_title}, and pacs_ae_title must be its own"
            )
        if not association.is_established:
            raise PacsError(
                f"{self.name} did not answer within {self.settings.pacs_timeout} s "
                "(check pacs_host and pacs_port, and that a firewall lets this machine in)"
            )
        try:
            yield association
        finally:
            association.release()

    def _answers(self, responses: Iterable[tuple[Dataset, Dataset | None]]) -> Iterator[Dataset]:
        for status, identifier in responses:
            code = self._code(status, "C-FIND")
            if code in _PENDING and identifier is not None:
                yield identifier
            elif code not in _PENDING:
                self._check_final(status, "C-FIND")

    def _retrieved(
        self, responses: Iterable[tuple[Dataset, Dataset | None]], what: str
    ) -> Retrieved:
        final = Dataset()
        for status, _ in responses:
            final = status
            if self._code(status, what) not in _PENDING:
                break
        code = self._code(final, what)
        if code == _MOVE_DESTINATION_UNKNOWN:
            raise PacsError(
                f"{self.name} does not know the move destination {self.settings.listen_ae_title}: "
                "register this node (AE title, host, port) on the PACS, or set pacs_retrieve get"
            )
        if code not in (_SUCCESS, _WARNING) and not _sub_operations(final).completed:
            self._check_final(final, what)
        return _sub_operations(final)

    def _code(self, status: Dataset, what: str) -> int:
        if "Status" not in status:  # pynetdicom's answer to a timeout or an abort
            raise PacsError(f"{self.name} gave no answer to {what} within the timeout")
        return int(status.Status)

    def _check_final(self, status: Dataset, what: str) -> None:
        code = self._code(status, what)
        if code in _REFUSED:
            raise PacsError(f"{self.name} refused {what}: out of resources (0x{code:04X})")
        if code != _SUCCESS:
            raise PacsError(f"{self.name} answered {what} with failure status 0x{code:04X}")


def check(settings: Settings) -> str:
    """C-ECHO, then a C-FIND that can match nothing (a new UID no study has): proves the
    PACS lets this node query without naming anybody."""
    pacs = Pacs(settings)
    pacs.echo()
    pacs.find([StudyQuery(study_uid=generate_uid(prefix="2.25."))])
    return f"{pacs.name} answered C-ECHO and a study-root C-FIND"


def _study_identifier(study_uid: str) -> Dataset:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    return identifier


def _found_study(answer: Dataset) -> FoundStudy:
    modalities = answer.get("ModalitiesInStudy", "")
    listed = [modalities] if isinstance(modalities, str) else list(modalities)
    count = answer.get("NumberOfStudyRelatedInstances", "")
    return FoundStudy(
        study_uid=str(answer.get("StudyInstanceUID", "")),
        accession=str(answer.get("AccessionNumber", "")),
        patient_id=str(answer.get("PatientID", "")),
        study_date=str(answer.get("StudyDate", "")),
        modalities=tuple(str(value) for value in listed if value),
        instances=int(count) if str(count).strip().isdigit() else None,
    )


def _sub_operations(status: Dataset) -> Retrieved:
    def count(name: str) -> int:
        return int(status.get(name, 0) or 0)

    return Retrieved(
        completed=count("NumberOfCompletedSuboperations"),
        failed=count("NumberOfFailedSuboperations"),
        warnings=count("NumberOfWarningSuboperations"),
    )
