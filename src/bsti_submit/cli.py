"""The `bsti-submit` command: a thin layer over the library. The only module that prints.

Heavy modules (pydicom, deid, rich) are imported inside the commands, so `--help` and
`--version` start fast.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import platforms
from .errors import BstiError, ExitStatus, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from .config import Settings
    from .deid.profile import Profile
    from .records import Skipped
    from .run import Progress, RunSummary


def _version_text() -> str:
    from .versions import dependency_versions

    named = {"python": "Python"}
    return "\n".join(
        f"{named.get(name, name)} {number}" for name, number in dependency_versions().items()
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(message=_version_text(), package_name="bsti-submit")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file [default: $BSTI_SUBMIT_CONFIG, else the user config folder's].",
)
@click.pass_context
def main(context: click.Context, config_file: Path | None) -> None:
    """De-identify DICOM at source and submit it to the BSTI COVID-19 imaging collection.

    \b
    Start with:
      bsti-submit init --site RX1
      bsti-submit scan /data/export --report dry-run.html
      bsti-submit submit /data/export --to https://collection.example/dicom-web

    \b
    Exit codes:
      0  success: every DICOM instance was written or sent
      1  an unexpected error; lookup found nothing; profile check found unjustified lines;
         receipt verify: it does not verify
      2  usage: a wrong option or argument, or a bad value on the command line
      3  configuration: a profile, the config file, a variable, the key or a folder
      4  input errors: some files could not be processed (the rest was done); retrieve:
         an accession number with no study, or instances the PACS could not send
      5  quarantined: the verification gate held some instances back
      6  partial delivery: the endpoint did not store some instances
      7  endpoint or PACS unreachable or refused (nothing was sent); withdraw --delete:
         a study could not be deleted
      8  already running: another run holds the state folder's lock
      9  interrupted: what was done is recorded; run again to carry on (listen: 0)
      10 audit verify: the log's chain holds but its end record is missing
    """
    context.obj = config_file


class _RunLog:
    """The day's operational log, once the settings say where it is; nothing before."""

    def __init__(self) -> None:
        self.logger: logging.Logger | None = None

    def open(self, settings: Settings) -> None:
        from .runlog import open_day_log

        self.logger = open_day_log(settings.log_dir, settings.log_retention_days)

    def info(self, message: str) -> None:
        if self.logger is not None:
            self.logger.info(message)

    def error(self, message: str) -> None:
        if self.logger is not None:
            self.logger.error(message)


@contextmanager
def _reported_errors() -> Iterator[_RunLog]:
    """Turn our own errors, and an interruption, into one clear line on stderr and their exit
    code; the log hears of them by kind only (their text may name files)."""
    log = _RunLog()
    try:
        with platforms.stop_signals_raise_interrupt():
            yield log
    except BstiError as error:
        log.error(f"stopped: {type(error).__name__} (exit status {int(error.exit_status)})")
        click.echo(f"bsti-submit: error: {error}", err=True)
        sys.exit(int(error.exit_status))
    except KeyboardInterrupt:
        log.error("interrupted")
        click.echo(
            "bsti-submit: interrupted: what was written or acknowledged is recorded; "
            "run again to carry on",
            err=True,
        )
        sys.exit(int(ExitStatus.INTERRUPTED))


def _settings(**flags: Any) -> Settings:
    from .config import Settings

    config_file = click.get_current_context().find_root().obj
    return Settings.load(config_file, **flags)


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, markup=False)  # paths may hold [brackets]


def _quiet_libraries() -> None:
    """pydicom warns about every odd file; the audit log records what matters per file."""
    warnings.filterwarnings("ignore", module=r"pydicom(\..*)?")
    logging.getLogger("pydicom").setLevel(logging.ERROR)


ca_bundle_option = click.option(
    "--ca-bundle",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CA certificates to trust for the endpoint (a trust's own CA, for TLS interception).",
)
PROFILE_HELP = "Built-in profile name or a .deid recipe file [default: bsti-covid19]."
SITE_HELP = "The trust's site code (its ODS code), which prefixes every pseudonym."


@main.command(short_help="De-identify, verify and send or write.")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--to",
    "destination",
    default=None,
    help="A folder, or the DICOMweb endpoint's https:// base URL [default: the config's].",
)
@click.option("--profile", default=None, help=PROFILE_HELP)
@click.option("--site", default=None, help=SITE_HELP)
@ca_bundle_option
@click.option(
    "--audit-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Audit log file to create [default: a new file in the log folder].",
)
@click.option("--dry-run", is_flag=True, help="Only show what would happen (as `scan`).")
@click.option(
    "--after-delivery",
    type=click.Choice(["keep", "move", "delete"]),
    default=None,
    help="What to do with a source file once written or acknowledged [default: keep].",
)
@click.option(
    "--move-to",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where --after-delivery move puts delivered source files.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that de-identify in parallel [default: one per CPU].",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary of the run.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@click.option(
    "--verbose", "-v", is_flag=True, help="Also list every file written, held or waiting."
)
def submit(
    source: Path,
    destination: str | None,
    profile: str | None,
    site: str | None,
    ca_bundle: Path | None,
    audit_log: Path | None,
    dry_run: bool,
    after_delivery: str | None,
    move_to: Path | None,
    workers: int | None,
    as_json: bool,
    quiet: bool,
    verbose: bool,
) -> None:
    """De-identify every DICOM file under SOURCE, verify it, and write it to a folder or send it
    to the central DICOMweb endpoint.

    \b
    Example:
      bsti-submit submit /data/export --to https://collection.example/dicom-web"""
    if dry_run:
        _refuse_in_a_dry_run(
            audit_log=audit_log,
            after_delivery=after_delivery,
            move_to=move_to,
            workers=workers,
            ca_bundle=ca_bundle,
            verbose=verbose,
        )
        click.get_current_context().invoke(
            scan,
            source=source,
            destination=destination,
            profile=profile,
            site=site,
            as_json=as_json,
            quiet=quiet,
        )
        return
    from .delivery.address import parse_destination
    from .run import submit as run_submit

    _quiet_libraries()
    console = _console()
    with _reported_errors() as log:
        settings = _settings(
            profile=profile,
            site=site,
            ca_bundle=ca_bundle,
            after_delivery=after_delivery,
            move_to=move_to,
            destination=destination,
            workers=workers,
        )
        log.open(settings)
        if not settings.destination:
            raise UsageError("no destination: give --to DIR, or set one with bsti-submit init")
        target = parse_destination(settings.destination)
        kind = "endpoint" if isinstance(target, str) else "folder"
        log.info(f"run started: profile {settings.profile}, destination {kind}")
        with _progress(console if not (quiet or as_json) else None) as progress:
            summary = run_submit(source, target, settings, audit_log, progress)
        log.info(
            f"run {summary.run_id} ended with exit status {int(summary.exit_status)}: "
            + " ".join(f"{name}={value}" for name, value in summary.counts().items())
        )
    if as_json:
        click.echo(json.dumps(_json_summary(summary)))
    elif not quiet:
        _print_summary(console, summary, verbose)
    sys.exit(int(summary.exit_status))


