"""Benchmark sending while cleaning: `submit` to the test endpoint against perfect overlap.

    python benchmarks/bench_overlap.py [--files 1000] [--studies 4] [--spool-megabytes 128]
                                       [--repeat 3] [--uplink-mbps 400]

Perfect overlap, on one machine, is the wall time of (a) `submit` to a local folder and (b) a
reference client (curl with prebuilt STOW-RS bodies) sending already de-identified files, run
side by side at the same time: the server, the proxy and the tool share the CPUs, as they do in
the end-to-end run. It prints the end-to-end time against that, the spool's peak size (sampled
during the run) against `spool_megabytes` plus one batch, the time to the first instance the
server holds, and the peak memory of the run. The two timings take turns `--repeat` times and
their medians are compared, as these machines are noisy. With `--uplink-mbps`, a proxy before
Orthanc holds each POST as long as its body would take at that rate, as a trust's uplink does,
and the network becomes the slower side.

It needs the test servers (`scripts/install-test-servers`): Orthanc behind nginx TLS, on
127.0.0.1, started here as in the tests. Each run has its own state folders and key, so no run
sends another's instances.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers import cli_command  # noqa: E402 - the repository's own test helpers
from tests.servers import TOKEN, DicomWebServer, dicomweb_server  # noqa: E402

BATCH = 50  # instances a STOW-RS request, as the tool's default


def make_source(folder: Path, files: int, studies: int) -> None:
    from bsti_submit.testing import FakePatient, make_ct_slice

    folder.mkdir(parents=True)
    for index in range(files):
        dataset = make_ct_slice(FakePatient(), index)
        study = index % studies + 1  # a UID's last part, so it stays within 64 characters
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID"):
            uid = str(dataset.get(keyword))
            setattr(dataset, keyword, f"{uid.rsplit('.', 1)[0]}.{study}")
        dataset.save_as(folder / f"ct{index:05d}.dcm", enforce_file_format=True)


def environment(home: Path, spool_megabytes: int) -> dict[str, str]:
    """A run of its own: its folders, key and settings; the test endpoint's token."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("BSTI_SUBMIT_")}
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[name] = str(home / name.lower())
    env.update(
        BSTI_SUBMIT_TOKEN=TOKEN,
        BSTI_SUBMIT_WORKERS="2",
        BSTI_SUBMIT_SPOOL_MEGABYTES=str(spool_megabytes),
    )
    return env


def submit(source: Path, target: str, server: DicomWebServer) -> list[str]:
    return cli_command(
        "submit", str(source), "--to", target, "--site", "RX1", "--ca-bundle", str(server.ca_file)
    )


def stow_bodies(cleaned: Path, folder: Path) -> list[tuple[str, Path]]:
    """One multipart/related body per study and batch of the cleaned files, prebuilt."""
    import pydicom

    by_study: dict[str, list[Path]] = {}
    for path in sorted(cleaned.rglob("*.dcm")):
        study = str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)
        by_study.setdefault(study, []).append(path)
    folder.mkdir(parents=True)
    bodies: list[tuple[str, Path]] = []
    for study, paths in by_study.items():
        for start in range(0, len(paths), BATCH):
            body = folder / f"{len(bodies):05d}.body"
            with body.open("wb") as handle:
                for path in paths[start : start + BATCH]:
                    handle.write(b"--BOUNDARY\r\nContent-Type: application/dicom\r\n\r\n")
                    handle.write(path.read_bytes())
                    handle.write(b"\r\n")
                handle.write(b"--BOUNDARY--\r\n")
            bodies.append((study, body))
    return bodies


def curl_send(bodies: list[tuple[str, Path]], server: DicomWebServer) -> None:
    for study, body in bodies:
        subprocess.run(
            [
                "curl",
                "--silent",
                "--fail",
                "--output",
                os.devnull,
                "--cacert",
                str(server.ca_file),
                "-H",
                f"Authorization: Bearer {TOKEN}",
                "-H",
                'Content-Type: multipart/related; type="application/dicom"; boundary=BOUNDARY',
                "-H",
                "Accept: application/dicom+json",
                "--data-binary",
                f"@{body}",
                f"{server.url}/studies/{study}",
            ],
            check=True,
        )


