"""The versions worth quoting in a support ticket and in every audit log."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from . import __version__


def dependency_versions() -> dict[str, str]:
    """bsti-submit, pydicom, deid and Python, by name."""
    versions = {"bsti-submit": __version__}
    for package in ("pydicom", "deid"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "(not installed)"
    versions["python"] = platform.python_version()
    return versions
