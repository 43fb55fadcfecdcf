"""Benchmark the whole `submit` line against the floor and against peer de-identifiers.

Each contender processes the same folder of CT slices (512x512, 16-bit, realistic header) in a
fresh spawned child, on a RAM disk by default; it prints files per second, ratios, and each
child's own peak memory (VmHWM). Then the peak memory of `submit` on one large multi-frame
instance and on many files.

    python benchmarks/bench_pipeline.py [--files 1500] [--repeat 3] [--big-frames 1000]
                                         [--many 2000]

1,500 files is one chest CT at its largest: a run's fixed start-up (importing, loading the
profile, starting workers) weighs on it as on a real run. Contenders take turns, `--repeat`
times, and each one's median time is reported, as these machines are noisy.

Peers (not dependencies of bsti-submit; install them to compare): deid's `replace_identifiers`
with its default recipe, dicognito, dicom-anonymizer. A peer that is not installed is skipped.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

RAM_DISK = Path("/dev/shm")  # noqa: S108 - only a parent for mkdtemp, which makes a private folder


def peak_memory_mb() -> float:
    """The highest peak of this process (VmHWM, which a spawned child does not inherit) and of
    any worker process it started and waited for (each worker's own peak, not their sum)."""
    own = float("nan")
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            own = int(line.split()[1]) / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return max(own, workers)


def make_files(folder: Path, count: int, frames: int = 1) -> None:
    import numpy as np

    from bsti_submit.testing import FakePatient, make_ct_slice

    folder.mkdir(parents=True)
    for index in range(count):
        dataset = make_ct_slice(FakePatient(), index)
        if frames > 1:
            dataset.NumberOfFrames = frames
            shape = (frames, 512, 512)
            pixels = np.random.default_rng(index).integers(0, 4000, size=shape, dtype=np.uint16)
            dataset.PixelData = pixels.tobytes()
        dataset.save_as(folder / f"ct{index:05d}.dcm", enforce_file_format=True)


def make_radiographs(folder: Path, count: int) -> None:
    """2,000 x 2,500 12-bit DX images, each with a name, ID and date of birth burned in."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont
    from pydicom.uid import DigitalXRayImageStorageForPresentation

    from bsti_submit.testing import FakePatient, make_ct_slice

    folder.mkdir(parents=True)
    for index in range(count):
        dataset = make_ct_slice(FakePatient(), index, rows=2500, columns=2000)
        dataset.SOPClassUID = DigitalXRayImageStorageForPresentation
        dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
        dataset.Modality, dataset.ImageType = "DX", ["ORIGINAL", "PRIMARY"]
        dataset.BitsStored, dataset.HighBit = 12, 11
        rng = np.random.default_rng(index)
        film = np.linspace(500, 2500, 2000)[None, :] + rng.normal(0, 40, (2500, 2000))
        ink = Image.new("L", (2000, 2500))
        lines = ("MULLER, ZOE", "RX1234567", f"DOB 15/04/1961  #{index}")
        for number, line in enumerate(lines):
            ImageDraw.Draw(ink).text(
                (60, 60 + 50 * number), line, fill=255, font=ImageFont.load_default(size=40)
            )
        film[np.asarray(ink) > 127] = 4095
        dataset.PixelData = film.clip(0, 4095).astype("<u2").tobytes()
        dataset.save_as(folder / f"dx{index:03d}.dcm", enforce_file_format=True)


def floor(source: Path, out: Path) -> None:
    import pydicom

    out.mkdir()
    for path in sorted(source.iterdir()):
        pydicom.dcmread(path).save_as(out / path.name, enforce_file_format=True)


def bsti_submit(workers: int, profile: str = "bsti-covid19") -> Callable[[Path, Path], None]:
    """bsti-submit's `submit`, which must write every file (none held)."""

    def run(source: Path, out: Path) -> None:
        from bsti_submit.config import Settings
        from bsti_submit.run import submit

        state = out.parent / f"state-{out.name}"
        os.environ["XDG_DATA_HOME"] = os.environ["XDG_STATE_HOME"] = str(state)
        settings = Settings.load(site="BENCH", workers=workers, profile=profile)
        summary = submit(source, out, settings)
        assert summary.written == len(list(source.iterdir())), summary.quarantined

    run.__qualname__ = f"bsti_submit_{workers}_{profile}"
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
    "bsti-submit, 1 worker, ps315-basic": bsti_submit(1, "ps315-basic"),
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
    """One contender's (seconds, peak MB) in a fresh child; its output is deleted after."""
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            return pool.submit(timed, name, source, out).result()
    except ImportError as error:
        return f"not installed ({error.name})"
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(out.parent / f"state-{out.name}", ignore_errors=True)


def median_runs(source: Path, work: Path, repeat: int) -> dict[str, tuple[float, float] | str]:
    """Each contender's median seconds and highest peak MB over `repeat` turns."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in CONTENDERS}
    missing: dict[str, str] = {}
    for turn in range(repeat):
        for index, name in enumerate(CONTENDERS):
            if name in missing:
                continue
            result = in_child(name, source, work / f"out{turn}-{index}")
            if isinstance(result, str):
                missing[name] = result
            else:
                runs[name].append(result)
    return {
        name: missing.get(name)
        or (statistics.median(t for t, _ in runs[name]), max(m for _, m in runs[name]))
        for name in CONTENDERS
    }


def speedup(results: dict[str, tuple[float, float] | str], slower: str, faster: str) -> str:
    """How many times faster one contender was than another, or why that is not known."""
    a, b = results[slower], results[faster]
    return "n/a" if isinstance(a, str) or isinstance(b, str) else f"{a[0] / b[0]:.2f}x"


def print_targets(results: dict[str, tuple[float, float] | str]) -> None:
    """The issue's speed targets, each with its measured ratio."""
    one, two = "bsti-submit, 1 worker", "bsti-submit, 2 workers"
    floor_name = "floor (pydicom read+write)"
    basic = "bsti-submit, 1 worker, ps315-basic"
    print(f"1 worker vs the floor:  {speedup(results, floor_name, one)} (target 0.45x)")
    print(f"  with ps315-basic:     {speedup(results, floor_name, basic)} (target 0.45x)")
    print(
        f"2 workers vs 1 worker:  {speedup(results, one, two)} on {os.cpu_count()} CPUs "
        "(target 1.6x on 2)"
    )
    print(
        f"1 worker vs deid:       {speedup(results, 'deid replace_identifiers', one)} (target 3x)"
    )


def print_radiographs(work: Path, count: int) -> None:
    """Seconds per radiograph with text burned in (read, cleaned, masked), and the peak memory
    with the OCR models loaded."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        pool.submit(make_radiographs, work / "dx", count).result()
    floor_run = in_child("floor (pydicom read+write)", work / "dx", work / "out-dx-floor")
    ours = in_child("bsti-submit, 1 worker", work / "dx", work / "out-dx")
    if isinstance(floor_run, str) or isinstance(ours, str):
        print(f"radiographs: {floor_run if isinstance(floor_run, str) else ours}")
        return
    each, floor_each = ours[0] / count, floor_run[0] / count
    print(
        f"{count} radiographs 2000x2500 with burned-in text, 1 worker: {each:.2f} s each "
        f"(floor {floor_each:.2f} s; the line's own cost {each - floor_each:.2f} s, "
        f"target 1.5 s), peak {ours[1]:.0f} MB with the OCR models loaded (target 400 MB)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark the whole submit line and peers.")
    parser.add_argument("--files", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=3, help="turns per contender (median)")
    parser.add_argument("--big-frames", type=int, default=1000, help="frames of the large instance")
    parser.add_argument("--many", type=int, default=2000, help="files for the memory check")
    parser.add_argument("--radiographs", type=int, default=5, help="2,000 x 2,500 DX images")
    parser.add_argument("--workdir", type=Path, default=RAM_DISK if RAM_DISK.is_dir() else None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-", dir=args.workdir) as temporary:
        work = Path(temporary)
        in_child_make = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=in_child_make) as pool:
            pool.submit(make_files, work / "ct", args.files).result()
        results = median_runs(work / "ct", work, args.repeat)
        print(f"{args.files} CT slices, 512x512 16-bit, in {args.workdir or tempfile.gettempdir()}")
        print(f"{'contender':<28}{'files/s':>9}{'vs floor':>10}{'peak MB':>9}")
        base = results["floor (pydicom read+write)"]
        for name, result in results.items():
            if isinstance(result, str) or isinstance(base, str):
                print(f"{name:<28}{result}")
                continue
            rate = args.files / result[0]
            print(f"{name:<28}{rate:>9.1f}{base[0] / result[0]:>9.2f}x{result[1]:>9.1f}")
        print_targets(results)
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
        print_radiographs(work, args.radiographs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
