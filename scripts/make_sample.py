"""Regenerate the bundled synthetic sample study in sample/study (no real patient data)."""

from __future__ import annotations

import shutil
from pathlib import Path

from bsti_submit.testing import write_sample_study

SAMPLE = Path(__file__).resolve().parent.parent / "sample" / "study"


def main() -> None:
    shutil.rmtree(SAMPLE, ignore_errors=True)
    for path in write_sample_study(SAMPLE):
        print(f"wrote {path.relative_to(SAMPLE.parent)}")


if __name__ == "__main__":
    main()
