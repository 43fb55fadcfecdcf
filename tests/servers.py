"""A real DICOMweb server for the tests: Orthanc with its DICOMweb plugin on 127.0.0.1, behind
nginx for TLS (with a throwaway CA) and a bearer token, as a central site would deploy it.
Both run as this process's children with temporary configs and storage."""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import trustme

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
PYTHON_PLUGIN = "/usr/share/orthanc/plugins/libOrthancPython.so"
ORTHANC_USER, ORTHANC_PASSWORD = "central", "orthanc-test-password"
TOKEN = "test-bearer-token-0123456789"
SITE_USER, SITE_PASSWORD = "rx1-upload", "site-basic-password-42"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, **options: object) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2, **options)  # type: ignore[arg-type]
            return
        except requests.exceptions.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class DicomWebServer:
    """The running pair: `url` is the DICOMweb base behind TLS; `ca_file` trusts it."""

    url: str
    ca_file: Path
    orthanc: str
    access_log: Path
    port: int
    mtls_url: str
    client_cert: Path
    client_key: Path

    def orthanc_get(self, path: str, **options: object) -> requests.Response:
        """Ask Orthanc directly (plain HTTP on loopback), as the central site's admin would."""
        auth = (ORTHANC_USER, ORTHANC_PASSWORD)
        return requests.get(f"{self.orthanc}{path}", auth=auth, timeout=30, **options)  # type: ignore[arg-type]

    def instance_count(self) -> int:
        return len(self.orthanc_get("/instances").json())

    def posts(self) -> int:
        return sum("POST " in line for line in self.access_log.read_text().splitlines())

    def stored_files(self) -> dict[str, bytes]:
        """SOP Instance UID -> the bytes Orthanc stored."""
        files = {}
        for instance in self.orthanc_get("/instances").json():
            tags = self.orthanc_get(f"/instances/{instance}/simplified-tags").json()
            files[tags["SOPInstanceUID"]] = self.orthanc_get(f"/instances/{instance}/file").content
        return files


@contextmanager
def dicomweb_server(
    folder: Path,
    faults: list[str] | None = None,
    stall_seconds: float = 4.0,
    uplink_mbps: float | None = None,
    dicom_port: int | None = None,
    deletion: bool = False,
) -> Iterator[DicomWebServer]:
    """Orthanc behind nginx; with `faults`, a FaultProxy between the two spoils POSTs; with
    `uplink_mbps`, it holds each POST as long as its body would take at that rate; with
    `dicom_port`, Orthanc's own DICOM port (AE title ORTHANC) listens there too; with
    `deletion`, DELETE on a study's DICOMweb URL deletes it (Orthanc's DICOMweb plugin has no
    such verb: nginx routes it to a script in Orthanc's Python plugin)."""
    folder.mkdir(parents=True, exist_ok=True)
    orthanc_port, tls_port, mtls_port = free_port(), free_port(), free_port()
    with ExitStack() as stack:
        stack.enter_context(
            _orthanc(folder / "orthanc", orthanc_port, dicom_port, deletion=deletion)
        )
        upstream = orthanc_port
        if faults is not None or uplink_mbps is not None:
            proxy = FaultProxy(orthanc_port, faults or [], stall_seconds, uplink_mbps)
            upstream = stack.enter_context(proxy).port
        nginx = folder / "nginx"
        ca_file, access_log = stack.enter_context(
            _nginx(nginx, tls_port, mtls_port, upstream, deletion)
        )
        yield DicomWebServer(
            url=f"https://localhost:{tls_port}/dicom-web",
            ca_file=ca_file,
            orthanc=f"http://127.0.0.1:{orthanc_port}",
            access_log=access_log,
            port=tls_port,
            mtls_url=f"https://localhost:{mtls_port}/dicom-web",
            client_cert=nginx / "client.pem",
            client_key=nginx / "client.key",
        )


LOOPBACK_BIND = Path(__file__).with_name("loopback_bind.c")


def _loopback_bind(folder: Path) -> Path:
    """A library that makes a bind to every interface a bind to loopback (Orthanc 1.10 cannot
    be told which address to listen on), built with the machine's C compiler."""
    library = folder / "libloopback_bind.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-o", str(library), str(LOOPBACK_BIND), "-ldl"],
        check=True,
        capture_output=True,
    )
    return library


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp writes them) a TCP port listens on."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: listening
                found.add(address)
    return found


