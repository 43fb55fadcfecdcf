"""What a trust's IT reads before approving the package: its licence, shipped with it, the
platforms it claims, and the lock of the exact versions it is tested with."""

from __future__ import annotations

from importlib.metadata import distribution, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def test_the_licence_ships_with_the_package() -> None:
    installed = distribution("bsti-submit")
    assert installed.metadata["License-Expression"] == "MIT"
    (licence,) = [path for path in installed.files or [] if path.name == "LICENSE"]
    assert licence.read_text().startswith("MIT License")


def test_it_claims_only_the_platform_it_is_tested_on() -> None:
    classifiers = distribution("bsti-submit").metadata.get_all("Classifier") or []
    systems = [text for text in classifiers if text.startswith("Operating System")]
    assert systems == ["Operating System :: POSIX :: Linux"]
    assert "Programming Language :: Python :: 3.11" in classifiers


LOCK = Path(__file__).resolve().parent.parent / "requirements-lock.txt"


def locked_pins() -> dict[str, Requirement]:
    """The lock's requirements that apply to this machine, by normalised name."""
    lines = LOCK.read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
    pins = [Requirement(line.split(" --hash")[0]) for line in lines if line and line[0].isalpha()]
    return {
        canonicalize_name(pin.name): pin for pin in pins if not pin.marker or pin.marker.evaluate()
    }


def test_the_lock_pins_every_dependency_with_hashes() -> None:
    text = LOCK.read_text(encoding="utf-8")
    entries = text.replace("\\\n", " ").splitlines()
    pinned = [line for line in entries if line and line[0].isalpha()]
    assert pinned and all("==" in line and "--hash=sha256:" in line for line in pinned)
    declared = distribution("bsti-submit").requires or []
    runtime = [Requirement(text) for text in declared if "extra ==" not in text]
    pins = locked_pins()
    for requirement in runtime:
        pin = pins[canonicalize_name(requirement.name)]
        (exact,) = pin.specifier
        assert requirement.specifier.contains(exact.version), (requirement, exact)


def test_the_tests_run_on_the_locked_versions() -> None:
    """What the README's test command installs is what the lock promises a trust's IT."""
    for name, pin in locked_pins().items():
        (exact,) = pin.specifier
        assert version(name) == exact.version, name
