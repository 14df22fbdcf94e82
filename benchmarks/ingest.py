"""Ingestion benchmark: HTTP capture against a trivial endpoint, and bulk import from Parquet.

    python benchmarks/ingest.py                  # HTTP (needs `wrk`: apt-get install wrk) and 10M-row import
    python benchmarks/ingest.py --only http --seconds 8 --repeats 3
    python benchmarks/ingest.py --only bulk --rows 10000000

HTTP: one opsloop server process (the real app, plus a trivial endpoint that parses the same JSON and returns
200, served by the same uvicorn) is loaded by `wrk` in another process. Each scenario is reported as
requests/s, events/s and as a ratio to the trivial endpoint measured in the same run. Trivial and capture runs
alternate for a few rounds (paired runs close in time are steadier on a noisy machine) and the median round
is reported; after each capture run the benchmark waits until every acknowledged event is in the events
store and reports that time too. Afterwards the stored event count is checked against what wrk saw
acknowledged.

Bulk: a synthetic Parquet file is imported by `import_file` in a child process whose peak RSS is read from
the kernel; the baseline is DuckDB appending the same file's rows to a bare table (no validation, identity or
de-duplication) in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from fastapi import Request
from fastapi.responses import Response

ROOT = Path(__file__).resolve().parents[1]
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("{body}", "rb")
wrk.body = f:read("*all")
f:close()
"""


# -- server side ----------------------------------------------------------------------------------------------


async def trivial(request: Request) -> Response:
    """The baseline: read and parse the same JSON body, answer 200 (a FastAPI route like the capture ones)."""
    orjson.loads(await request.body())
    return Response(b'{"status":1}', media_type="application/json")


def serve(data_dir: str, port: int) -> None:
    """Run the opsloop app with an added trivial endpoint (same app, same server, same settings)."""
    from opsloop.config import Settings
    from opsloop.web.app import create_app, serve

    app = create_app(Settings(data_dir=Path(data_dir), port=port))
    app.add_api_route("/bench/trivial", trivial, methods=["POST"])
    # Routes are matched in order and the app has hundreds (API, console); the capture routes come first, so
    # the baseline goes first too: otherwise it pays for matching every other route and flatters capture.
    app.router.routes.insert(0, app.router.routes.pop())
    serve(app, host="127.0.0.1", port=port, log_level="warning")  # as `opsloop serve` runs it


# -- HTTP load ------------------------------------------------------------------------------------------------


def _wrk(url: str, body: Path, seconds: int, connections: int) -> dict[str, float]:
    script = body.with_suffix(".lua")
    script.write_text(LUA.format(body=body))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests": requests,
        "rps": rps,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
    }


def _drain(base: str) -> float:
    """Wait until the server has stored every acknowledged event; returns the seconds it took."""
    started = time.monotonic()
    deadline = started + 300
    while httpx.get(f"{base}/healthz").json()["pending_events"] and time.monotonic() < deadline:
        time.sleep(0.05)
    return time.monotonic() - started


