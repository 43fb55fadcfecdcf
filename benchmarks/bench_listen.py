"""Benchmark `bsti-submit listen`: a modality pushes CT slices to it, over DICOM.

    python benchmarks/bench_listen.py [--files 500]

dcmtk's `storescu` sends the slices, as a modality or PACS would, once to Orthanc's own DICOM
port (the reference: a DICOM node that stores and does nothing else) and once to the listener,
which de-identifies each quiet study and sends it to the same Orthanc over DICOMweb STOW-RS
behind nginx TLS. It prints instances received per second by each node, their ratio, and the
listener's end-to-end time: from the first byte sent to the last instance held by the endpoint.
It needs the test servers (`scripts/install-test-servers`), started here as in the tests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers import cli_command, save  # noqa: E402 - the repository's own test helpers
from tests.servers import TOKEN, dicomweb_server, free_port  # noqa: E402

from bsti_submit.testing import FakePatient, make_ct_slice  # noqa: E402


def storescu(called: str, port: int, folder: Path) -> float:
    """Seconds `storescu` takes to send every file under `folder` in one association."""
    started = time.monotonic()
    command = ["storescu", "+sd", "+r", "-aet", "MODALITY", "-aec", called, "127.0.0.1"]
    subprocess.run(
        [*command, str(port), str(folder)],
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


def wait_until(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():  # type: ignore[operator]
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    files = parser.parse_args().files
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for index in range(files):
            save(make_ct_slice(FakePatient(), index), root / "slices" / f"slice{index:04d}")
        dicom_port, listen_port = free_port(), free_port()
        with dicomweb_server(root / "server", dicom_port=dicom_port) as server:
            reference = storescu("ORTHANC", dicom_port, root / "slices")
            wait_until(lambda: server.instance_count() >= files, 120)
            env = {
                **os.environ,
                **{
                    f"XDG_{name}_HOME": str(root / name.lower())
                    for name in ("CONFIG", "DATA", "STATE")
                },
                "BSTI_SUBMIT_TOKEN": TOKEN,
                "BSTI_SUBMIT_CA_BUNDLE": str(server.ca_file),
                "BSTI_SUBMIT_LISTEN_ADDRESS": "127.0.0.1",
                "BSTI_SUBMIT_LISTEN_PORT": str(listen_port),
                "BSTI_SUBMIT_ALLOWED_CALLING_AE_TITLES": "MODALITY",
                "BSTI_SUBMIT_QUIET_SECONDS": "2",
            }
            subprocess.run(
                cli_command("init", "--site", "RX1"), env=env, check=True, capture_output=True
            )
            listener = subprocess.Popen(
                cli_command("listen", "--to", server.url),
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert listener.stdout is not None
            listener.stdout.readline()  # "Listening as ..."
            subprocess.run(
                [
                    "echoscu",
                    "-aet",
                    "MODALITY",
                    "-aec",
                    "BSTISUBMIT",
                    "127.0.0.1",
                    str(listen_port),
                ],
                check=False,
            )
            started = time.monotonic()
            received = storescu("BSTISUBMIT", listen_port, root / "slices")
            wait_until(lambda: server.instance_count() >= 2 * files, 600)
            end_to_end = time.monotonic() - started
            delivered = server.instance_count() - files
            listener.terminate()
            listener.wait(timeout=60)
    if delivered < files:
        sys.exit(f"the listener delivered {delivered} of {files} instances in 600 s: see above")
    print(f"{files} CT slices pushed with storescu")
    for label, seconds in (
        ("Orthanc's DICOM port (reference)", reference),
        ("bsti-submit listen", received),
    ):
        print(f"  to {label}: {seconds:.1f} s, {files / seconds:.0f} instances/s")
    print(f"  receiving, listener / reference: {received / reference:.2f}x the time")
    print(
        f"  end to end, first byte sent to last instance held by the endpoint: {end_to_end:.1f} s"
    )
    print("  (this includes quiet_seconds = 2 before the study is taken)")


if __name__ == "__main__":
    main()
