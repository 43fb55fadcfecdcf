"""The command line's own help: short summaries, an example for every command, the exit-code
table; and every option of every command is used by some test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click

from bsti_submit.cli import main
from bsti_submit.errors import ExitStatus

from .helpers import run

TESTS = Path(__file__).parent


def commands(group: click.Group = main, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every command that does something (not the groups)."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def test_the_main_help_lists_short_summaries_and_every_exit_code() -> None:
    shown = run("--help").output
    summaries = shown.split("Commands:")[1].splitlines()
    assert not [line for line in summaries if line.endswith("...")], "a summary was cut short"
    for status in ExitStatus:
        assert re.search(rf"^\s+{int(status)}\s+\w", shown, re.MULTILINE), status


def test_every_command_shows_an_example() -> None:
    for path in commands():
        shown = run(*path, "--help").output
        assert "Example:" in shown and f"bsti-submit {' '.join(path)}" in shown, path
        assert "see below" not in shown, path


def test_every_option_of_every_command_is_used_by_a_test() -> None:
    text = "\n".join(
        path.read_text() for path in TESTS.glob("*.py") if path.name != Path(__file__).name
    )
    unused = [
        f"{' '.join(path)} {option}"
        for path in commands()
        for parameter in command_at(path).params
        if isinstance(parameter, click.Option)
        for option in parameter.opts
        if option.startswith("--") and f'"{option}"' not in text
    ]
    assert not unused, unused


def test_python_dash_m_runs_the_command_line() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "bsti_submit", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == ExitStatus.SUCCESS and done.stdout.startswith("bsti-submit "), (
        done.stderr
    )