def run_http(seconds: int, connections: int, repeats: int) -> dict[str, object]:
    """Load the trivial endpoint and capture with batches of 100 and single events."""
    from opsloop.config import Settings
    from opsloop.runtime import Runtime

    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="opsloop-bench-"))
    data_dir = work / "data"
    setup = Runtime(Settings(data_dir=data_dir))
    project = setup.projects.create("bench")
    setup.close()
    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(data_dir), "--port", str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        event = {
            "event": "$pageview",
            "distinct_id": "user-{i}",
            "properties": {
                "$current_url": "https://shop.example.com/item/42",
                "$browser": "Chrome",
                "$os": "Android",
                "$session_id": "s-123",
                "plan": "pro",
                "price": 19.9,
            },
        }
        batch = {
            "api_key": project.token,
            "batch": [{**event, "distinct_id": f"user-{i % 20}"} for i in range(100)],
        }
        single = {**event, "api_key": project.token}
        bodies = {"batch": work / "batch.json", "single": work / "single.json"}
        bodies["batch"].write_text(json.dumps(batch))
        bodies["single"].write_text(json.dumps(single))
        results: dict[str, dict[str, float]] = {}
        rounds: dict[str, list[dict[str, float]]] = {}
        # Warm up, then alternate trivial and capture runs: on a noisy machine, paired runs close in time
        # give a steadier ratio than one long run each; the median round is reported.
        results["warmup_batch"] = _wrk(f"{base}/batch/", bodies["batch"], 2, connections)
        for _ in range(repeats):
            for shape, per_request in (("batch", 100), ("single", 1)):
                for target, path in (
                    ("trivial", "/bench/trivial"),
                    ("capture", "/batch/" if shape == "batch" else "/capture/"),
                ):
                    _drain(base)  # no backlog from the previous run may run during this one
                    r = _wrk(f"{base}{path}", bodies[shape], seconds, connections)
                    r["events_per_s"] = r["rps"] * per_request
                    if target == "capture":
                        # Acknowledged means durable (in the ingest log); the events store may still be
                        # catching up. Stored throughput counts the time until all of them are queryable.
                        r["drain_s"] = _drain(base)
                        r["stored_events_per_s"] = r["requests"] * per_request / (seconds + r["drain_s"])
                    rounds.setdefault(f"{target}_{shape}", []).append(r)
        ratios: dict[str, list[float]] = {}
        for shape in ("batch", "single"):
            pairs = list(zip(rounds[f"trivial_{shape}"], rounds[f"capture_{shape}"], strict=True))
            ratios[shape] = [capture["rps"] / trivial["rps"] for trivial, capture in pairs]
            median = sorted(range(len(pairs)), key=ratios[shape].__getitem__)[len(pairs) // 2]
            results[f"trivial_{shape}"], results[f"capture_{shape}"] = pairs[median]
        _drain(base)
        stored = httpx.post(
            f"{base}/api/projects/{project.project.id}/query",
            json={"kind": "sql", "query": "select count(*) from events"},
            headers={"Authorization": f"Bearer {project.api_key}"},
            timeout=60,
        ).json()["rows"][0][0]
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    acked = sum(
        (r["requests"] - r["non_2xx"]) * (100 if key.endswith("batch") else 1)
        for key, runs in [*rounds.items(), ("warmup_batch", [results["warmup_batch"]])]
        if key.startswith(("capture", "warmup"))
        for r in runs
    )
    return {"results": results, "ratios": ratios, "stored_events": stored, "acknowledged": acked}


# -- bulk import ------------------------------------------------------------------------------------------------


def make_parquet(path: Path, rows: int, persons: int = 200_000) -> None:
    """A synthetic events file: 10 event names, `persons` ids, 120 days, small JSON properties."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    names = pa.array(
        [
            "$pageview",
            "$screen",
            "view_item",
            "add_to_cart",
            "checkout_started",
            "purchase",
            "content_viewed",
            "content_liked",
            "search",
            "signed_up",
        ]
    )
    start = 1_750_000_000_000_000
    chunk = 1_000_000
    schema = pa.schema(
        [
            ("event", pa.string()),
            ("distinct_id", pa.string()),
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("properties", pa.string()),
        ]
    )
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for offset in range(0, rows, chunk):
            n = min(chunk, rows - offset)
            person = rng.integers(0, persons, n)
            ids = pc.binary_join_element_wise("user-", pc.cast(pa.array(person), pa.string()), "")
            values = pc.cast(pa.array(rng.integers(1, 500, n)), pa.string())
            props = pc.binary_join_element_wise(
                '{"price": ',
                values,
                ', "$session_id": "s-',
                pc.cast(pa.array(person // 3), pa.string()),
                '"}',
                "",
            )
            ts = pa.array(start + np.sort(rng.integers(0, 120 * 86_400_000_000, n)), pa.timestamp("us", tz="UTC"))
            writer.write_table(
                pa.table(
                    {
                        "event": names.take(pa.array(rng.integers(0, 10, n))),
                        "distinct_id": ids,
                        "timestamp": ts,
                        "properties": props,
                    },
                    schema=schema,
                )
            )


def import_child(path: str, data_dir: str) -> None:
    """Child process: import the file, print timings and this process's peak RSS as JSON."""
    from opsloop.config import Settings
    from opsloop.ingest.bulk import import_file
    from opsloop.runtime import Runtime

    runtime = Runtime(Settings(data_dir=Path(data_dir)), importing=True)  # as `opsloop import` opens it
    project = runtime.projects.create("bulk bench")
    summary = import_file(runtime.writer, Path(path), project.project.id)
    runtime.close()
    print(
        json.dumps(
            {
                "rows": summary.rows_read,
                "stored": summary.stored,
                "seconds": summary.seconds,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def baseline_child(path: str, data_dir: str) -> None:
    """Child process: DuckDB appends the file's batches to a bare table (the ceiling for an import)."""
    import duckdb
    import pyarrow.parquet as pq

    con = duckdb.connect(str(Path(data_dir) / "baseline.duckdb"))
    con.execute("CREATE TABLE t (event VARCHAR, distinct_id VARCHAR, ts TIMESTAMPTZ, properties VARCHAR)")
    started = time.perf_counter()
    rows = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=200_000):
        con.register("b", batch)
        con.execute("INSERT INTO t SELECT * FROM b")
        con.unregister("b")
        rows += batch.num_rows
    con.close()
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": time.perf_counter() - started,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def run_bulk(rows: int) -> dict[str, object]:
    """Import `rows` synthetic events from Parquet and compare with the bare-append baseline."""
    work = Path(tempfile.mkdtemp(prefix="opsloop-bulk-"))
    try:
        path = work / "events.parquet"
        started = time.perf_counter()
        make_parquet(path, rows)
        made = time.perf_counter() - started
        out = {}
        for name in ("baseline", "import"):
            data_dir = work / name
            data_dir.mkdir()
            proc = subprocess.run(
                [sys.executable, __file__, f"--{name}-child", str(path), str(data_dir)],
                capture_output=True,
                text=True,
                check=True,
            )
            out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        return {"file_rows": rows, "file_mib": path.stat().st_size / 2**20, "generate_seconds": made, **out}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    """Parse arguments and run the selected parts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["http", "bulk"])
    parser.add_argument("--seconds", type=int, default=8, help="duration of each HTTP run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="alternating trivial/capture rounds per shape")
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows in the bulk-import file")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=18000, help=argparse.SUPPRESS)
    parser.add_argument("--import-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--baseline-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.port)
    if args.import_child:
        return import_child(*args.import_child)
    if args.baseline_child:
        return baseline_child(*args.baseline_child)

    if args.only in (None, "http"):
        http = run_http(args.seconds, args.connections, args.repeats)
        res = http["results"]
        assert isinstance(res, dict) and isinstance(http["ratios"], dict)
        print(
            f"HTTP capture, {args.connections} connections, {args.seconds} s per run, median of {args.repeats} "
            "alternating trivial/capture rounds (wrk, loopback)"
        )
        print(f"{'scenario':<18}{'req/s':>10}{'events/s':>12}{'non-2xx':>9}{'ratio to trivial':>18}")
        for shape in ("batch", "single"):
            trivial = res[f"trivial_{shape}"]
            for target in ("trivial", "capture"):
                r = res[f"{target}_{shape}"]
                ratio = r["rps"] / trivial["rps"]
                print(
                    f"{target + ' ' + shape:<18}{r['rps']:>10,.0f}{r['events_per_s']:>12,.0f}"
                    f"{r['non_2xx']:>9}{ratio:>18.2f}"
                )
            capture = res[f"capture_{shape}"]
            print(
                f"  {shape} ratios by round: {', '.join(f'{x:.2f}' for x in http['ratios'][shape])}; median run stored "
                f"in the events store {capture['drain_s']:.1f} s after its load stopped "
                f"({capture['stored_events_per_s']:,.0f} events/s end to end)"
            )
        print(
            f"stored after the run: {http['stored_events']:,} events; acknowledged by 200s: "
            f"{http['acknowledged']:,} (wrk counts completed requests only, so stored may be slightly higher)"
        )
    if args.only in (None, "bulk"):
        bulk = run_bulk(args.rows)
        base, imp = bulk["baseline"], bulk["import"]
        assert isinstance(base, dict) and isinstance(imp, dict)
        print(f"\nBulk import: {bulk['file_rows']:,} rows, {bulk['file_mib']:.0f} MiB Parquet")
        for name, r in (("bare DuckDB append", base), ("opsloop import", imp)):
            print(
                f"{name:<20} {r['rows'] / r['seconds']:>12,.0f} events/s  {r['seconds']:6.1f} s  "
                f"peak RSS {r['peak_rss_mib']:,.0f} MiB"
            )
        ratio = (imp["rows"] / imp["seconds"]) / (base["rows"] / base["seconds"])
        print(f"import / bare append throughput ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