def _refuse_in_a_dry_run(**flags: object) -> None:
    """A dry run writes and sends nothing: options about writing or sending do not apply."""
    given = [f"--{name.replace('_', '-')}" for name, value in flags.items() if value]
    if given:
        with _reported_errors():
            raise UsageError(
                f"--dry-run writes and sends nothing, so {', '.join(given)} cannot apply: "
                "drop them, or drop --dry-run"
            )


def _json_summary(summary: RunSummary) -> dict[str, Any]:
    """One machine-readable summary; its counts are the audit log footer's."""
    return {
        "run_id": summary.run_id,
        "exit_status": int(summary.exit_status),
        "exit_meaning": summary.exit_status.name.lower(),
        "destination": summary.destination,
        "profile": summary.profile,
        "audit_log": str(summary.audit_log) if summary.audit_log else None,
        "receipt": str(summary.receipt) if summary.receipt else None,
        "counts": summary.counts(),
    }


@contextmanager
def _progress(console: Console | None) -> Iterator[Progress | None]:
    """Progress bars on a terminal; nothing at all otherwise (cron, logs, --quiet, --json)."""
    if console is None or not console.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[done]}"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    # Refreshed from this thread, not rich's own: a run with workers forks processes, and a
    # thread busy drawing at that moment would leave its locks held in them.
    with Progress(*columns, console=console, transient=True, auto_refresh=False) as bars:
        yield _Bars(bars)


class _Bars:
    """The run's progress as rich bars, both at once: files de-identified of files found, and
    instances the endpoint answered for of those to be sent, each with its rate and the time
    left. Until every file is de-identified, the instances to be sent are estimated from the
    share of files so far that went for sending."""

    REFRESH_SECONDS = 0.1

    def __init__(self, bars: Any) -> None:
        self.bars = bars
        self.files = bars.add_task("De-identifying", total=None, done="", rate="")
        self.count = self.total = 0
        self.sending: Any = None
        self.drawn_at = 0.0
        self.started = self.send_started = time.monotonic()

    def files_found(self, count: int) -> None:
        self.total = count
        self.bars.update(self.files, total=count, done=f"0 of {count} files")
        self.started = time.monotonic()

    def file_done(self, path: Path) -> None:
        self.count += 1
        rate = self.count / max(time.monotonic() - self.started, 1e-6)
        self.bars.update(
            self.files, advance=1, done=f"{self.count} of {self.total} files", rate=f"{rate:.1f}/s"
        )
        self._draw()

    def batch_sent(self, answered: int, handed_over: int) -> None:
        if self.sending is None:
            self.sending = self.bars.add_task("Sending", total=None, done="", rate="")
            self.send_started = time.monotonic()
        left = self.total - self.count
        expected = handed_over + round(left * handed_over / max(self.count, 1))
        about = "~" if left else ""
        rate = answered / max(time.monotonic() - self.send_started, 1e-6)
        self.bars.update(
            self.sending,
            completed=answered,
            total=max(expected, answered),
            done=f"{answered} of {about}{expected} instances",
            rate=f"{rate:.1f}/s",
        )
        self._draw()

    def _draw(self) -> None:
        """Redraw at most ten times a second: drawing costs more than de-identifying a file."""
        now = time.monotonic()
        if now - self.drawn_at >= self.REFRESH_SECONDS:
            self.bars.refresh()
            self.drawn_at = now


def _print_summary(console: Console, summary: RunSummary, verbose: bool = False) -> None:
    verb = "Verified" if summary.delivery is not None else "Wrote"
    console.print(
        f"{verb} {summary.written} instance(s) of {len(summary.studies)} study(ies), "
        f"{len(summary.series)} series, for {summary.destination}, "
        f"with profile {summary.profile}; {summary.changes} attribute change(s) recorded."
    )
    if summary.delivery is not None:
        sent = summary.delivery
        console.print(
            f"Delivered {sent.delivered}, already delivered before {sent.already_delivered}, "
            f"not delivered {len(sent.failed)}."
        )
        for study, counts in sent.studies.items():
            console.print(
                f"  study {study}: delivered {counts.delivered}, already delivered "
                f"{counts.already_delivered}, not delivered {counts.failed}"
            )
        for sop, reason in sent.failed:
            console.print(f"  not delivered: {sop}: {reason}")
    if summary.already_processed:
        console.print(
            f"Already taken in an earlier run, unchanged: {summary.already_processed} file(s)."
        )
    if summary.waiting:
        console.print(
            f"Left for the next run (their study changed recently): {len(summary.waiting)} file(s)."
        )
    if summary.stale_lock_pid:
        console.print(f"Took over the lock left by an earlier run (pid {summary.stale_lock_pid}).")
    if summary.pseudonyms:
        console.print(f"Patients (pseudonyms): {', '.join(sorted(summary.pseudonyms))}")
    _print_files(console, "Skipped", summary.skipped)
    _print_files(console, "Failed", summary.failed)
    _print_files(console, "Quarantined (held back, not written)", summary.quarantined)
    if verbose:
        for path in summary.written_files:
            console.print(f"  written: {path}")
        for path in summary.waiting:
            console.print(f"  waiting: {path}")
    if summary.audit_log is None:
        console.print("Nothing new since the last run: no audit log written (the day log has it).")
    else:
        console.print(f"Audit log: {summary.audit_log}")
    if summary.receipt is not None:
        console.print(f"Receipt: {summary.receipt}")
    if summary.quarantined:
        console.print("Review with: bsti-submit quarantine list")
    if summary.exit_status is not ExitStatus.SUCCESS:
        console.print(f"Exit status {int(summary.exit_status)}: not everything was written.")


def _print_files(console: Console, title: str, files: list[Skipped]) -> None:
    """One line per file, whole (no wrapping), so a log or a grep finds each file."""

    if not files:
        return
    console.print(f"{title}: {len(files)} file(s)")
    for entry in files:
        console.print(f"  {platforms.shown(entry.path)}: {entry.reason}")


