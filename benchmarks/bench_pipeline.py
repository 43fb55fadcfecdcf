"""Benchmark the whole `submit` line against the floor and against peer de-identifiers.

Each contender processes the same folder of CT slices (512x512, 16-bit, realistic header) in a
fresh spawned child, on a RAM disk by default; it prints files per second, ratios, and each
child's own peak memory (VmHWM). Then the peak memory of `submit` on one large multi-frame
instance and on many files.

    python benchmarks/bench_pipeline.py [--files 300] [--big-frames 1000] [--many 2000]

Peers (not dependencies of bsti-submit; install them to compare): deid's `replace_identifiers`
with its default recipe, dicognito, dicom-anonymizer. A peer that is not installed is skipped.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

RAM_DISK = Path("/dev/shm")  # noqa: S108 - only a parent for mkdtemp, which makes a private folder


def peak_memory_mb() -> float:
    """This process's own high-water mark (VmHWM), which a spawned child does not inherit."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_files(folder: Path, count: int, frames: int = 1) -> None:
    import numpy as np

    from bsti_submit.synthetic import FakePatient, make_ct_slice

    folder.mkdir(parents=True)
    for index in range(count):
        dataset = make_ct_slice(FakePatient(), index)
        if frames > 1:
            dataset.NumberOfFrames = frames
            shape = (frames, 512, 512)
            pixels = np.random.default_rng(index).integers(0, 4000, size=shape, dtype=np.uint16)
            dataset.PixelData = pixels.tobytes()
        dataset.save_as(folder / f"ct{index:05d}.dcm", enforce_file_format=True)


def floor(source: Path, out: Path) -> None:
    import pydicom

    out.mkdir()
    for path in sorted(source.iterdir()):
        pydicom.dcmread(path).save_as(out / path.name, enforce_file_format=True)


def bsti_submit(workers: int) -> Callable[[Path, Path], None]:
    def run(source: Path, out: Path) -> None:
        from bsti_submit.config import Settings
        from bsti_submit.pipeline import submit

        state = out.parent / f"state-{out.name}"
        os.environ["XDG_DATA_HOME"] = os.environ["XDG_STATE_HOME"] = str(state)
        summary = submit(source, out, Settings.load(site="BENCH", workers=workers))
        assert summary.written == len(list(source.iterdir())), summary.quarantined

    run.__qualname__ = f"bsti_submit_{workers}"
    return run


def deid_default(source: Path, out: Path) -> None:
    from deid.dicom import replace_identifiers
    from deid.logger import bot

    bot.level = -10
    out.mkdir()
    replace_identifiers(
        [str(p) for p in sorted(source.iterdir())], save=True, output_folder=str(out)
    )


def dicognito(source: Path, out: Path) -> None:
    import pydicom
    from dicognito.anonymizer import Anonymizer

    out.mkdir()
    anonymizer = Anonymizer()
    for path in sorted(source.iterdir()):
        dataset = pydicom.dcmread(path)
        anonymizer.anonymize(dataset)
        dataset.save_as(out / path.name, enforce_file_format=True)


def dicom_anonymizer(source: Path, out: Path) -> None:
    from dicomanonymizer import anonymize_dicom_file

    out.mkdir()
    for path in sorted(source.iterdir()):
        anonymize_dicom_file(str(path), str(out / path.name))


CONTENDERS: dict[str, Callable[[Path, Path], None]] = {
    "floor (pydicom read+write)": floor,
    "bsti-submit, 1 worker": bsti_submit(1),
    "bsti-submit, 2 workers": bsti_submit(2),
    "deid replace_identifiers": deid_default,
    "dicognito": dicognito,
    "dicom-anonymizer": dicom_anonymizer,
}


def timed(name: str, source: Path, out: Path) -> tuple[float, float]:
    """Seconds of wall time and peak MB for one contender over the folder; in a child."""
    start = time.perf_counter()
    CONTENDERS[name](source, out)
    return time.perf_counter() - start, peak_memory_mb()


def in_child(name: str, source: Path, out: Path) -> tuple[float, float] | str:
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            return pool.submit(timed, name, source, out).result()
    except ImportError as error:
        return f"not installed ({error.name})"


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark the whole submit line and peers.")
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--big-frames", type=int, default=1000, help="frames of the large instance")
    parser.add_argument("--many", type=int, default=2000, help="files for the memory check")
    parser.add_argument("--workdir", type=Path, default=RAM_DISK if RAM_DISK.is_dir() else None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-", dir=args.workdir) as temporary:
        work = Path(temporary)
        in_child_make = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=in_child_make) as pool:
            pool.submit(make_files, work / "ct", args.files).result()
        results = {
            name: in_child(name, work / "ct", work / f"out{i}") for i, name in enumerate(CONTENDERS)
        }
        print(f"{args.files} CT slices, 512x512 16-bit, in {args.workdir or tempfile.gettempdir()}")
        print(f"{'contender':<28}{'files/s':>9}{'vs floor':>10}{'peak MB':>9}")
        base = results["floor (pydicom read+write)"]
        for name, result in results.items():
            if isinstance(result, str) or isinstance(base, str):
                print(f"{name:<28}{result}")
                continue
            rate = args.files / result[0]
            print(f"{name:<28}{rate:>9.1f}{base[0] / result[0]:>9.2f}x{result[1]:>9.1f}")
        one, two = results["bsti-submit, 1 worker"], results["bsti-submit, 2 workers"]
        if not isinstance(one, str) and not isinstance(two, str):
            print(f"2 workers vs 1 worker: {one[0] / two[0]:.2f}x on {os.cpu_count()} CPUs")
        with ProcessPoolExecutor(1, mp_context=in_child_make) as pool:
            pool.submit(make_files, work / "big", 1, args.big_frames).result()
        size = sum(path.stat().st_size for path in (work / "big").iterdir()) / (1 << 20)
        big = in_child("bsti-submit, 1 worker", work / "big", work / "out-big")
        big_floor = in_child("floor (pydicom read+write)", work / "big", work / "out-big-floor")
        print(
            f"one {size:.0f} MB multi-frame instance: bsti-submit peak {big[1]:.1f} MB, "
            f"floor peak {big_floor[1]:.1f} MB"
        )
        with ProcessPoolExecutor(1, mp_context=in_child_make) as pool:
            pool.submit(make_files, work / "many", args.many).result()
        many = in_child("bsti-submit, 1 worker", work / "many", work / "out-many")
        print(f"{args.many} files: bsti-submit peak {many[1]:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
