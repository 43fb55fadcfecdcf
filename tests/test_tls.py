"""TLS refusals against local servers: expired, self-signed, wrong host, weak protocol."""

from __future__ import annotations

import datetime
import http.server
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme
from click.testing import Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bsti_submit.errors import ExitStatus

from .helpers import run
from .servers import free_port


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def tls_server(cert: Path, key: Path, newest: ssl.TLSVersion | None = None) -> Iterator[int]:
    """A DICOMweb-ish server on loopback with the given certificate (and protocol ceiling)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if newest is not None:
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = newest
    context.load_cert_chain(cert, key)
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Answer)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


def issued(tmp_path: Path, **options: object) -> tuple[Path, Path, Path]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", **options)  # type: ignore[arg-type]
    cert, key, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(cert)
    leaf.private_key_pem.write_to_path(key)
    ca.cert_pem.write_to_path(ca_file)
    return cert, key, ca_file


def check(port: int, ca_file: Path) -> Result:
    return run("check-endpoint", f"https://localhost:{port}/dicom-web", "--ca-bundle", str(ca_file))


def test_a_good_server_passes(tmp_path: Path) -> None:
    cert, key, ca_file = issued(tmp_path)
    with tls_server(cert, key) as port:
        assert check(port, ca_file).exit_code == ExitStatus.SUCCESS


def test_an_expired_certificate_is_refused(tmp_path: Path) -> None:
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert, key, ca_file = issued(tmp_path, not_before=past, not_after=past + datetime.timedelta(1))
    with tls_server(cert, key) as port:
        result = check(port, ca_file)
    assert result.exit_code == ExitStatus.ENDPOINT and "certificate has expired" in result.output


def test_a_self_signed_certificate_is_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "self.pem", tmp_path / "self.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "other").mkdir()
    _, _, other_ca = issued(tmp_path / "other")  # a CA we trust, which did not sign it
    with tls_server(cert_file, key_file) as port:
        result = check(port, other_ca)
    assert result.exit_code == ExitStatus.ENDPOINT and "self-signed certificate" in result.output


def test_a_wrong_host_name_is_refused(tmp_path: Path) -> None:
    cert, key, ca_file = issued(tmp_path)
    with tls_server(cert, key) as port:
        result = run(
            "check-endpoint", f"https://127.0.0.1:{port}/dicom-web", "--ca-bundle", str(ca_file)
        )
    assert result.exit_code == ExitStatus.ENDPOINT and "TLS failed" in result.output


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("newest", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_protocols_older_than_tls_1_2_are_refused(tmp_path: Path, newest: ssl.TLSVersion) -> None:
    cert, key, ca_file = issued(tmp_path)
    with tls_server(cert, key, newest) as port:
        result = check(port, ca_file)
    assert result.exit_code == ExitStatus.ENDPOINT and "TLS failed" in result.output