@main.command(short_help="Receive studies from PACS over DICOM and send them on.")
@click.option("--to", "destination", default=None, help="Destination folder or endpoint URL.")
@click.option("--port", type=int, default=None, help="Port to listen on (listen_port).")
@click.option("--ae-title", default=None, help="This node's AE title (listen_ae_title).")
def listen(destination: str | None, port: int | None, ae_title: str | None) -> None:
    """Run a DICOM node (C-STORE, C-ECHO) that PACS or a modality sends studies to, in the
    foreground, until Ctrl-C or SIGTERM (a clean stop: exit status 0). Only pacs_ae_title and
    the calling AE titles in allowed_calling_ae_titles may send. A study is de-identified,
    verified and sent, as by `submit`, once nothing of it arrived for quiet_seconds; what
    arrived and was not yet sent when the node stopped is sent when it starts again.

    \b
    Example:
      bsti-submit listen --to https://collection.example/dicom-web --port 11112"""
    import threading

    from .listener import Listener

    _quiet_libraries()
    with _reported_errors() as log:
        settings = _settings(destination=destination, listen_port=port, listen_ae_title=ae_title)
        log.open(settings)
        _show_associations(log)
        listener = Listener(
            settings,
            _destination(settings),
            on_study=_print_study,
            on_error=lambda error: click.echo(f"bsti-submit: error: {error}", err=True),
        )
        log.info(f"listen started as {settings.listen_ae_title} on port {settings.listen_port}")
        try:
            listener.serve(threading.Event(), lambda: _say_listening(settings))
        except KeyboardInterrupt:  # SIGTERM or Ctrl-C: how a node is meant to stop
            waiting = listener.line.inbox.studies()
            log.info(f"listen stopped; {waiting} study(ies) wait in the inbox")
            click.echo(f"Stopped. Studies received and not yet sent: {waiting} (sent on restart).")


def _destination(settings: Settings) -> str:
    if not settings.destination:
        raise UsageError("name a destination: --to DIR|URL, or set it with init")
    return settings.destination


def _say_listening(settings: Settings) -> None:
    click.echo(
        f"Listening as {settings.listen_ae_title} on port {settings.listen_port}; Ctrl-C stops."
    )


