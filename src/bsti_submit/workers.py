"""De-identification and verification in worker processes, one source file per task.

Each worker reads, cleans and verifies a file and writes the cleaned instance to a private
staging folder; only a small record of what it did comes back. The parent process, the one
writer, then commits staged files to their destination and records them in the audit log, the
state database and the lookup table, in source order, so the output is the same whatever the
number of workers. Nothing large crosses between processes, so memory stays flat.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import platforms
from .delivery.batches import sha256_of
from .delivery.folder import output_parts
from .errors import InstanceError, NotAnInstanceError
from .preparer import DICOM_FILE_ERRORS, Preparer, build_preparer
from .records import Change, Finding, PatientLink


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker needs to build its own engine (the key never leaves memory)."""

    profile: str
    key: bytes = field(repr=False)
    site: str
    local_id_pattern: str
    staging: Path


@dataclass
class Staged:
    """What a worker did with one source file."""

    source: Path
    kind: str  # "ready", "skipped" or "failed"
    reason: str = ""
    file: Path | None = None  # the staged cleaned instance
    parts: tuple[str, str, str] = ("", "", "")  # study, series and SOP instance UIDs
    changes: list[Change] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    patient: PatientLink | None = None
    modality: str = ""  # for the period report
    sha256: str = ""  # of the staged file: what a folder receives (hashed here, in parallel)


_preparer: Preparer | None = None
_staging: Path | None = None


def start_worker(setup: WorkerSetup) -> None:
    """Build this process's engine once (a pool initializer under spawn)."""
    global _preparer, _staging
    _preparer = build_preparer(setup.profile, setup.key, setup.site, setup.local_id_pattern)
    _staging = setup.staging


def failure_reason(error: Exception) -> str:
    """Why a file failed, in one line: our own errors say it; another library's error is
    named with its message."""
    text = str(error) if isinstance(error, InstanceError) else f"{type(error).__name__}: {error}"
    return " ".join(text.split())


def stage(task: tuple[int, Path]) -> Staged:
    """Read, clean, verify and stage one source file; never raises for a bad file."""
    index, source = task
    assert _preparer is not None and _staging is not None, "start_worker was not called"
    try:
        staged = _staging / f"{index:09d}.dcm"
        prepared = _preparer.stage(source, staged)
        parts = output_parts(prepared.dataset)
    except NotAnInstanceError as error:
        return Staged(source, "skipped", str(error))
    except DICOM_FILE_ERRORS as error:
        staged.unlink(missing_ok=True)
        return Staged(source, "failed", failure_reason(error))
    result = prepared.result
    return Staged(
        source,
        "ready",
        file=staged,
        parts=parts,
        changes=result.changes,
        findings=prepared.findings,
        patient=result.patient,
        modality=str(prepared.dataset.get("Modality", "") or ""),
        sha256=sha256_of(staged),
    )


@contextmanager
def staging_pool(
    setup: WorkerSetup,
    workers: int,
    idle: Callable[[], None] | None = None,
    platform: str = platforms.CURRENT,
) -> Iterator[Callable[[Iterable[Path]], Iterator[Staged]]]:
    """A function that stages source files and yields the results in source order: in this
    process for one worker, else in a pool of processes. `idle` is called every quarter of a
    second while the line waits for a worker (to record the endpoint's answers meanwhile)."""
    setup.staging.mkdir(parents=True, exist_ok=True, mode=0o700)
    if workers <= 1:
        start_worker(setup)
        yield lambda paths: map(stage, enumerate(paths))
        return
    with _process_pool(setup, workers, platform) as pool:
        yield lambda paths: _in_order(pool, paths, _AHEAD * workers, idle)


# Files each worker may stage ahead of the line: enough to keep it busy while the line sends,
# few enough that staged copies waiting for the line stay a handful, however long the run.
_AHEAD = 4
_IDLE_SECONDS = 0.25


def _in_order(
    pool: ProcessPoolExecutor,
    paths: Iterable[Path],
    window: int,
    idle: Callable[[], None] | None,
) -> Iterator[Staged]:
    """Stage files in the pool, at most `window` at a time, and yield them in source order."""
    running: deque[Future[Staged]] = deque()
    for task in enumerate(paths):
        running.append(pool.submit(stage, task))
        if len(running) >= window:
            yield _result(running.popleft(), idle)
    while running:
        yield _result(running.popleft(), idle)


def _result(future: Future[Staged], idle: Callable[[], None] | None) -> Staged:
    while idle is not None and not wait([future], timeout=_IDLE_SECONDS).done:
        idle()
    return future.result()


def _process_pool(
    setup: WorkerSetup, workers: int, platform: str = platforms.CURRENT
) -> ProcessPoolExecutor:
    """Forked workers on Linux; on macOS and Windows each starts afresh (spawn)."""
    if not platforms.forks_workers(platform):
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(
            workers, mp_context=context, initializer=_start_spawned_worker, initargs=(setup,)
        )
    # Forked workers start with the engine built and every module imported here, once,
    # instead of each importing them again. They never touch the databases, log files or lock
    # they inherit, and leave by os._exit, flushing nothing.
    start_worker(setup)
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_end_with_the_run,
        initargs=(os.getpid(),),
    )


def _start_spawned_worker(setup: WorkerSetup) -> None:
    platforms.leave_stops_to_the_run()
    start_worker(setup)


def _end_with_the_run(run_pid: int) -> None:
    """A forked worker ends when the run's process dies, however it dies: a killed run must
    not leave workers waiting forever, each holding its models."""
    platforms.leave_stops_to_the_run()
    platforms.end_with_parent()
    if os.getppid() != run_pid:  # the run died before the signal was asked for
        os._exit(0)
