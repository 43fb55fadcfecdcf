"""The `bsti-submit` command: a thin layer over `pipeline`. The only module that prints.

Heavy modules (pydicom, deid, rich) are imported inside the commands, so `--help` and
`--version` start fast.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import __version__
from .errors import BstiError, ExitStatus

if TYPE_CHECKING:
    from rich.console import Console

    from .discover import Skipped
    from .pipeline import RunSummary


def _version_text() -> str:
    parts = [f"bsti-submit {__version__}"]
    for package in ("pydicom", "deid"):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package} (not installed)")
    parts.append(f"Python {sys.version.split()[0]}")
    return "\n".join(parts)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(message=_version_text(), package_name="bsti-submit")
def main() -> None:
    """De-identify DICOM at source and submit it to the BSTI COVID-19 imaging collection."""


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Turn our own errors into one clear line on stderr and their exit code."""
    try:
        yield
    except BstiError as error:
        click.echo(f"bsti-submit: error: {error}", err=True)
        sys.exit(int(error.exit_status))


def _quiet_libraries() -> None:
    """pydicom warns about every odd file; the audit log records what matters per file."""
    warnings.filterwarnings("ignore", module=r"pydicom(\..*)?")
    logging.getLogger("pydicom").setLevel(logging.ERROR)


@main.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--to",
    "destination",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the de-identified instances to.",
)
@click.option(
    "--profile",
    default=None,
    help="Built-in profile name or a .deid recipe file [default: ps315-basic].",
)
@click.option(
    "--audit-log",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Audit log file to create [default: a new file in the log folder].",
)
def submit(source: Path, destination: Path, profile: str | None, audit_log: Path | None) -> None:
    """De-identify every DICOM file under SOURCE into a folder."""
    from rich.console import Console

    from .config import Settings
    from .pipeline import submit as run_submit

    _quiet_libraries()
    console = Console(highlight=False, soft_wrap=True, markup=False)  # paths may hold [brackets]
    with _reported_errors():
        settings = Settings.from_environment(profile=profile)
        with _progress(console) as on_file:
            summary = run_submit(source, destination, settings, audit_log, on_file)
    _print_summary(console, summary)
    sys.exit(int(summary.exit_status))


@contextmanager
def _progress(console: Console) -> Iterator[Callable[[Path], None] | None]:
    """A progress line on a terminal; nothing at all otherwise."""
    if not console.is_terminal:
        yield None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console) as bar:
        task = bar.add_task("De-identifying", total=None)
        count = 0

        def advance(_: Path) -> None:
            nonlocal count
            count += 1
            bar.update(task, description=f"De-identified {count} file(s)")

        yield advance


def _print_summary(console: Console, summary: RunSummary) -> None:
    console.print(
        f"Wrote {summary.written} instance(s) of {len(summary.studies)} study(ies), "
        f"{len(summary.series)} series, to {summary.destination}, "
        f"with profile {summary.profile}; {summary.changes} attribute change(s) recorded."
    )
    _print_files(console, "Skipped", summary.skipped)
    _print_files(console, "Failed", summary.failed)
    console.print(f"Audit log: {summary.audit_log}")
    if summary.exit_status is not ExitStatus.SUCCESS:
        console.print(f"Exit status {int(summary.exit_status)}: some files could not be processed.")


def _print_files(console: Console, title: str, files: list[Skipped]) -> None:
    """One line per file, whole (no wrapping), so a log or a grep finds each file."""
    if not files:
        return
    console.print(f"{title}: {len(files)} file(s)")
    for entry in files:
        console.print(f"  {entry.path}: {entry.reason}")