def _show_associations(log: _RunLog) -> None:
    """Each association accepted or refused, on stderr and in the day log (AE title and
    address, never a patient); pynetdicom's own messages only when they are errors."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("bsti-submit: %(message)s"))
    listen_log = logging.getLogger("bsti_submit.listen")
    for each in [handler, *(log.logger.handlers if log.logger else [])]:
        listen_log.addHandler(each)
    listen_log.setLevel(logging.INFO)
    logging.getLogger("pynetdicom").setLevel(logging.ERROR)


def _print_study(summary: Any) -> None:
    before = summary.delivery.already_delivered if summary.delivery else 0
    again = f", {before} acknowledged before" if before else ""
    click.echo(
        f"A study: {summary.written} instance(s) sent or written{again}, "
        f"{len(summary.quarantined)} held, {len(summary.failed)} failed."
    )


@main.command(short_help="Fetch studies from PACS (C-FIND, C-MOVE/C-GET) and send them on.")
@click.option("--accession", "accessions", multiple=True, help="An accession number (repeatable).")
@click.option(
    "--accessions",
    "accessions_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A file of accession numbers: one per line, or a CSV column headed Accession.",
)
@click.option("--patient-id", default=None, help="Every study of this patient ID.")
@click.option("--study-date", default=None, help="YYYYMMDD or a range YYYYMMDD-YYYYMMDD.")
@click.option("--modality", "modalities", multiple=True, help="Only studies with it (repeatable).")
@click.option("--to", "destination", default=None, help="Destination folder or endpoint URL.")
@click.option("--dry-run", is_flag=True, help="Only list what would be fetched (C-FIND only).")
@click.option("--show-values", is_flag=True, help="Name accession, patient ID and date per study.")
def retrieve(
    accessions: tuple[str, ...],
    accessions_file: Path | None,
    patient_id: str | None,
    study_date: str | None,
    modalities: tuple[str, ...],
    destination: str | None,
    dry_run: bool,
    show_values: bool,
) -> None:
    """Find studies on the trust's PACS (C-FIND, study root) and fetch each one (C-MOVE to
    listen_ae_title, or C-GET with pacs_retrieve = get), then de-identify, verify and send it
    as `submit` does. Needs pacs_host, pacs_port and pacs_ae_title. While a `listen` node runs
    on this state folder, the studies are only asked for: the node receives and sends them.

    \b
    Example:
      bsti-submit retrieve --accession RX1-2020-0042 --dry-run
      bsti-submit retrieve --accessions covid-cases.csv --to https://collection.example/dicom-web
      bsti-submit retrieve --study-date 20200301-20200331 --modality CT --modality CR"""
    from .retrieve import find_studies, read_accessions, study_queries
    from .retrieve import retrieve as run_retrieve

    _quiet_libraries()
    with _reported_errors() as log:
        settings = _settings(destination=destination)
        log.open(settings)
        wanted = [*accessions, *(read_accessions(accessions_file) if accessions_file else [])]
        queries = study_queries(wanted, patient_id, study_date, modalities)
        studies = find_studies(settings, queries)
        missing = sorted(set(wanted) - {study.accession for study in studies})
        if dry_run:
            _print_plan(studies, settings, show_values)
            _print_missing(missing, show_values)
            sys.exit(int(ExitStatus.INPUT_ERRORS if missing else ExitStatus.SUCCESS))
        target = _destination(settings)
        log.info(f"retrieve started: {len(studies)} study(ies) by {settings.pacs_retrieve}")
        counter = iter(range(1, len(studies) + 1))
        done = run_retrieve(
            settings,
            target,
            studies,
            lambda outcome: _print_outcome(outcome, next(counter), len(studies), show_values),
        )
        status = done.exit_status(missing)
        log.info(f"retrieve ended with exit status {int(status)}")
    if not studies:
        click.echo("No study on the PACS matched.")
    if done.leftovers:
        click.echo(f"Sent first: {done.leftovers} study(ies) an interrupted run left in the inbox.")
    if done.handed_over:
        click.echo("A listener runs on this state folder: it sends each study once it is quiet.")
    _print_missing(missing, show_values)
    sys.exit(int(status))


def _print_plan(studies: list[Any], settings: Settings, show_values: bool) -> None:
    instances = sum(study.instances or 0 for study in studies)
    click.echo(
        f"Would fetch {len(studies)} study(ies), {instances} instance(s), from "
        f"PACS {settings.pacs_ae_title} at {settings.pacs_host}:{settings.pacs_port}"
    )
    by_modality: dict[str, int] = {}
    for study in studies:
        for modality in study.modalities or ("unknown",):
            by_modality[modality] = by_modality.get(modality, 0) + 1
    for modality, count in sorted(by_modality.items()):
        click.echo(f"  {modality}: {count} study(ies)")
    if show_values:
        for study in studies:
            click.echo(f"  {_study_values(study)}")


def _study_values(study: Any) -> str:
    return (
        f"accession {study.accession or '-'}, patient ID {study.patient_id or '-'}, "
        f"date {study.study_date or '-'}, {'/'.join(study.modalities) or '-'}, "
        f"{study.instances if study.instances is not None else '?'} instance(s)"
    )


def _print_missing(missing: list[str], show_values: bool) -> None:
    if missing:
        named = f": {', '.join(missing)}" if show_values else " (--show-values names them)"
        click.echo(f"No study on the PACS for {len(missing)} accession number(s){named}")


def _print_outcome(outcome: Any, number: int, total: int, show_values: bool) -> None:
    retrieved, summary = outcome.retrieved, outcome.summary
    named = f" ({_study_values(outcome.study)})" if show_values else ""
    line = f"Study {number}/{total}{named}: {retrieved.completed} instance(s) retrieved"
    if retrieved.failed:
        line += f", {retrieved.failed} the PACS could not send"
    if summary is not None:
        line += (
            f"; {summary.written} sent or written, {len(summary.quarantined)} held, "
            f"{len(summary.failed)} failed"
        )
    click.echo(line)


@main.command("check-pacs", short_help="Prove the PACS answers (C-ECHO and a harmless C-FIND).")
def check_pacs() -> None:
    """Prove the trust's PACS accepts this node before a first retrieve: a C-ECHO, then a
    C-FIND for a study UID that no PACS holds (it matches nothing, so names nobody).

    \b
    Example:
      bsti-submit check-pacs"""
    from .pacs import check

    _quiet_libraries()
    with _reported_errors():
        message = check(_settings())
    click.echo(f"OK: {message}")


@main.command(short_help="Dry run: what submit would do.")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--to", "destination", default=None, help="Where a submit would go (shown only).")
@click.option("--profile", default=None, help=PROFILE_HELP)
@click.option("--site", default=None, help=SITE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (see the exit code).")
@click.option("--hide-values", is_flag=True, help="Mask original values (for a screenshot).")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a self-contained HTML report with a contact sheet.",
)
def scan(
    source: Path,
    destination: str | None,
    profile: str | None,
    site: str | None,
    as_json: bool,
    hide_values: bool,
    report: Path | None,
    quiet: bool = False,
) -> None:
    """Dry run: show what submit would remove, change, hold back and send. Writes nothing
    (besides --report) and sends nothing.

    \b
    Example:
      bsti-submit scan /data/export --report dry-run.html"""
    from .folders import ensure_writable, write_private_text
    from .report import render_html
    from .scan import scan as run_scan

    _quiet_libraries()
    with _reported_errors():
        settings = _settings(profile=profile, site=site, destination=destination)
        if report is not None:
            ensure_writable(report.parent, "report folder")
        predicted = run_scan(source, settings, settings.destination, thumbnails=report is not None)
        if report is not None:
            write_private_text(report, render_html(predicted, hide_values))
    if as_json:
        click.echo(json.dumps(predicted.as_json(hide_values), indent=2, ensure_ascii=False))
    elif not quiet:
        _print_scan(_console(), predicted.as_json(hide_values))
    sys.exit(int(predicted.exit_status))


def _print_scan(console: Console, data: dict[str, Any]) -> None:
    from rich.table import Table

    from .scan import CHANGE_COLUMNS, change_cells

    counts, profile = data["counts"], data["profile"]
    console.print("Dry run: nothing was written and nothing was sent.")
    console.print(
        f"Profile {profile['name']} {profile['version']} (sha256 {profile['sha256']}), "
        f"options: {', '.join(profile['options']) or 'none'}"
    )
    console.print(f"Destination: {data['destination'] or '(none given)'}")
    modalities = ", ".join(f"{name} {count}" for name, count in data["modalities"].items())
    console.print(
        f"Found {counts['instances']} instance(s) in {counts['studies']} study(ies), "
        f"{counts['series']} series ({modalities or 'none'}): would send "
        f"{counts['would_send']}, would quarantine {counts['would_quarantine']}."
    )
    for entry in data["skipped"] + data["failed"]:
        console.print(f"  skipped: {entry['file']}: {entry['reason']}")
    table = Table(title="Attributes that would change", title_justify="left")
    for column in CHANGE_COLUMNS:
        table.add_column(column, overflow="fold")
    for row in data["changes"]:
        table.add_row(*change_cells(row))
    console.print(table)
    for reason, number in data["quarantine_reasons"].items():
        console.print(f"Would quarantine {number}: {reason}")
    for patient in data["patients"]:
        console.print(f"Patient {patient['patient_id']} would be {patient['pseudonym']}")


@main.command(short_help="Set up this trust (config and key).")
@click.option("--site", required=True, help=SITE_HELP)
@click.option("--profile", default=None, help=PROFILE_HELP)
@click.option("--destination", default=None, help="Default destination folder (or endpoint).")
@click.option(
    "--force", is_flag=True, help="Rewrite init's settings in an existing config (the key stays)."
)
@click.option("--new-key", is_flag=True, help="Retire the pseudonym key and make a new one.")
@click.option(
    "--key-store",
    type=click.Choice(["file", "keyring"]),
    default=None,
    help="Keep the pseudonym key in a file readable by you only (default) or the OS keyring.",
)
def init(
    site: str,
    profile: str | None,
    destination: str | None,
    force: bool,
    new_key: bool,
    key_store: str | None,
) -> None:
    """Set up this trust: write the config file and create the pseudonym key.

    The key makes pseudonyms repeatable: keep it and back it up. An existing key is kept; only
    --new-key retires it (it is kept beside the new one), which breaks the link to everything
    sent with it. Change one setting later with `bsti-submit config set`.

    \b
    Example:
      bsti-submit init --site RX1 --destination https://collection.example/dicom-web"""
    from .config import default_config_file
    from .site_setup import initialise

    with _reported_errors():
        config_file = click.get_current_context().find_root().obj or default_config_file()
        settings = _settings(
            site=site, profile=profile, destination=destination, key_store=key_store
        )
        result = initialise(settings, config_file, force, new_key)
    click.echo(f"Wrote the config file {result.config_file}")
    if result.retired_key is not None:
        click.echo(f"Retired the old pseudonym key to {result.retired_key}")
    if result.created:
        click.echo(f"Created the pseudonym key in {result.key_place} (readable by you only).")
        click.echo(
            "Back the key up (bsti-submit key export --to FILE): without it, pseudonyms "
            "cannot be repeated or looked up."
        )
        click.echo(
            "Receipts are signed with a key derived from it: give the central collection its "
            "public key (bsti-submit key public)."
        )
    else:
        click.echo(f"Kept the existing pseudonym key in {result.key_place}.")


