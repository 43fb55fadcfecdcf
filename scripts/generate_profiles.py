"""Regenerate the built-in profiles that are generated from PS3.15 Table E.1-1.

Run after changing src/bsti_submit/deid/builtin.py or updating the tables in src/bsti_submit/data/
from ../shared/standard/; then call the change out in CHANGELOG.md for the trusts' IG.
"""

from __future__ import annotations

from pathlib import Path

from bsti_submit.deid.builtin import BUILTIN_PROFILES
from bsti_submit.deid.standard import render_profile

PROFILES = Path(__file__).resolve().parent.parent / "profiles"


def main() -> None:
    for spec in BUILTIN_PROFILES:
        target = PROFILES / f"{spec.name}.deid"
        target.write_text(render_profile(spec), encoding="utf-8")
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