def side_by_side(
    source: Path,
    bodies: list[tuple[str, Path]],
    server: DicomWebServer,
    env: dict[str, str],
    out: Path,
) -> float:
    """Wall time of (a) a folder run and (b) curl sending, started together."""
    started = time.perf_counter()
    folder_run = subprocess.Popen(
        submit(source, str(out), server), env=env, stdout=subprocess.DEVNULL
    )
    curl_send(bodies, server)
    folder_run.wait()
    return time.perf_counter() - started


def end_to_end(
    source: Path, server: DicomWebServer, env: dict[str, str], home: Path
) -> tuple[float, float, int, float]:
    """Wall time, seconds to the first instance the server holds, the spool's peak bytes and
    the main process's peak memory (MB), of `submit` to the endpoint."""
    spool = home / "xdg_state_home" / "bsti-submit" / "spool"
    before = server.instance_count()
    peak, first = 0, float("nan")
    started = time.perf_counter()
    run = subprocess.Popen(submit(source, server.url, server), env=env, stdout=subprocess.DEVNULL)
    done = threading.Event()

    def watch_server() -> None:
        nonlocal first
        while not done.is_set():
            if server.instance_count() > before:
                first = time.perf_counter() - started
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=watch_server, daemon=True)
    watcher.start()
    memory = 0.0
    while run.poll() is None:
        peak = max(peak, sum(_size(path) for path in spool.rglob("*.dcm")))
        memory = max(memory, _peak_megabytes(run.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - started
    done.set()
    watcher.join(timeout=5)
    return wall, first, peak, memory


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # sent and removed since it was listed
        return 0


def _peak_megabytes(pid: int) -> float:
    """A running process's own peak memory (VmHWM)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    lines = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return int(lines[0].split()[1]) / 1024 if lines else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--studies", type=int, default=4)
    parser.add_argument("--spool-megabytes", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--uplink-mbps", type=float, default=None)
    options = parser.parse_args()
    references: list[float] = []
    runs: list[tuple[float, float, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="bsti-overlap-") as scratch:
        base = Path(scratch)
        source = base / "source"
        make_source(source, options.files, options.studies)
        megabytes = sum(path.stat().st_size for path in source.iterdir()) / 2**20
        with dicomweb_server(base / "server", uplink_mbps=options.uplink_mbps) as server:
            cleaned = base / "cleaned"
            own = fresh_environment(base, options.spool_megabytes)
            subprocess.run(
                submit(source, str(cleaned), server), env=own(), stdout=subprocess.DEVNULL
            )
            bodies = stow_bodies(cleaned, base / "bodies")
            for turn in range(options.repeat):
                out = base / f"folder-{turn}"
                references.append(side_by_side(source, bodies, server, own(), out))
                home = base / f"home-{uuid.uuid4().hex[:8]}"
                runs.append(end_to_end(source, server, own(home), home))
    reference = statistics.median(references)
    wall = statistics.median(run[0] for run in runs)
    first = max(run[1] for run in runs)
    peak = max(run[2] for run in runs)
    memory = max(run[3] for run in runs)
    bound = options.spool_megabytes + 64  # the spool's limit and one batch (batch_megabytes)
    link = f"an uplink of {options.uplink_mbps:g} Mbit/s" if options.uplink_mbps else "loopback"
    print(f"{options.files} CT slices ({megabytes:.0f} MB) in {options.studies} studies, 2 workers")
    print(f"to the test endpoint over {link}; medians of {options.repeat} turns")
    print(f"folder run and curl side by side: {reference:.1f} s  ({_listed(references)})")
    print(
        f"submit to the endpoint:           {wall:.1f} s = {wall / reference:.2f}x"
        f" (target 1.15x)  ({_listed([run[0] for run in runs])})"
    )
    print(f"first instance held by the server after {first:.1f} s at worst (target 3 s)")
    print(f"spool peak {peak / 2**20:.0f} MB (target {bound} MB: spool_megabytes and one batch)")
    print(f"peak memory of the run's main process: {memory:.0f} MB")


def fresh_environment(base: Path, spool_megabytes: int) -> Callable[..., dict[str, str]]:
    """Environments of runs that share nothing: their own folders, key and state."""

    def own(home: Path | None = None) -> dict[str, str]:
        return environment(home or base / f"home-{uuid.uuid4().hex[:8]}", spool_megabytes)

    return own


def _listed(seconds: list[float]) -> str:
    return ", ".join(f"{value:.1f}" for value in seconds)


if __name__ == "__main__":
    main()