@dataclass
class Pacs:
    """Orthanc as the trust's PACS: its DICOM port on loopback, loaded through its REST API."""

    rest: str
    dicom_port: int

    def upload(self, files: list[Path]) -> None:
        auth = (ORTHANC_USER, ORTHANC_PASSWORD)
        for path in files:
            answer = requests.post(
                f"{self.rest}/instances", data=path.read_bytes(), auth=auth, timeout=30
            )
            answer.raise_for_status()


@contextmanager
def pacs_server(folder: Path, modalities: dict[str, int]) -> Iterator[Pacs]:
    """Orthanc (AE title ORTHANC) as a PACS that knows each AE title in `modalities` as a
    node on 127.0.0.1 at its port, so C-FIND, C-MOVE and C-GET from it are allowed."""
    rest_port, dicom_port = free_port(), free_port()
    with _orthanc(folder, rest_port, dicom_port, modalities):
        yield Pacs(f"http://127.0.0.1:{rest_port}", dicom_port)


@contextmanager
def _orthanc(
    folder: Path,
    port: int,
    dicom_port: int | None = None,
    modalities: dict[str, int] | None = None,
    deletion: bool = False,
) -> Iterator[None]:
    folder.mkdir(parents=True)
    known = {
        title: {"AET": title, "Host": "127.0.0.1", "Port": node}
        for title, node in (modalities or {}).items()
    }
    config = {
        "Name": "bsti-test",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": port,
        "DicomServerEnabled": dicom_port is not None,
        "DicomPort": dicom_port or 4242,
        "DicomAet": "ORTHANC",
        "DicomCheckCalledAet": True,
        "DicomModalities": known,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {ORTHANC_USER: ORTHANC_PASSWORD},
        "Plugins": [DICOMWEB_PLUGIN],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    if deletion:
        script = folder / "study_deletion.py"
        script.write_text(STUDY_DELETION_SCRIPT)
        config["Plugins"] = [DICOMWEB_PLUGIN, PYTHON_PLUGIN]
        config["PythonScript"] = str(script)
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = (folder / "orthanc.log").open("w")
    environment = {**os.environ, "LD_PRELOAD": str(_loopback_bind(folder))}
    process = subprocess.Popen(
        [ORTHANC, str(folder / "orthanc.json")], stdout=log, stderr=log, env=environment
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/system")
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@contextmanager
def _nginx(
    folder: Path, port: int, mtls_port: int, upstream: int, deletion: bool = False
) -> Iterator[tuple[Path, Path]]:
    folder.mkdir(parents=True)
    ca = trustme.CA()
    server_cert = ca.issue_cert("localhost")
    cert, key, ca_file = folder / "server.pem", folder / "server.key", folder / "ca.pem"
    server_cert.cert_chain_pems[0].write_to_path(cert)
    for blob in server_cert.cert_chain_pems[1:]:
        blob.write_to_path(cert, append=True)
    server_cert.private_key_pem.write_to_path(key)
    ca.cert_pem.write_to_path(ca_file)
    client = ca.issue_cert("rx1-upload-client")
    client.cert_chain_pems[0].write_to_path(folder / "client.pem")
    client.private_key_pem.write_to_path(folder / "client.key")
    basic = base64.b64encode(f"{ORTHANC_USER}:{ORTHANC_PASSWORD}".encode()).decode()
    site_basic = base64.b64encode(f"{SITE_USER}:{SITE_PASSWORD}".encode()).decode()
    access_log = folder / "access.log"
    (folder / "nginx.conf").write_text(
        NGINX_CONFIG.format(
            folder=folder,
            port=port,
            mtls_port=mtls_port,
            ca_file=ca_file,
            site_basic=site_basic,
            upstream=upstream,
            cert=cert,
            key=key,
            token=TOKEN,
            basic=basic,
            access_log=access_log,
            deletion=DELETION_ROUTE if deletion else "",
        )
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "stderr.log").open("w"),
    )
    try:
        wait_for(f"https://localhost:{port}/", verify=str(ca_file))
        yield ca_file, access_log
    finally:
        process.terminate()
        process.wait(timeout=30)


DELETION_ROUTE = (
    "if ($request_method = DELETE) { "
    "rewrite ^/dicom-web/studies/([^/]+)$ /bsti-delete/studies/$1 break; }"
)

# Orthanc's Python plugin: DELETE /bsti-delete/studies/UID deletes the study with that UID.
STUDY_DELETION_SCRIPT = """
import json
import orthanc


def delete_study(output, uri, **request):
    if request["method"] != "DELETE":
        output.SendMethodNotAllowed("DELETE")
        return
    query = {"Level": "Study", "Query": {"StudyInstanceUID": request["groups"][0]}}
    found = json.loads(orthanc.RestApiPost("/tools/find", json.dumps(query)))
    if not found:
        output.SendHttpStatusCode(404)
        return
    for study in found:
        orthanc.RestApiDelete("/studies/" + study)
    output.AnswerBuffer(json.dumps({"deleted": len(found)}), "application/json")


orthanc.RegisterRestCallback("/bsti-delete/studies/([^/]+)", delete_study)
"""

NGINX_CONFIG = """
worker_processes 1;
daemon off;
user root;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log {access_log};
  client_body_temp_path {folder}/body;
  proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  map_hash_bucket_size 128;
  map $http_authorization $authorised {{
    "Bearer {token}" 1;
    "Basic {site_basic}" 1;
    default 0;
  }}
  ssl_certificate {cert};
  ssl_certificate_key {key};
  ssl_protocols TLSv1.2 TLSv1.3;
  client_max_body_size 0;
  proxy_request_buffering off;
  proxy_http_version 1.1;
  proxy_read_timeout 300s;
  proxy_set_header Authorization "Basic {basic}";
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name localhost;
    location / {{
      if ($authorised = 0) {{ return 401; }}
      {deletion}
      proxy_pass http://127.0.0.1:{upstream};
    }}
  }}
  server {{
    listen 127.0.0.1:{mtls_port} ssl;
    server_name localhost;
    ssl_client_certificate {ca_file};
    ssl_verify_client on;
    location / {{
      proxy_pass http://127.0.0.1:{upstream};
    }}
  }}
}}
"""


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a stalled handler must not hold up the fixture's teardown

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that goes away mid-request is part of the tests, not news."""


class FaultProxy:
    """An HTTP proxy between nginx and Orthanc that spoils POSTs on cue, one fault per POST in
    order: "reset" (drop the connection mid-body), "503" and "429" (with Retry-After: 1),
    "stall" (answer nothing for `stall_seconds`), "slow" (forward after a second), "401" (the
    token refused, after a second), "garbage" (200 with JSON that is no Store Instances
    Response), or "ok". With `uplink_mbps`, every POST is held as long as
    its body takes at that many megabits a second, one at a time (a trust's uplink, shared)."""

    def __init__(
        self,
        upstream: int,
        faults: list[str],
        stall_seconds: float = 4.0,
        uplink_mbps: float | None = None,
    ) -> None:
        self.upstream, self.faults, self.stall_seconds = upstream, list(faults), stall_seconds
        self.uplink_mbps, self.uplink = uplink_mbps, threading.Lock()
        self.port = free_port()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.forward(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                fault = proxy.faults.pop(0) if proxy.faults else "ok"
                if fault == "reset":
                    self.rfile.read(min(length, 1000))
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                body = self.rfile.read(length)
                if fault == "401":
                    time.sleep(1)  # the run has posted its later batches meanwhile
                if fault in ("503", "429", "401"):
                    self.send_response(int(fault))
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault == "stall":
                    time.sleep(proxy.stall_seconds)
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault == "garbage":
                    self.send_response(200)
                    answer = b'["not", "a", "store response"]'
                    self.send_header("Content-Type", "application/dicom+json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                if fault == "slow":
                    time.sleep(1)
                if proxy.uplink_mbps:
                    with proxy.uplink:  # one link: concurrent requests share its bandwidth
                        time.sleep(len(body) * 8 / (proxy.uplink_mbps * 1e6))
                proxy.forward(self, body)

        self._server = _QuietServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def forward(self, handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=60)
        headers = {key: value for key, value in handler.headers.items() if key.lower() != "host"}
        connection.request(handler.command, handler.path, body=body or None, headers=headers)
        response = connection.getresponse()
        content = response.read()
        handler.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)
        connection.close()

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
