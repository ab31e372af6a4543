"""Load test over HTTP: concurrent uploads, every dataset polled to the end, latency and completion figures."""
from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DONE = ("completed", "failed")


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    p50, p90, p95, p99 = np.percentile(values, [50, 90, 95, 99])
    return {"count": len(values), "p50": round(p50, 4), "p90": round(p90, 4), "p95": round(p95, 4),
            "p99": round(p99, 4), "max": round(max(values), 4)}


@dataclass
class LoadRun:
    base_url: str
    data: bytes
    filename: str = "load.csv"
    mode: str = "fast"
    user_id: str = "load-test"
    headers: dict = field(default_factory=dict)
    timeout: float = 600.0
    poll_every: float = 0.5
    upload_latency: list[float] = field(default_factory=list)
    status_latency: list[float] = field(default_factory=list)
    completion: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    samples: dict = field(default_factory=dict)  # one message per kind of error
    failed: dict = field(default_factory=dict)
    accepted: dict = field(default_factory=dict)  # dataset id -> monotonic time its upload started
    finished: set = field(default_factory=set)
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            session = requests.Session()
            session.headers.update(self.headers)
            # A status poll may land on a keep-alive connection the server is just closing: retry
            # such GETs as any client would. Uploads (POST) are never retried, so they count.
            session.mount("http://", HTTPAdapter(max_retries=Retry(total=2, connect=2, read=2, status=0,
                                                                   allowed_methods={"GET"}, backoff_factor=0.1)))
            self._local.session = session
        return self._local.session

    def upload(self, _n: int) -> None:
        started = time.monotonic()
        try:
            response = self._session().post(f"{self.base_url}/dataset/upload", timeout=120,
                                            files={"file": (self.filename, self.data)},
                                            data={"mode": self.mode, "user_id": self.user_id})
        except requests.RequestException as exc:
            with self._lock:
                self.errors[f"upload: {type(exc).__name__}"] += 1
                self.samples.setdefault(f"upload: {type(exc).__name__}", str(exc)[:300])
            return
        with self._lock:
            self.upload_latency.append(time.monotonic() - started)
            if response.status_code == 202:
                self.accepted[response.json()["dataset_id"]] = started
            else:
                self.errors[f"upload: HTTP {response.status_code}"] += 1

    def poll(self, dataset_id: str) -> None:
        started = time.monotonic()
        try:
            response = self._session().get(f"{self.base_url}/dataset/{dataset_id}/status", timeout=30)
            body = response.json() if response.status_code == 200 else {}
        except (requests.RequestException, ValueError) as exc:
            with self._lock:
                self.errors[f"status: {type(exc).__name__}"] += 1
                self.samples.setdefault(f"status: {type(exc).__name__}", str(exc)[:300])
            return
        now = time.monotonic()
        with self._lock:
            self.status_latency.append(now - started)
            if response.status_code != 200:
                self.errors[f"status: HTTP {response.status_code}"] += 1
            elif body.get("status") in DONE and dataset_id not in self.finished:
                self.finished.add(dataset_id)
                self.completion.append(now - self.accepted[dataset_id])
                if body["status"] == "failed":
                    self.failed[dataset_id] = body.get("error")

    def run(self, num: int, concurrent: int, progress: Callable[[str], None] | None = None) -> dict:
        began = time.monotonic()
        with ThreadPoolExecutor(concurrent) as pool:
            for _ in pool.map(self.upload, range(num)):
                if progress:
                    progress(self._bar(num))
            deadline = time.monotonic() + self.timeout
            while len(self.finished) < len(self.accepted) and time.monotonic() < deadline:
                round_started = time.monotonic()
                list(pool.map(self.poll, [i for i in self.accepted if i not in self.finished]))
                if progress:
                    progress(self._bar(num))
                time.sleep(max(0.0, self.poll_every - (time.monotonic() - round_started)))
        return self.report(num, concurrent, time.monotonic() - began)

    def _bar(self, num: int, width: int = 30) -> str:
        done = len(self.finished)
        filled = int(width * done / num) if num else width
        return (f"[{'#' * filled}{'.' * (width - filled)}] uploaded {len(self.accepted) + sum(self.errors.values())}"
                f"/{num}, finished {done}/{num}, failures {len(self.failed) + sum(self.errors.values())}")

    def report(self, num: int, concurrent: int, wall: float) -> dict:
        unfinished = sorted(set(self.accepted) - self.finished)
        return {
            "requested": num, "concurrent": concurrent, "mode": self.mode, "wall_seconds": round(wall, 3),
            "accepted": len(self.accepted), "completed": len(self.finished) - len(self.failed),
            "failed": self.failed, "unfinished": unfinished, "errors": dict(self.errors),
            "error_samples": self.samples,
            "ok": not (self.errors or self.failed or unfinished) and len(self.accepted) == num,
            "completed_per_second": round((len(self.finished) - len(self.failed)) / wall, 3) if wall else 0.0,
            "upload_latency_s": percentiles(self.upload_latency),
            "status_latency_s": percentiles(self.status_latency),
            "completion_s": percentiles(self.completion),
        }


def render(report: dict) -> str:
    lines = [f"{report['requested']} uploads ({report['mode']}, {report['concurrent']} at a time) in "
             f"{report['wall_seconds']:.1f} s: {report['accepted']} accepted, {report['completed']} completed, "
             f"{len(report['failed'])} failed, {len(report['unfinished'])} unfinished "
             f"({report['completed_per_second']:.2f} completed/s)"]
    for key, label in (("upload_latency_s", "upload latency"), ("status_latency_s", "status latency"),
                       ("completion_s", "upload to finished")):
        p = report[key]
        lines.append(f"  {label:<19} " + ("none" if not p["count"] else
                     f"p50 {p['p50']:.3f} s  p90 {p['p90']:.3f} s  p95 {p['p95']:.3f} s  p99 {p['p99']:.3f} s  "
                     f"max {p['max']:.3f} s  (n={p['count']})"))
    for error, count in report["errors"].items():
        lines.append(f"  error: {error} x{count}")
    for dataset_id, message in report["failed"].items():
        lines.append(f"  failed: {dataset_id}: {message}")
    return "\n".join(lines)


def stderr_progress(line: str) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r" + line)
        sys.stderr.flush()
