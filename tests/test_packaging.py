"""What a trust's IT reads before approving the package: its licence, shipped with it, and
the platforms it claims."""

from __future__ import annotations

from importlib.metadata import distribution


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
