"""Benchmark the de-identification engine against a plain pydicom read-and-write floor.

Makes synthetic 512x512 16-bit CT slices with a realistic header, then:
- speed: one child process runs both contenders on each file in turn (floor, engine, floor,
  engine, ...) and adds up each one's CPU time, so the machine's ups and downs fall on both
  alike; the ratio of the two rates is the figure to read;
- memory: each contender runs alone in a fresh child, whose peak RSS is its own, over N files
  and again over 2N files.

    python benchmarks/bench_deidentify.py [--files N] [--repeat R] [--workdir DIR]

The parent imports neither pydicom nor bsti_submit: on Linux a spawned child's ru_maxrss starts at
the parent's peak RSS, so the parent must stay smaller than any child it measures.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import cache, partial
from pathlib import Path
from typing import TypeVar

KEY = b"k" * 32
PROFILE = "ps315-basic"
SIZE = 512
WARM_UP_FILES = 10
RAM_DISK = Path("/dev/shm")  # noqa: S108 - only a parent for mkdtemp, which makes a private folder
T = TypeVar("T")
Process = Callable[[Path, Path], None]


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_files(folder: Path, count: int) -> list[Path]:
    """Write `count` CT slices with a realistic header of one fake patient; runs in a child."""
    from bsti_submit.testing import FakePatient, make_ct_slice

    patient = FakePatient()
    paths = []
    for index in range(count):
        path = folder / f"ct{index:05d}.dcm"
        make_ct_slice(patient, index, rows=SIZE, columns=SIZE).save_as(
            path, enforce_file_format=True
        )
        paths.append(path)
    return paths


def floor_process() -> Process:
    """Plain pydicom: read each file and write it again, nothing else."""
    import pydicom

    def process(path: Path, target: Path) -> None:
        pydicom.dcmread(path).save_as(target / path.name, enforce_file_format=True)

    return process


def engine_process(profile: str = PROFILE) -> Process:
    """The engine: read and check, de-identify, write under the new UIDs."""
    from bsti_submit.deid.engine import Deidentifier
    from bsti_submit.deid.profile import load_profile
    from bsti_submit.deid.pseudonym import Pseudonymizer
    from bsti_submit.delivery.folder import LocalFolder
    from bsti_submit.dicomio.discover import read_instance

    engine = Deidentifier(load_profile(profile), Pseudonymizer(KEY), site="BENCH")
    folder = cache(LocalFolder)

    def process(path: Path, target: Path) -> None:
        dataset = read_instance(path)
        engine.apply(dataset)
        folder(target).write(dataset)

    return process


# CPU seconds spent in the identifier finder (collecting a header's identifiers and searching
# text with them) and in the gate (parsing the written bytes and searching them), by contender.
SPENT: dict[str, dict[str, float]] = {}


def timed_calls(spent: dict[str, float], part: str, function: Callable[..., T]) -> Callable[..., T]:
    """`function`, adding the CPU time of each call to `spent[part]`."""

    def timed(*args: object, **kwargs: object) -> T:
        start = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[part] += time.process_time() - start

    return timed


def gated_process(profile: str = PROFILE) -> Process:
    """The whole line for one file as a worker runs it (`Preparer.stage`): burned-in assessment,
    identifier collection, de-identification with the finder's cleaning, writing, and the gate
    on the written bytes. The finder's and the gate's CPU time are counted in `SPENT`."""
    from bsti_submit import preparer as preparer_module
    from bsti_submit.deid import finder
    from bsti_submit.preparer import build_preparer

    preparer = build_preparer(profile, KEY, "BENCH", "")
    spent = SPENT.setdefault(f"engine + gate, {profile}", {"finder": 0.0, "gate": 0.0})
    preparer_module.collect = timed_calls(spent, "finder", preparer_module.collect)  # type: ignore[attr-defined]
    finder.Finder.find = timed_calls(spent, "finder", finder.Finder.find)  # type: ignore[method-assign]
    preparer.verifier.check = timed_calls(spent, "gate", preparer.verifier.check)  # type: ignore[method-assign]

    def process(path: Path, target: Path) -> None:
        prepared = preparer.stage(path, target / path.name)
        if prepared.findings:
            raise RuntimeError(f"the gate held back {path.name}: the benchmark data is clean")

    return process


CONTENDERS: dict[str, Callable[[], Process]] = {
    "floor (pydicom read+write)": floor_process,
    "engine, ps315-basic": engine_process,
    "engine, bsti-covid19": partial(engine_process, "bsti-covid19"),
    "engine + gate, ps315-basic": gated_process,
    "engine + gate, bsti-covid19": partial(gated_process, "bsti-covid19"),
}


def interleaved_rates(paths: list[Path], out_dir: Path) -> dict[str, float]:
    """Files per CPU second of each contender, taking turns file by file after a warm-up
    (pydicom imports some modules on first use)."""
    processes = {name: make() for name, make in CONTENDERS.items()}
    spent = dict.fromkeys(processes, 0.0)
    for index, name in enumerate(processes):
        target = out_dir / str(index)
        target.mkdir(parents=True)
        for path in paths[:WARM_UP_FILES]:
            processes[name](path, target)
    for parts in SPENT.values():  # the warm-up is not counted
        parts.update(dict.fromkeys(parts, 0.0))
    for path in paths:
        for index, (name, process) in enumerate(processes.items()):
            start = time.process_time()
            process(path, out_dir / str(index))
            spent[name] += time.process_time() - start
    rates = {name: len(paths) / seconds for name, seconds in spent.items()}
    for name, parts in SPENT.items():
        for part, seconds in parts.items():
            rates[f"{part} share, {name}"] = seconds / spent[name]
    return rates


def peak_memory(name: str, paths: list[Path], out_dir: Path) -> float:
    """Peak RSS in MB of one contender alone over `paths`; runs in a fresh child."""
    process = CONTENDERS[name]()
    out_dir.mkdir(parents=True)
    for path in paths:
        process(path, out_dir)
    return peak_rss_mb()


def in_child(function: Callable[..., T], *args: object) -> T:
    """Call `function(*args)` in a fresh spawned process, so its peak RSS is its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark the de-identification engine.")
    parser.add_argument("--files", type=int, default=200, help="instances to process (200)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs (3)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=RAM_DISK if RAM_DISK.is_dir() else None,
        help="folder for inputs and outputs; a RAM disk by default where there is one, so that "
        "the figures measure the code, not the disk",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-deidentify-", dir=args.workdir) as temporary:
        work = Path(temporary)
        (work / "in").mkdir()
        paths = in_child(make_files, work / "in", 2 * args.files)
        runs = [
            in_child(interleaved_rates, paths[: args.files], work / f"speed-{run}")
            for run in range(args.repeat)
        ]
        memory = {
            name: [
                in_child(peak_memory, name, paths[:count], work / f"memory-{index}-{count}")
                for count in (args.files, 2 * args.files)
            ]
            for index, name in enumerate(CONTENDERS)
        }
    print(f"inputs and outputs in {args.workdir or tempfile.gettempdir()}")
    print(f"{args.files} CT slices, {SIZE}x{SIZE} 16-bit; {args.repeat} interleaved runs")
    print(f"{'contender':<28} {'files/s':>9} {'vs floor':>16} {'peak RSS MB':>18}")
    print(
        f"{'':<28} {'(best)':>9} {'(each run)':>16} {f'{args.files} / {2 * args.files} files':>18}"
    )
    for name in CONTENDERS:
        ratios = " ".join(f"{run[name] / run[next(iter(CONTENDERS))]:.2f}" for run in runs)
        small, large = memory[name]
        best = max(run[name] for run in runs)
        print(f"{name:<28} {best:>9.1f} {ratios:>16} {small:>8.1f} / {large:<7.1f}")
    for name in CONTENDERS:
        for part in ("finder", "gate"):
            key = f"{part} share, {name}"
            if key in runs[0]:
                shares = " ".join(f"{run[key]:.0%}" for run in runs)
                print(f"{part}'s share of the time per file ({name}): {shares}")
    print(f"(parent process peak RSS {peak_rss_mb():.1f} MB; child readings cannot go below it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
