"""DICOMweb STOW-RS client (PS3.18 10.5): streamed multipart batches, per-instance results,
bounded retries, verified TLS.

Delivery is judged per instance from the Store Instances Response, never from the status code
alone: a server may answer 400 while storing the good parts of a batch.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from .. import __version__
from ..errors import ConfigError, EndpointError

_REFERENCED_SOP = "00081199"
_FAILED_SOP = "00081198"
_SOP_INSTANCE = "00081155"
_RETRIEVE_URL = "00081190"
_FAILURE_REASON = "00081197"
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Endpoint:
    """Where and how to send. Secrets live here only, and never in its repr."""

    base_url: str
    ca_bundle: Path | None = None
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_cert: Path | None = None
    client_key: Path | None = None
    connect_timeout: float = 15.0
    idle_timeout: float = 120.0  # seconds without a byte from the server, not the whole exchange
    retries: int = 5
    backoff: float = 1.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.username or parts.password:
            raise ConfigError("put credentials in the token or password settings, not the URL")
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigError(f"{self.base_url} is not an https:// URL")


@dataclass(frozen=True)
class Outcome:
    """What became of one instance in one request."""

    sop: str
    stored: bool
    reason: str = ""
    retry: bool = False
    retrieve_url: str = ""  # where the server says it keeps the instance, if it says


class MultipartBody:
    """A multipart/related body read from files as it is sent: memory does not grow with the
    batch. Its length is known up front, so no chunked encoding is needed."""

    def __init__(self, files: list[Path]) -> None:
        self.boundary = uuid.uuid4().hex
        self.content_type = f'multipart/related; type="application/dicom"; boundary={self.boundary}'
        self._files = files
        self._head = f"--{self.boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        self._tail = f"--{self.boundary}--\r\n".encode()
        sizes = sum(path.stat().st_size for path in files)
        self._length = sizes + len(files) * (len(self._head) + 2) + len(self._tail)
        self._chunks = self._generate()
        self._buffer = b""

    def __len__(self) -> int:
        return self._length

    def _generate(self) -> Iterator[bytes]:
        for path in self._files:
            yield self._head
            with path.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    yield chunk
            yield b"\r\n"
        yield self._tail

    def read(self, size: int = -1) -> bytes:
        """File-like reading, as requests streams a body."""
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


class StowClient:
    """Sends batches of one study's instances and says, per instance, what was stored."""

    def __init__(self, endpoint: Endpoint, sleep: Callable[[float], None] = time.sleep) -> None:
        self.endpoint = endpoint
        self._sleep = sleep
        self._session = requests.Session()
        self._session.headers["User-Agent"] = f"bsti-submit/{__version__}"  # who is calling
        if endpoint.token:
            self._session.headers["Authorization"] = f"Bearer {endpoint.token}"
        elif endpoint.username:
            self._session.auth = (endpoint.username, endpoint.password or "")
        if endpoint.client_cert:
            key = str(endpoint.client_key) if endpoint.client_key else None
            self._session.cert = (
                (str(endpoint.client_cert), key) if key else str(endpoint.client_cert)
            )

    def close(self) -> None:
        self._session.close()

    def another(self) -> StowClient:
        """A client of its own to the same endpoint, for a second connection (a session is not
        shared between threads)."""
        return StowClient(self.endpoint, self._sleep)

    def _request(self, method: str, url: str, **options: Any) -> requests.Response:
        """One exchange. The CA bundle is passed with every request: a session-wide `verify`
        would be overridden by REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE."""
        verify: str | bool = str(self.endpoint.ca_bundle) if self.endpoint.ca_bundle else True
        timeout = (self.endpoint.connect_timeout, self.endpoint.idle_timeout)
        try:
            return self._session.request(
                method, url, verify=verify, timeout=timeout, allow_redirects=False, **options
            )
        except requests.exceptions.SSLError as error:
            reason = _tls_reason(error)
            hint = _TLS_HINTS.get(reason, "")
            raise EndpointError(f"TLS failed with {_host(url)}: {reason}{hint}") from error

    def check(self) -> str:
        """A harmless QIDO-RS query that proves TLS, authentication and the base path."""
        url = f"{self.endpoint.base_url.rstrip('/')}/studies?limit=1"
        try:
            response = self._request("GET", url, headers={"Accept": "application/dicom+json"})
        except requests.exceptions.ProxyError as error:
            raise EndpointError(f"the proxy refused the connection to {_host(url)}") from error
        except requests.exceptions.RequestException as error:
            raise EndpointError(f"cannot reach {_host(url)}: {_unreachable(error)}") from error
        _raise_for_access(response, url)
        if response.status_code not in (200, 204):
            raise EndpointError(f"{url}: the server answered {response.status_code}")
        return f"{_host(url)} answered a DICOMweb query (HTTP {response.status_code})"

    def delete_study(self, study_uid: str) -> str:
        """Ask the endpoint to delete a study (DELETE on the study's DICOMweb URL, where the
        server supports it): what it answered, "deleted" or "not found" (gone already); an
        EndpointError if it refused or cannot delete."""
        url = f"{self.endpoint.base_url.rstrip('/')}/studies/{study_uid}"
        try:
            response = self._request("DELETE", url)
        except requests.exceptions.RequestException as error:
            raise EndpointError(f"cannot reach {_host(url)}: {_unreachable(error)}") from error
        if response.status_code == 404:
            return "not found"
        _raise_for_access(response, url)
        if response.status_code in (405, 501):
            raise EndpointError(
                f"{_host(url)} does not support DICOMweb study deletion (HTTP "
                f"{response.status_code}): send the withdrawal request to the collection"
            )
        if response.status_code not in (200, 202, 204):
            raise EndpointError(f"{url}: the server answered {response.status_code}")
        return "deleted"

    def store(self, study_uid: str, files: dict[str, Path]) -> list[Outcome]:
        """Send one batch (SOP instance UID -> cleaned file), retrying what may be retried; the
        outcome of every instance."""
        pending = dict(files)
        outcomes: dict[str, Outcome] = {}
        for attempt in range(self.endpoint.retries + 1):
            results, wait = self._attempt(study_uid, pending)
            for result in results:
                outcomes[result.sop] = result
            pending = {sop: pending[sop] for sop in pending if outcomes[sop].retry}
            if not pending or attempt == self.endpoint.retries:
                break
            self._sleep(wait if wait is not None else self._backoff(attempt))
        return [outcomes[sop] for sop in files]

    def _backoff(self, attempt: int) -> float:
        return float(self.endpoint.backoff * 2**attempt * (0.5 + random.random()))  # noqa: S311

    def _attempt(
        self, study_uid: str, files: dict[str, Path]
    ) -> tuple[list[Outcome], float | None]:
        url = f"{self.endpoint.base_url.rstrip('/')}/studies/{study_uid}"
        body = MultipartBody(list(files.values()))
        headers = {"Content-Type": body.content_type, "Accept": "application/dicom+json"}
        try:
            response = self._request("POST", url, data=body, headers=headers)
        except requests.exceptions.RequestException as error:
            reason = f"transport error: {_unreachable(error)}"
            return [Outcome(sop, False, reason, retry=True) for sop in files], None
        _raise_for_access(response, url)
        if response.status_code in _RETRY_STATUSES:
            reason = f"HTTP {response.status_code}"
            wait = _retry_after(response)
            return [Outcome(sop, False, reason, retry=True) for sop in files], wait
        return _read_response(response, list(files)), None