@main.command(short_help="Map a pseudonym to its patient, or back.")
@click.argument("pseudonym", required=False)
@click.option("--patient-id", default=None, help="Show the pseudonym(s) of this patient ID.")
def lookup(pseudonym: str | None, patient_id: str | None) -> None:
    """Map a PSEUDONYM back to the patient, or a --patient-id to its pseudonym.

    For the trust's staff only: the lookup table never leaves this machine.

    \b
    Example:
      bsti-submit lookup RX1-ABCDEF234567"""
    from .views import patients

    with _reported_errors():
        entries = patients(_settings(), pseudonym, patient_id)
    if not entries:
        click.echo("Not found in this trust's lookup table.", err=True)
        sys.exit(int(ExitStatus.ERROR))
    for found in entries:
        issuer = f" (issuer {found.issuer})" if found.issuer else ""
        click.echo(
            f"{found.pseudonym}\tpatient ID {found.patient_id}{issuer}\t"
            f"first sent {found.first_seen}\tlast sent {found.last_seen}"
        )


@main.group()
def profile() -> None:
    """Show and check de-identification profiles."""


@profile.command("show", short_help="Print a profile's effective rules.")
@click.argument("name", required=False)
@click.option("--full", is_flag=True, help="Every rule, with the file and line it comes from.")
def profile_show(name: str | None, full: bool) -> None:
    """Print a profile (default: the configured one) as its IG reviewer reads it: version,
    options, what it does with burned-in text, how many attributes each action takes, every
    line less protective than PS3.15 basic with its justification, and what it adds. --full
    prints every rule.

    \b
    Example:
      bsti-submit profile show bsti-covid19"""
    from .deid.profile import less_protective_than_basic, load_profile

    with _reported_errors():
        compiled = load_profile(name or _settings().profile)
        relaxed = less_protective_than_basic(compiled)
    files = compiled.sources if full else [Path(source).name for source in compiled.sources]
    click.echo(f"profile {compiled.label}  sha256 {compiled.sha256}")
    click.echo(f"files: {', '.join(files)}")
    options = ", ".join(compiled.options) or "none"
    click.echo(f"options: {options}  (codes {', '.join(compiled.method_codes)})")
    click.echo(f"burned-in text: {compiled.burned_in_text}")
    if full:
        _print_rules(compiled)
        return
    actions = Counter(rule.action for _, rule in compiled.rules())
    click.echo(
        "rules: " + ", ".join(f"{count} {action}" for action, count in actions.most_common())
    )
    click.echo(f"less protective than ps315-basic: {len(relaxed)} attribute(s)")
    by_reason: dict[str, list[str]] = {}
    for finding in relaxed:
        reason = _justification(finding.source) or "NOT JUSTIFIED"
        name = finding.detail.split(":")[0]
        by_reason.setdefault(reason, []).append(finding.field if "/" in name else name)
    for reason, names in by_reason.items():
        more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
        click.echo(f"  {reason} ({len(names)}): {', '.join(names[:_SHOWN])}{more}")
    for addition in compiled.additions:
        click.echo(f"adds {_addition_text(addition)}")
    click.echo("(--full prints every rule with its file and line)")


_SHOWN = 4  # attributes named for each justification; --full names every rule


def _justification(source: str) -> str:
    """The `# justification: ...` text of a profile line named `path:line`."""
    path, _, number = source.rpartition(":")
    try:
        line = Path(path).read_text(encoding="utf-8").splitlines()[int(number) - 1]
    except (OSError, ValueError, IndexError):
        return ""
    marker = line.lower().find("justification:")
    return line[marker:].strip() if marker >= 0 else ""


def _addition_text(addition: Any) -> str:
    from .deid.profile import field_keyword
    from .dicomio.elements import tag_text

    field = tag_text(addition.tag)
    return f"{field} {field_keyword(field)} = {addition.value!r}"


def _print_rules(compiled: Profile) -> None:
    from .deid.profile import field_keyword

    for field, rule in compiled.rules():
        value = f" {rule.value}" if rule.value else ""
        keyword = field_keyword(field)
        click.echo(f"{rule.action:<10} {field:<14} {keyword:<40}{value}  [{rule.source}]")
    for addition in compiled.additions:
        click.echo(f"ADD        {_addition_text(addition)}  [{addition.source}]")


@profile.command("check", short_help="List lines that protect less than PS3.15.")
@click.argument("name")
def profile_check(name: str) -> None:
    """Report every attribute where a profile is less protective than PS3.15 basic.

    Exits 0 only when there is none, or when each such line explains itself with a
    `# justification: ...` comment.

    \b
    Example:
      bsti-submit profile check my-trust.deid"""
    from .deid.profile import less_protective_than_basic, load_profile

    with _reported_errors():
        findings = less_protective_than_basic(load_profile(name))
    unjustified = [finding for finding in findings if not finding.justified]
    for finding in findings:
        mark = "justified" if finding.justified else "NOT JUSTIFIED"
        click.echo(f"{mark:<14} {finding.field:<14} {finding.detail}  [{finding.source}]")
    click.echo(
        f"{len(findings)} line(s) less protective than ps315-basic, "
        f"{len(unjustified)} without a justification."
    )
    sys.exit(int(ExitStatus.ERROR if unjustified else ExitStatus.SUCCESS))


@profile.command("explain", short_help="The profile in plain English, for IG.")
@click.argument("name", required=False)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the text to this file instead of the screen.",
)
def profile_explain(name: str | None, output: Path | None) -> None:
    """Explain a profile (default: the configured one) in plain English Markdown for the
    trust's Caldicott Guardian: what it removes, what it replaces with pseudonyms, new UIDs and
    shifted dates, what it keeps, and each justification where it protects less than PS3.15
    basic. Every statement comes from the profile's rules.

    \b
    Example:
      bsti-submit profile explain bsti-covid19 --output bsti-covid19.md"""
    from .deid.explain import explain, write
    from .deid.profile import load_profile

    with _reported_errors():
        text = explain(load_profile(name or _settings().profile))
        if output is not None:
            write(text, output)
    if output is None:
        click.echo(text)


@main.command("check-endpoint", short_help="Prove the endpoint works (TLS, auth, query).")
@click.argument("url", required=False)
@ca_bundle_option
def check_endpoint(url: str | None, ca_bundle: Path | None) -> None:
    """Prove the endpoint works before a first upload: TLS, authentication and a harmless
    DICOMweb query (QIDO-RS). URL defaults to the config's destination.

    \b
    Example:
      bsti-submit check-endpoint https://collection.example/dicom-web"""
    from .views import check_endpoint as check

    with _reported_errors():
        message = check(_settings(ca_bundle=ca_bundle, destination=url))
    click.echo(f"OK: {message}")


@main.command(short_help="List runs and what each study got.")
def status() -> None:
    """List runs, and per study what was delivered and what failed.

    \b
    Example:
      bsti-submit status"""
    from .views import history

    with _reported_errors():
        found = history(_settings())
    runs, studies = found.runs, found.studies
    for run_id, destination, started, finished in runs:
        ended = f"finished {finished}" if finished else "did not finish"
        click.echo(f"run {run_id[:8]}  {destination}  started {started}  {ended}")
    for study in studies:
        click.echo(
            f"study {study.study}  {study.destination}  acknowledged {study.acknowledged}  "
            f"failed {study.failed}" + (f"  deleted {study.deleted}" if study.deleted else "")
        )
    if not runs:
        click.echo("No runs yet.")


