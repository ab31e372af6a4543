"""Upload and URL intake: stream to a temp file, enforce limits, guard against SSRF."""
from __future__ import annotations

import ipaddress
import logging
import os
import socket
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterable
from urllib.parse import unquote, urljoin, urlsplit

import requests
from flask import current_app
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from jobs.pipeline.load import EXTENSIONS, FileInfo, FormatError, Limits, LoadError, format_from_name, inspect

from .errors import APIError
from .options import check_roles

log = logging.getLogger(__name__)
CHUNK = 1024 * 1024
MAX_REDIRECTS = 5
STATUS = {"unsupported_format": 415, "too_large_decoded": 413}  # other refusals of a file are 422
CONTENT_TYPES = {
    "text/csv": ".csv", "application/csv": ".csv", "text/tab-separated-values": ".tsv",
    "application/json": ".json", "application/x-ndjson": ".jsonl", "application/jsonl": ".jsonl",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.apache.parquet": ".parquet", "application/x-parquet": ".parquet",
}


@dataclass
class Intake:
    """A received file waiting in scratch space: validated, not yet stored."""

    tmp_path: str
    filename: str
    size: int
    info: FileInfo | None = None
    source_url: str | None = None

    def discard(self) -> None:
        Path(self.tmp_path).unlink(missing_ok=True)


def clean_filename(raw: str | None) -> str:
    """A display name only: it is stored as text and never used as a path."""
    name = PurePosixPath((raw or "").replace("\\", "/")).name.strip()
    name = "".join(ch for ch in name if ch.isprintable())[:255]
    return name or "dataset"


def database_name(filename: str) -> str:
    stem = Path(filename).stem.strip() or "dataset"
    return stem[:200]


def _too_large(limit_mb: int) -> APIError:
    return APIError(413, "too_large", f"The file is larger than the {limit_mb} MB limit.",
                    {"max_upload_mb": limit_mb})


