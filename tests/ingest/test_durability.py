"""SIGKILL the server while clients send: every acknowledged event is stored exactly once after restart."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from opsloop.config import Settings
from opsloop.runtime import Runtime
from tests.conftest import free_port


def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OPSLOOP_FLUSH_INTERVAL_MS": "100", "OPSLOOP_SQL_MAX_ROWS": "1000000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsloop.cli.main", "serve", "--data-dir", str(data_dir), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not become healthy")


class Sender(threading.Thread):
    """Sends batches with client-side uuids; remembers what was acknowledged and what is unsure."""

    def __init__(self, url: str, token: str, seed: int) -> None:
        super().__init__(daemon=True)
        self.url, self.token = url, token
        self.rng = random.Random(seed)
        self.acked: set[str] = set()
        self.unsure: list[list[dict[str, object]]] = []  # batches whose request failed mid-flight
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                batch = [
                    {"event": "tick", "distinct_id": f"d{self.rng.randrange(50)}", "uuid": str(uuid.uuid4())}
                    for _ in range(self.rng.randrange(1, 40))
                ]
                try:
                    response = client.post(f"{self.url}/batch/", json={"api_key": self.token, "batch": batch})
                except httpx.HTTPError:
                    self.unsure.append(batch)
                    time.sleep(0.05)
                    continue
                if response.status_code == 200:
                    self.acked.update(str(e["uuid"]) for e in batch)
                else:
                    self.unsure.append(batch)


@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_event(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    setup = Runtime(Settings(data_dir=data_dir))
    project = setup.projects.create("durability")
    setup.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    for round_ in range(3):
        proc = _start(data_dir, port)
        senders = [Sender(url, project.token, seed=round_ * 10 + i) for i in range(4)]
        if round_ == 0:
            all_senders: list[Sender] = []
        for sender in senders:
            sender.start()
        time.sleep(1.0 + random.random())
        proc.send_signal(signal.SIGKILL)  # no chance to flush or close anything
        proc.wait()
        for sender in senders:
            sender.stop.set()
            sender.join()
        all_senders += senders

    acked = set().union(*(s.acked for s in all_senders))
    assert len(acked) > 1000, "the clients should have had many events acknowledged before the kills"

    proc = _start(data_dir, port)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            # Clients retry what they were unsure about, as SDKs do; uuids make that safe.
            retried = 0
            for sender in all_senders:
                for batch in sender.unsure:
                    assert client.post("/batch/", json={"api_key": project.token, "batch": batch}).status_code == 200
                    retried += len(batch)
            deadline = time.monotonic() + 30
            while client.get("/healthz").json()["pending_events"] and time.monotonic() < deadline:
                time.sleep(0.1)
            response = client.post(
                f"/api/projects/{project.project.id}/query",
                json={"kind": "sql", "query": "select uuid::varchar, count(*) from events group by 1"},
                headers={"Authorization": f"Bearer {project.api_key}"},
            )
            assert response.status_code == 200, response.text
            counts = {row[0]: row[1] for row in response.json()["rows"]}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    missing = acked - counts.keys()
    assert not missing, f"{len(missing)} acknowledged events were lost"
    assert all(n == 1 for n in counts.values()), "an event was stored twice"
    unsure_uuids = {str(e["uuid"]) for s in all_senders for b in s.unsure for e in b}
    assert set(counts) == acked | unsure_uuids
