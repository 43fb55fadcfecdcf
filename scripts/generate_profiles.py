"""Regenerate the built-in profiles that are derived from PS3.15 Table E.1-1.

Run after updating src/bsti_submit/data/confidentiality_profile.csv from ../shared/standard/.
"""

from __future__ import annotations

from pathlib import Path

from bsti_submit.standard import BASIC_PROFILE_NAME, render_basic_profile

PROFILES = Path(__file__).resolve().parent.parent / "profiles"


def main() -> None:
    target = PROFILES / f"{BASIC_PROFILE_NAME}.deid"
    target.write_text(render_basic_profile(), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
