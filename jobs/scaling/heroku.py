"""Heroku backend: worker dynos scaled through the Platform API's formation endpoint."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import requests
from redis import Redis
from rq import Queue, Worker

log = logging.getLogger(__name__)
ACCEPT = "application/vnd.heroku+json; version=3"


class HerokuError(RuntimeError):
    """The Platform API could not be reached or refused a request."""


def parse_process_types(spec: str, queues: tuple[str, ...]) -> dict[str, str]:
    """'eda_fast=worker,eda_deep=deepworker' -> {queue: process type}; queues not named use 'worker'."""
    mapping = dict.fromkeys(queues, "worker")
    for pair in filter(None, (p.strip() for p in spec.split(","))):
        queue, sep, process_type = pair.partition("=")
        if not sep or queue not in mapping or not re.fullmatch(r"[a-z0-9_-]+", process_type):
            raise ValueError(f"HEROKU_PROCESS_TYPES wants QUEUE=TYPE pairs for {', '.join(queues)}; got {pair!r}")
        mapping[queue] = process_type
    return mapping


@dataclass
class HerokuBackend:
    """Sets the formation quantity per process type; Heroku starts, stops and restarts the dynos.

    Heroku removes the highest-numbered dynos when a formation shrinks, so we only shrink by
    as many dynos as are idle at the top of the numbering: a busy dyno is never cut. Workers
    name themselves after their dyno (`worker.3.<random>`, from $DYNO), which is how we match
    RQ's view to dyno numbers. Queues sharing a process type get the largest of their wishes.
    """

    connection: Redis
    api_key: str
    app_name: str
    process_types: dict[str, str]
    base_url: str = "https://api.heroku.com"
    timeout: float = 10.0
    session: requests.Session = field(default_factory=requests.Session)
    wanted: dict[str, int] = field(default_factory=dict)

    def _formation(self, process_type: str, quantity: int | None = None) -> int:
        url = f"{self.base_url.rstrip('/')}/apps/{self.app_name}/formation/{process_type}"
        headers = {"Accept": ACCEPT, "Authorization": f"Bearer {self.api_key}"}
        try:
            if quantity is None:
                response = self.session.get(url, headers=headers, timeout=self.timeout)
            else:
                response = self.session.patch(url, headers=headers, json={"quantity": quantity}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise HerokuError(f"Heroku API unreachable: {exc}") from exc
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise HerokuError(f"Heroku API refused {process_type} formation ({response.status_code}): {message}")
        return int(response.json()["quantity"])

    def _dynos(self, queue: str) -> tuple[int, dict[int, str]]:
        """The formation's quantity and RQ's state of each numbered dyno listening on `queue`."""
        process_type = self.process_types[queue]
        quantity = self._formation(process_type)
        pattern = re.compile(rf"{re.escape(process_type)}\.(\d+)\.")
        latest: dict[int, Worker] = {}
        for worker in Worker.all(queue=Queue(queue, connection=self.connection)):
            match = pattern.match(worker.name)
            number = int(match.group(1)) if match else 0
            if 0 < number <= quantity and (number not in latest or
                                           (worker.birth_date or 0) > (latest[number].birth_date or 0)):
                latest[number] = worker  # a restarted dyno may leave its predecessor's record for a while
        return quantity, {n: (latest[n].get_state() if n in latest else "starting") for n in range(1, quantity + 1)}

    def states(self, queue: str) -> dict[str, str]:
        _quantity, dynos = self._dynos(queue)
        return {f"{self.process_types[queue]}.{n}": state for n, state in dynos.items()}

    def _scale(self, queue: str, wish: int, current: int) -> int:
        self.wanted[queue] = wish
        process_type = self.process_types[queue]
        target = max(w for q, w in self.wanted.items() if self.process_types[q] == process_type)
        if target != current:
            log.info("scaling %s dynos %d -> %d", process_type, current, target)
            self._formation(process_type, target)
        return target

    def start(self, queue: str, count: int) -> list[str]:
        current = self._formation(self.process_types[queue])
        target = self._scale(queue, current + count, current)
        return [f"{self.process_types[queue]}.{n}" for n in range(current + 1, target + 1)]

    def stop_idle(self, queue: str, count: int) -> list[str]:
        current, dynos = self._dynos(queue)
        top = 0
        while top < count and dynos.get(current - top) == "idle":
            top += 1
        target = self._scale(queue, current - top, current) if top else current
        return [f"{self.process_types[queue]}.{n}" for n in range(target + 1, current + 1)]

    def reap(self) -> list[str]:
        return []  # Heroku restarts crashed dynos; their jobs come back through heartbeat recovery

    def stop_all(self, deadline: float | None = None) -> list[str]:
        return []  # the dynos belong to the formation, not to this process: leave them running