@main.group()
def quarantine() -> None:
    """Review instances the verification gate held back."""


@quarantine.command("list", short_help="List held instances and why.")
def quarantine_list() -> None:
    """Show what is held, and why; released instances are shown as such.

    \b
    Example:
      bsti-submit quarantine list"""
    from .views import held_entries

    with _reported_errors():
        entries = held_entries(_settings())
    if not entries:
        click.echo("Nothing is quarantined.")
    for entry in entries:
        status = (
            f"released {entry.released_at} by {entry.released_by}" if entry.released_at else "held"
        )
        click.echo(f"{entry.id}  {entry.held_at}  {status}  {entry.source}")
        for finding in entry.findings:
            click.echo(f"    {finding}")


@quarantine.command("show", short_help="Show a held instance's findings.")
@click.argument("held_id", metavar="ID")
def quarantine_show(held_id: str) -> None:
    """Show a held instance's findings and where they are.

    Each finding with its attribute path and the value it was found in; for text found in the
    pixels, a PNG beside the held file with the regions outlined. For the trust's reviewers
    only: the value may identify the patient.

    \b
    Example:
      bsti-submit quarantine show 3f2a9c1b7d4e"""
    from .views import held_instance

    with _reported_errors():
        shown = held_instance(_settings(), held_id)
    entry, path, picture = shown.entry, shown.path, shown.picture
    click.echo(f"{entry.id}  held {entry.held_at}  from {entry.source}")
    click.echo(f"cleaned file: {path}")
    if picture is not None:
        click.echo(f"text regions outlined in: {picture}")
    click.echo("For the trust's reviewers only: the matching text below may identify the patient.")
    for finding in entry.findings:
        click.echo(f"  {finding}")
        if finding.text:
            click.echo(f"      in: {finding.text}")
        click.echo(
            f"      accept with: --accept-finding {shlex.quote(finding.path or str(finding))}"
        )


@quarantine.command("release", short_help="Send a reviewed held instance on.")
@click.argument("held_id", metavar="ID")
@click.option("--reason", required=True, help="Why this instance is safe to send (audited).")
@click.option(
    "--accept-finding",
    "accepted",
    multiple=True,
    metavar="PATH",
    help="A finding the gate still makes after cleaning again, judged safe (repeatable).",
)
@click.option("--profile", default=None, help=PROFILE_HELP)
@click.option("--site", default=None, help=SITE_HELP)
@ca_bundle_option
def quarantine_release(
    held_id: str,
    reason: str,
    accepted: tuple[str, ...],
    profile: str | None,
    site: str | None,
    ca_bundle: Path | None,
) -> None:
    """Clean a held instance again and send it on.

    The instance is made again from its source file and sent where it was bound, once.
    Whatever the gate still finds must be named with --accept-finding (see `quarantine show`).
    Give the --profile and --site the submit used, when they were not the config's.

    \b
    Example:
      bsti-submit quarantine release 3f2a9c1b7d4e --reason 'a marker, not a name'"""
    from .run import release

    with _reported_errors():
        settings = _settings(profile=profile, site=site, ca_bundle=ca_bundle)
        released = release(held_id, reason, settings, accepted)
    click.echo(f"Released {released.held_id} to {released.target}")
    for finding in released.accepted:
        click.echo(f"  accepted: {finding}")
    click.echo(f"Audit log: {released.audit_log}")


@main.command(short_help="Check the set-up before a first run.")
def doctor() -> None:
    """Check the config, the key, the profile, disk space, the state database and the
    endpoint; one line each, with a fix for each failure.

    \b
    Example:
      bsti-submit doctor"""
    from .doctor import Check, run_checks

    try:
        checks = run_checks(_settings())
    except BstiError as error:  # the config itself: nothing else can be checked without it
        checks = [Check("config", False, str(error), "correct the file and line named")]
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        fix = f" -> fix: {check.fix}" if not check.ok else ""
        click.echo(f"{mark} {check.name}: {check.detail}{fix}")
    sys.exit(int(ExitStatus.SUCCESS if all(check.ok for check in checks) else ExitStatus.CONFIG))


@main.group("config")
def config_group() -> None:
    """Show or change the settings."""


def _config_file() -> Path:
    """The config file in use: --config, else BSTI_SUBMIT_CONFIG, the user's or the machine's;
    the user's when there is none yet."""
    from .config import config_file_in_use, default_config_file

    named = click.get_current_context().find_root().obj
    return named or config_file_in_use() or default_config_file()


@config_group.command(
    "set",
    context_settings={"ignore_unknown_options": True},
    short_help="Set one setting in the config file.",
)
@click.argument("name")
@click.argument("value")  # may start with "-": a value, not an option
def config_set(name: str, value: str) -> None:
    """Set one setting in the config file, checked as a run checks it.

    \b
    Example:
      bsti-submit config set destination https://collection.example/dicom-web"""
    from .config import set_value

    with _reported_errors():
        path = _config_file()
        written = set_value(path, name, value)
    click.echo(f"{name} = {written}    (config file {path})")


@config_group.command("unset", short_help="Remove one setting from the config file.")
@click.argument("name")
def config_unset(name: str) -> None:
    """Remove one setting from the config file: its default applies again.

    \b
    Example:
      bsti-submit config unset retries"""
    from .config import unset_value

    with _reported_errors():
        path = _config_file()
        removed = unset_value(path, name)
    click.echo(f"{name} {'removed from' if removed else 'was not set in'} {path}")


@config_group.command("show", short_help="Print the settings and their sources.")
def config_show() -> None:
    """Print every setting in effect and where it came from, and the OS keyring in use;
    secrets are never shown.

    \b
    Example:
      bsti-submit config show"""
    from .config import SECRETS
    from .keyrings import backend_name

    with _reported_errors():
        settings = _settings()
    for name, source in settings.sources.items():
        value = getattr(settings, name)
        click.echo(f"{name} = {'' if value is None else value}    ({source})")
    with _reported_errors():
        sources = {secret: settings.secret_source(secret) for secret in SECRETS}
    for secret, source in sources.items():
        state = "not set" if source == "not set" else f"set (value hidden), from {source}"
        click.echo(f"{secret}: {state}")
    click.echo(f"keyring: {backend_name() or 'none on this machine'}")


def _endpoint_url(url: str | None) -> str:
    """The endpoint a login is for: the URL given, else the configured destination."""
    settings = _settings(destination=url)
    if not settings.destination.startswith("https://"):
        raise UsageError("name the endpoint: --url https://..., or set it with init")
    return settings.destination.rstrip("/")