def _host(url: str) -> str:
    return urlsplit(url).netloc


# What to do about the usual TLS failures: most are a trust's own CA (a TLS-inspecting proxy).
_OWN_CA = "; if the trust inspects TLS, give its CA certificate with --ca-bundle FILE"
_TLS_HINTS = {
    "self-signed certificate": _OWN_CA,
    "unable to get local issuer": _OWN_CA,
    "the certificate could not be verified": _OWN_CA,
    "certificate has expired": "; the server's certificate must be renewed (tell the collection)",
    "Hostname mismatch": "; check the host name in the URL",
    "doesn't match": "; check the host name in the URL",
}


def _unreachable(error: Exception) -> str:
    """Why a connection failed, in words that point at the fix: a name that does not resolve
    (a typing mistake, or no DNS), a refused connection (wrong port, server down), a timeout."""
    text = repr(error)
    if isinstance(error, requests.exceptions.Timeout):
        return "no answer in time (a firewall, or the server is down)"
    if (
        "NameResolutionError" in text
        or "Name or service not known" in text
        or "getaddrinfo" in text
    ):
        return "the host name does not resolve (check its spelling, or this machine's DNS)"
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return "the connection was refused (check the port, or whether the server is up)"
    return type(error).__name__


def _tls_reason(error: Exception) -> str:
    text = str(error)
    for known in (
        "certificate has expired",
        "self-signed certificate",
        "unable to get local issuer",
        "Hostname mismatch",
        "doesn't match",
        "wrong version number",
        "unsupported protocol",
        "no protocols available",
    ):
        if known.lower() in text.lower():
            return known
    return "the certificate could not be verified"


def _raise_for_access(response: requests.Response, url: str) -> None:
    """Failures that no retry and no other instance can mend stop the run."""
    status = response.status_code
    if 300 <= status < 400:
        raise EndpointError(f"{url}: the server redirected the request ({status}); not followed")
    if status in (401, 403):
        raise EndpointError(
            f"{url}: authentication refused ({status}): check the token or password"
        )
    if status == 404:
        raise EndpointError(f"{url}: not found (404): check the DICOMweb base path")


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return min(float(value), 300.0) if value.isdigit() else None


def _read_response(response: requests.Response, sops: list[str]) -> list[Outcome]:
    """Per-instance outcomes from a Store Instances Response (any status code)."""
    try:
        document = response.json() if response.content else {}
    except (json.JSONDecodeError, ValueError):
        document = {}
    if isinstance(document, list):
        document = document[0] if document else {}
    try:
        stored = {_sop_of(item): _retrieve_url(item) for item in _items(document, _REFERENCED_SOP)}
        failed = {_sop_of(item): _failure(item) for item in _items(document, _FAILED_SOP)}
    except (AttributeError, TypeError, IndexError, KeyError, ValueError):
        # not a Store Instances Response (a proxy's page, say): nothing is acknowledged
        stored, failed = {}, {}
    outcomes = []
    for sop in sops:
        if sop in stored:
            outcomes.append(Outcome(sop, True, retrieve_url=stored[sop]))
        elif sop in failed:
            code = failed[sop]
            outcomes.append(
                Outcome(sop, False, f"failure reason {code:04X}", retry=code >> 8 == 0xA7)
            )
        else:
            reason = f"not acknowledged (HTTP {response.status_code})"
            retry = response.status_code >= 500
            outcomes.append(Outcome(sop, False, reason, retry=retry))
    return outcomes


def _items(document: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    return list(document.get(tag, {}).get("Value", []))


def _sop_of(item: dict[str, Any]) -> str:
    return str(item.get(_SOP_INSTANCE, {}).get("Value", [""])[0])


def _retrieve_url(item: dict[str, Any]) -> str:
    values = item.get(_RETRIEVE_URL, {}).get("Value", [])
    return str(values[0]) if values else ""


def _failure(item: dict[str, Any]) -> int:
    return int(item.get(_FAILURE_REASON, {}).get("Value", [0x0110])[0])