def _spool(chunks: Iterable[bytes], scratch: str, limit_mb: int) -> tuple[str, int]:
    """Write chunks to a temp file, stopping as soon as the size limit is passed."""
    limit = limit_mb * 1024 * 1024
    fd, path = tempfile.mkstemp(dir=scratch, prefix="upload-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit_mb)
                out.write(chunk)
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise
    return path, size


def receive_upload(stream: BinaryIO, filename: str | None, scratch: str, limit_mb: int) -> Intake:
    name = clean_filename(filename)
    path, size = _spool(iter(lambda: stream.read(CHUNK), b""), scratch, limit_mb)
    return Intake(tmp_path=path, filename=name, size=size)


def check_url(url: str, allow_private: bool) -> None:
    """Refuse non-HTTP schemes and hosts that resolve to private, loopback or link-local addresses.

    `allow_private` (tests, trusted networks) admits private and loopback, never link-local.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise APIError(400, "invalid_url", "Only http and https URLs are accepted.", {"scheme": parts.scheme})
    try:
        port = parts.port
    except ValueError as exc:
        raise APIError(400, "invalid_url", "The URL's port is not a number.") from exc
    if not parts.hostname:
        raise APIError(400, "invalid_url", "The URL has no host.")
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise APIError(422, "fetch_failed", f"Cannot resolve host {parts.hostname!r}.") from exc
    for info in infos:
        check_address(info[4][0], allow_private, parts.hostname)


NAT64 = ipaddress.ip_network("64:ff9b::/96")
REFUSED_TYPES = ("text/html", "application/xhtml+xml", "image/", "audio/", "video/", "application/pdf",
                 "application/javascript", "text/javascript", "text/css", "font/")


def embedded_ipv4(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4, Teredo) and reaches in the end."""
    if address.version != 6:
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour or (address.teredo[1] if address.teredo else None)


def check_address(ip: str, allow_private: bool, host: str) -> None:
    """Refuse what is not a public unicast address. IPv4 hidden in IPv6 is judged as that IPv4.

    Names in decimal (2130706433), octal (0177.0.0.1) or hex (0x7f.1) are resolved to dotted
    addresses before they get here, so they are judged like any other.
    """
    address = ipaddress.ip_address(ip.split("%")[0])
    inner = embedded_ipv4(address)
    candidate = inner if inner is not None else address  # the wrapper's own range (::ffff:0:0/96…) says nothing
    # Link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified are
    # refused even when private addresses are allowed (::1 sits in reserved ::/8 but is loopback).
    never = (candidate.is_link_local or candidate.is_multicast or candidate.is_unspecified
             or (candidate.is_reserved and not candidate.is_loopback))
    if never or (not candidate.is_global and not allow_private):
        raise APIError(400, "forbidden_url", "The URL points to a private, loopback, link-local, multicast or "
                       "reserved address.", {"host": host})


def check_content_type(content_type: str) -> None:
    """A web page, an image or a PDF is not a dataset: refuse it before downloading the body."""
    kind = content_type.split(";")[0].strip().lower()
    if kind and kind.startswith(REFUSED_TYPES):
        raise APIError(415, "unsupported_format", f"The URL serves {kind}, not a data file.",
                       {"content_type": kind})


def guarded_session(allow_private: bool, sockets: list | None = None) -> requests.Session:
    """A session whose every connection checks the address it actually reached.

    Checking the name before the request is not enough: DNS may answer a public address
    to the check and a private one to the connection (rebinding). Connected sockets are
    added to `sockets` so a watchdog can shut them down.
    """
    def guard(base):
        class Guarded(base):
            def connect(self):
                super().connect()
                try:
                    check_address(self.sock.getpeername()[0], allow_private, self.host)
                except APIError:
                    self.close()
                    raise
                if sockets is not None:
                    sockets.append(self.sock)
        return Guarded

    class Pool(HTTPConnectionPool):
        ConnectionCls = guard(HTTPConnection)

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = guard(HTTPSConnection)

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": SecurePool}

    session = requests.Session()
    session.trust_env = False  # an HTTP(S)_PROXY from the environment would bypass the connection check
    session.mount("http://", Adapter())
    session.mount("https://", Adapter())
    return session


def url_filename(url: str) -> str:
    """The display name a URL's path gives (before a download may add an extension from its type)."""
    return clean_filename(unquote(urlsplit(url).path))


def check_columns(info: FileInfo, target: str | None, roles: dict[str, str]) -> None:
    """422 when the upload's target or roles name a column the file does not have."""
    if target is not None and target not in info.column_names:
        raise APIError(422, "unknown_target", f"target {target!r} is not a column of the dataset.",
                       {"columns": info.column_names[:100]})
    check_roles(roles, info.column_names)


def _name_from_response(url: str, response: requests.Response) -> str:
    name = url_filename(url)
    if format_from_name(name) is None:
        ctype = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype in CONTENT_TYPES:
            name = (Path(name).stem if name != "dataset" else "dataset") + CONTENT_TYPES[ctype]
    return name


class _Watchdog:
    """Cuts a download at its deadline: a server trickling bytes never trips the per-read timeout."""

    def __init__(self, seconds: int, sockets: list):
        self.sockets, self.expired = sockets, threading.Event()
        self.timer = threading.Timer(seconds, self._expire)
        self.timer.daemon = True

    def _expire(self) -> None:
        # shutdown() wakes a thread blocked in recv(); close() alone would not.
        self.expired.set()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _follow(session: requests.Session, url: str, allow_private: bool) -> tuple[requests.Response, str]:
    """The response at the end of the redirects (each hop's address checked again) and its URL."""
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        check_url(current, allow_private)
        response = session.get(current, stream=True, allow_redirects=False, timeout=(5, 15))
        if not response.is_redirect:
            return response, current
        current = urljoin(current, response.headers["Location"])
        response.close()
    raise APIError(422, "fetch_failed", f"More than {MAX_REDIRECTS} redirects.")


def _check_response(response: requests.Response, limit_mb: int) -> None:
    if response.status_code != 200:
        raise APIError(422, "fetch_failed", f"The URL answered HTTP {response.status_code}.",
                       {"status": response.status_code})
    check_content_type(response.headers.get("Content-Type", ""))
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > limit_mb * 1024 * 1024:
        raise _too_large(limit_mb)


def fetch_url(url: str, scratch: str, limit_mb: int, timeout: int, allow_private: bool) -> Intake:
    """Download a dataset over http(s), re-checking every redirect hop, capped in size and time."""
    sockets: list = []
    session = guarded_session(allow_private, sockets)
    watchdog = _Watchdog(timeout, sockets)
    expired = watchdog.expired
    watchdog.timer.start()
    try:
        response, current = _follow(session, url, allow_private)
        _check_response(response, limit_mb)

        def chunks():
            for chunk in response.iter_content(CHUNK):
                if expired.is_set():
                    break
                yield chunk

        path, size = _spool(chunks(), scratch, limit_mb)
        if expired.is_set():
            Path(path).unlink(missing_ok=True)
            raise APIError(422, "fetch_failed", f"The download took longer than {timeout} s.")
        return Intake(tmp_path=path, filename=_name_from_response(current, response), size=size, source_url=url)
    except (requests.RequestException, OSError, AttributeError, ValueError) as exc:
        if expired.is_set():
            raise APIError(422, "fetch_failed", f"The download took longer than {timeout} s.") from exc
        raise APIError(422, "fetch_failed", f"Could not download the URL: {type(exc).__name__}.") from exc
    finally:
        watchdog.timer.cancel()
        session.close()


def validate(intake: Intake, max_rows: int, max_columns: int) -> FileInfo:
    """Count the file's rows and columns within the limits, without building a frame; 413/415/422 with
    the limit's code otherwise. MAX_COLUMN_NAME and MAX_XLSX_CELLS come from the app's config."""
    if intake.size == 0:
        raise APIError(422, "unparseable", "The file is empty.")
    suffix = Path(intake.filename).suffix.lower()
    if suffix and suffix not in EXTENSIONS:
        raise APIError(415, "unsupported_format", f"Files of type {suffix!r} are not supported.",
                       {"supported": sorted(set(EXTENSIONS))})
    config = current_app.config
    limits = Limits(rows=max_rows, columns=max_columns, name_chars=config["MAX_COLUMN_NAME"],
                    xlsx_cells=config["MAX_XLSX_CELLS"])
    try:
        info = inspect(intake.tmp_path, intake.filename, limits)
    except LoadError as exc:
        # The user reads the plain reason; the parser's own words (they may quote the file) go to the log.
        log.info("file %r refused (%s): %s; cause: %.300r", intake.filename, exc.code, exc, exc.__cause__)
        details = {"supported": sorted(set(EXTENSIONS))} if isinstance(exc, FormatError) else exc.details
        raise APIError(STATUS.get(exc.code, 422), exc.code, str(exc), details) from exc
    intake.info = info
    return info