@main.command(short_help="Store the endpoint's token or password in the OS keyring.")
@click.option("--url", default=None, help="The endpoint (default: the configured destination).")
@click.option(
    "--password",
    "kind",
    flag_value="password",
    help="Store the basic-auth password (with `username` set) rather than a token.",
)
@click.option("--token", "kind", flag_value="token", default=True, help="Store a token (default).")
def login(url: str | None, kind: str) -> None:
    """Store the endpoint's token (or password) in the OS keyring: Windows Credential Manager,
    the macOS Keychain, or the Secret Service on a Linux desktop. It is asked for, not echoed.

    Runs then find it after BSTI_SUBMIT_TOKEN (BSTI_SUBMIT_PASSWORD) and before the token
    (password) file; `config show` says which was used.

    \b
    Example:
      bsti-submit login --url https://collection.example/dicom-web"""
    from .keyrings import backend_name, endpoint_service, store

    with _reported_errors():
        destination = _endpoint_url(url)
        value = click.prompt(f"{kind.capitalize()} for {destination}", hide_input=True).strip()
        if not value:
            raise UsageError(f"an empty {kind} was given: nothing stored")
        store(endpoint_service(destination), kind, value)
    click.echo(f"Stored the {kind} for {destination} in the OS keyring ({backend_name()}).")


@main.command(short_help="Remove the endpoint's token and password from the OS keyring.")
@click.option("--url", default=None, help="The endpoint (default: the configured destination).")
def logout(url: str | None) -> None:
    """Remove the token and password `login` stored for the endpoint.

    \b
    Example:
      bsti-submit logout --url https://collection.example/dicom-web"""
    from .config import SECRETS
    from .keyrings import endpoint_service, remove

    with _reported_errors():
        destination = _endpoint_url(url)
        removed = [kind for kind in SECRETS if remove(endpoint_service(destination), kind)]
    if removed:
        click.echo(f"Removed the {' and '.join(removed)} for {destination} from the OS keyring.")
    else:
        click.echo(f"The OS keyring held nothing for {destination}.")


@main.group("key", short_help="Back up or move the keys; print the public key.")
def key_group() -> None:
    """Back up the pseudonym key, or move it to a new workstation; print the public key that
    checks receipts."""


@key_group.command("export", short_help="Write the keys to a file, encrypted.")
@click.option("--to", "target", required=True, type=click.Path(path_type=Path), help="A new file.")
def key_export(target: Path) -> None:
    """Write the pseudonym key, and every key it replaced, to a new file, encrypted with a
    passphrase you choose (scrypt and AES-256-GCM). Keep the file and the passphrase apart.

    \b
    Example:
      bsti-submit key export --to E:\\backup\\rx1-key.export"""
    from .keys import export_keys, key_store

    with _reported_errors():
        store = key_store(_settings())
        store.load()  # no key, or one others can read, is refused before the passphrase
        passphrase = click.prompt(
            "Passphrase (12 characters or more)", hide_input=True, confirmation_prompt=True
        )
        count = export_keys(store, target, passphrase)
    click.echo(f"Wrote {count} key(s) from {store.where} to {target}, encrypted.")


@key_group.command("import", short_help="Take the keys from an export file.")
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--key-store",
    type=click.Choice(["file", "keyring"]),
    default=None,
    help="Where to put them (default: the configured key store).",
)
def key_import(source: Path, key_store: str | None) -> None:
    """Put the keys from a `key export` file into this workstation's key store, which must not
    hold a key yet (a different key would change every pseudonym). Then run init, with the
    same --key-store, to write the config.

    \b
    Example:
      bsti-submit key import rx1-key.export --key-store keyring"""
    from .keys import import_keys
    from .keys import key_store as store_for

    with _reported_errors():
        store = store_for(_settings(key_store=key_store))
        passphrase = click.prompt("Passphrase", hide_input=True)
        count = import_keys(store, source, passphrase)
    click.echo(f"Imported {count} key(s) into {store.where}.")


@main.group("audit")
def audit_group() -> None:
    """Check audit logs."""


