"""Benchmark STOW-RS delivery against a reference client, to the local test Orthanc behind TLS.

Pushes the same CT slices (512x512, 16-bit) with bsti-submit's StowClient (streamed bodies,
batches of 50) and with curl sending prebuilt multipart bodies of the same batches, taking turns,
and prints both rates and their ratio, with the peak memory of the process that ran our client.

    python -m benchmarks.bench_stow [--files N] [--repeat R]      (from the repository root)

Needs Orthanc, its DICOMweb plugin and nginx: `bash scripts/install-test-servers`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tests.servers import TOKEN, DicomWebServer, dicomweb_server

BATCH = 50


def make_files(folder: Path, count: int) -> list[Path]:
    from bsti_submit.testing import FakePatient, make_ct_slice

    paths = []
    for index in range(count):
        path = folder / f"ct{index:05d}.dcm"
        make_ct_slice(FakePatient(), index).save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def batches(paths: list[Path]) -> list[list[Path]]:
    return [paths[start : start + BATCH] for start in range(0, len(paths), BATCH)]


def ours(url: str, ca_file: Path, paths: list[Path]) -> tuple[float, float]:
    """Seconds to send every batch with StowClient, and this process's peak RSS in MB."""
    import pydicom

    from bsti_submit.delivery.stow import Endpoint, StowClient

    study = str(pydicom.dcmread(paths[0], stop_before_pixels=True).StudyInstanceUID)
    names = {
        path: str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID) for path in paths
    }
    client = StowClient(Endpoint(url, ca_bundle=ca_file, token=TOKEN))
    start = time.perf_counter()
    for batch in batches(paths):
        outcomes = client.store(study, {names[path]: path for path in batch})
        assert all(outcome.stored for outcome in outcomes)
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed, peak_memory_mb()


def peak_memory_mb() -> float:
    """This process's own high-water mark (VmHWM): unlike ru_maxrss, a spawned child does not
    inherit its parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prebuilt_bodies(folder: Path, paths: list[Path]) -> list[tuple[Path, str]]:
    """The multipart bodies curl sends, built once and not timed."""
    from bsti_submit.delivery.stow import MultipartBody

    bodies = []
    for index, batch in enumerate(batches(paths)):
        body = MultipartBody(batch)
        path = folder / f"body{index}"
        path.write_bytes(body.read())
        bodies.append((path, body.content_type))
    return bodies


def reference(server: DicomWebServer, study: str, bodies: list[tuple[Path, str]]) -> float:
    """Seconds for curl to send the same batches."""
    start = time.perf_counter()
    for path, content_type in bodies:
        subprocess.run(
            [
                "curl",
                "-sS",
                "--fail",
                "-o",
                "/dev/null",
                "--cacert",
                str(server.ca_file),
                "-H",
                f"Authorization: Bearer {TOKEN}",
                "-H",
                f"Content-Type: {content_type}",
                "-H",
                "Accept: application/dicom+json",
                "--data-binary",
                f"@{path}",
                f"{server.url}/studies/{study}",
            ],
            check=True,
        )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark STOW-RS delivery.")
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-stow-") as temporary:
        work = Path(temporary)
        (work / "in").mkdir()
        paths = make_files(work / "in", args.files)
        import pydicom

        study = str(pydicom.dcmread(paths[0], stop_before_pixels=True).StudyInstanceUID)
        bodies = prebuilt_bodies(work, paths)
        megabytes = sum(path.stat().st_size for path in paths) / (1 << 20)
        context = multiprocessing.get_context("spawn")
        with dicomweb_server(work / "server") as server:
            reference(server, study, bodies)  # untimed: Orthanc stores them the first time only
            results = []
            for _ in range(args.repeat):
                with ProcessPoolExecutor(1, mp_context=context) as pool:
                    mine, peak = pool.submit(ours, server.url, server.ca_file, paths).result()
                theirs = reference(server, study, bodies)
                results.append((mine, theirs, peak))
    print(
        f"{args.files} CT slices ({megabytes:.0f} MB) in batches of {BATCH}, "
        f"{args.repeat} alternating runs, to Orthanc behind nginx TLS on this machine"
    )
    header = f"{'run':<5}{'bsti-submit inst/s':>20}{'curl inst/s':>14}{'ratio':>8}"
    print(f"{header}{'our peak RSS MB':>18}")
    for index, (mine, theirs, peak) in enumerate(results, start=1):
        print(
            f"{index:<5}{args.files / mine:>20.1f}{args.files / theirs:>14.1f}"
            f"{theirs / mine:>8.2f}{peak:>18.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