@audit_group.command("verify", short_help="Check an audit log's sealed chain.")
@click.argument("log", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def audit_verify(log: Path) -> None:
    """Check LOG's sealed chain with the trust's key: name the first record that is missing,
    altered or cut short, and say whether the log ends with its footer.

    Exit status 0: intact and complete; 10: intact but without its footer (the run was cut
    short, or the log truncated); 1: broken.

    \b
    Example:
      bsti-submit audit verify ~/.local/state/bsti-submit/log/audit-*.jsonl"""
    from .audit import verify_with_keys
    from .keys import key_store

    with _reported_errors():
        settings = _settings()
        keys = key_store(settings).all_keys()
        verdict, key_name = verify_with_keys(log, keys)
    if verdict.legacy:
        click.echo(
            "UNSEALED: an earlier build's log (a plain SHA-256 chain): it cannot show who wrote it."
        )
        sys.exit(int(ExitStatus.ERROR))
    if key_name != keys[0][0] and verdict.broken_at is None:
        click.echo(f"(sealed under the retired key {key_name})")
    if verdict.broken_at is not None:
        click.echo(
            f"BROKEN at line {verdict.broken_at}: {verdict.reason}; "
            f"the {verdict.records} record(s) before it verify."
        )
        sys.exit(int(ExitStatus.ERROR))
    if not verdict.complete:
        click.echo(
            f"INCOMPLETE: {verdict.records} record(s) verify, but the log has no footer: the run "
            "was cut short, or the log was truncated."
        )
        sys.exit(int(ExitStatus.INCOMPLETE))
    click.echo(f"OK: {verdict.records} record(s), sealed and complete.")
    sys.exit(int(ExitStatus.SUCCESS))


@key_group.command("public", short_help="Print the receipt-signing public key.")
def key_public() -> None:
    """Print the public half of the trust's receipt-signing key (Ed25519, PEM), for the central
    collection to check receipts and withdrawal requests with. The signing key is derived from
    the pseudonym key: backed up, moved and rotated with it. Its key ID goes to stderr.

    \b
    Example:
      bsti-submit key public > rx1-receipts.pem"""
    from .evidence import public_key
    from .signing import key_id, public_pem

    with _reported_errors():
        key = public_key(_settings())
    click.echo(public_pem(key), nl=False)
    click.echo(f"key ID {key_id(key)}", err=True)


class _DefaultToWrite(click.Group):
    """`receipt RUN_ID` is `receipt write RUN_ID`; `receipt verify FILE` checks one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["write", *args]
        return super().parse_args(ctx, args)


@main.group("receipt", cls=_DefaultToWrite, short_help="Write or check a signed receipt.")
def receipt_group() -> None:
    """Signed submission receipts: what a run sent, with no original identifier.

    Every run that sends or writes anything writes its receipt beside its audit log.
    `bsti-submit receipt RUN_ID` writes it again (and prints it with --json).

    \b
    Example:
      bsti-submit receipt 3f2a9c1e
      bsti-submit receipt verify receipt-20261203T101500Z-3f2a9c1e.json"""


@receipt_group.command("write", short_help="Write a run's signed receipt.")
@click.argument("run")
@click.option("--json", "as_json", is_flag=True, help="Print the signed receipt itself.")
def receipt_write(run: str, as_json: bool) -> None:
    """Write the signed receipt of RUN (its ID, 8 characters or more, or its audit log) beside
    its audit log, and say what it holds. `bsti-submit receipt RUN` does the same.

    \b
    Example:
      bsti-submit receipt write 3f2a9c1e --json > receipt.json"""
    from .evidence import receipt_for_run

    with _reported_errors():
        written = receipt_for_run(_settings(), run)
    if as_json:
        click.echo(written.signed.decode("utf-8"), nl=False)
        return
    totals = written.document["totals"]
    click.echo(
        f"Receipt of run {written.document['run']['run_id']}: "
        f"{len(written.document['studies'])} studies, {totals['instances']} instances "
        f"to {written.document['destination']}"
    )
    click.echo(f"Wrote {written.path} (signed; check it with `bsti-submit receipt verify`)")


@receipt_group.command("verify", short_help="Check a receipt's or withdrawal's signature.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The trust's public key (PEM, from `key public`); default: this trust's own keys.",
)
def receipt_verify(file: Path, public_key: Path | None) -> None:
    """Check that FILE, a receipt or a withdrawal request, is signed by the trust and not
    changed since: exit status 0 if it verifies, 1 if not.

    \b
    Example:
      bsti-submit receipt verify receipt-20261203T101500Z-3f2a9c1e.json --public-key rx1.pem"""
    from .evidence import verify_signed
    from .receipts import FORMAT
    from .signing import SignatureError

    with _reported_errors():
        try:
            document = verify_signed(_settings(), file, public_key)
        except SignatureError as error:
            click.echo(f"FAILED: {file}: {error}")
            sys.exit(int(ExitStatus.ERROR))
    instances = sum(len(study["instances"]) for study in document["studies"])
    what = (
        f"receipt of run {document['run']['run_id']}"
        if document["format"] == FORMAT
        else f"withdrawal request of {document['requested_at']}"
    )
    click.echo(
        f"OK: {what}, {len(document['studies'])} studies, {instances} instances, "
        "signed by the trust and unchanged."
    )


_DAY = click.DateTime(formats=["%Y-%m-%d"])


@main.command(short_help="Sent, held and released by month and modality.")
@click.option("--since", required=True, type=_DAY, help="First day, YYYY-MM-DD.")
@click.option("--until", type=_DAY, default=None, help="Last day, YYYY-MM-DD (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one row per month and modality.")
@click.option(
    "--show-values", is_flag=True, help="Name pseudonyms and patient IDs (the trust's eyes only)."
)
def report(since: Any, until: Any, as_json: bool, as_csv: bool, show_values: bool) -> None:
    """Count the runs, studies, instances and patients sent, held back and released in a
    period, by month and modality, from the audit logs. Only counts, unless --show-values.

    \b
    Example:
      bsti-submit report --since 2026-01-01 --until 2026-03-31
      bsti-submit report --since 2026-01-01 --csv > q1.csv"""
    from . import period_report as reports

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    with _reported_errors():
        settings = _settings()
        lookup = settings.lookup_file if show_values else None
        last = until.date() if until else None
        made = reports.period_report(settings.log_dir, since.date(), last, lookup)
    if as_json:
        click.echo(json.dumps(reports.as_json(made), indent=2))
    elif as_csv:
        click.echo(reports.as_csv(made), nl=False)
    else:
        _print_report(made)


def _print_report(made: Any) -> None:
    from .period_report import COLUMNS, flat

    until = made.until.isoformat() if made.until else "today"
    click.echo(f"{made.runs} run(s) from {made.since.isoformat()} to {until}")
    if not made.rows:
        click.echo("Nothing was sent, held or released in that period.")
        return
    rows = [flat(row) for row in made.rows]
    names = [name for name in rows[0] if name in COLUMNS or name in ("pseudonyms", "patient_ids")]
    widths = {name: max(len(name), *(len(str(row[name])) for row in rows)) for name in names}
    click.echo("  ".join(name.ljust(widths[name]) for name in names))
    for row in rows:
        click.echo("  ".join(str(row[name]).ljust(widths[name]) for name in names))


@main.command(short_help="Withdraw a patient: list what was sent, request deletion, hold.")
@click.option("--patient-id", default=None, help="The patient's ID, as PACS has it.")
@click.option("--pseudonym", default=None, help="Or the patient's pseudonym.")
@click.option(
    "--issuer", default="", help="Issuer of the patient ID, for a patient never sent (rare)."
)
@click.option("--delete", is_flag=True, help="Also delete the studies at the endpoint.")
@ca_bundle_option
def withdraw(
    patient_id: str | None,
    pseudonym: str | None,
    issuer: str,
    delete: bool,
    ca_bundle: Path | None,
) -> None:
    """When a patient withdraws consent: list every study and instance sent for them (new
    UIDs, when sent, where), write a signed withdrawal request for the central collection,
    with --delete delete the studies at an endpoint that supports DICOMweb study deletion,
    and mark the patient so every later run holds their studies back.

    Exit status 0: done; 7: a deletion failed (the request and the hold are in place).

    \b
    Example:
      bsti-submit withdraw --patient-id RX1234567
      bsti-submit withdraw --pseudonym RX1-ABCDEF234567 --delete"""
    from .withdrawal import patient_pseudonyms
    from .withdrawal import withdraw as withdraw_patient

    with _reported_errors():
        settings = _settings(ca_bundle=ca_bundle)
        pseudonyms = patient_pseudonyms(settings, patient_id, pseudonym, issuer)
        done = withdraw_patient(settings, pseudonyms, delete, patient_id or pseudonym or "")
    _print_withdrawal(done)
    if done.failed_deletions:
        sys.exit(int(ExitStatus.ENDPOINT))


def _print_withdrawal(done: Any) -> None:
    instances = sum(len(study.instances) for study in done.studies)
    click.echo(
        f"Patient {', '.join(done.pseudonyms)}: {len(done.studies)} studies, "
        f"{instances} instances sent."
    )
    for study in done.studies:
        click.echo(f"  study {study.study} to {study.destination}")
        for sop, (sent, run_id) in sorted(study.instances.items()):
            click.echo(f"    instance {sop} sent {sent} (run {run_id[:8]})")
        if study.deletion:
            click.echo(f"    {study.deletion}")
    click.echo(f"Wrote the signed withdrawal request {done.request}: send it to the collection.")
    click.echo("Every later run holds this patient's studies back.")
