"""Benchmark: hostile inputs cost time linear in their size and bounded memory (issue 21).

    python bench/hostile_inputs.py [--mb 1] [--quick]

- Adversarial lines of `--mb` MB through the whole .osu parser (the [Events] break line that made the old
  BREAK_RE backtrack cubically, header/key/section runs): each must parse within a generous bar, against
  md5 of the same bytes as the linear-time peer.
- Peak RSS of one process downloading, over real loopback HTTP from the sandbox, a gzip body that inflates
  to 1 GiB and a 1 GiB body without a Content-Length, against the same process downloading a real .osu.
- Peak RSS of `kiai ingest` (the largest of its processes) on an .osz whose member says 1 KB and inflates
  to 200 MB, and on a folder of dense files (4.8 M hit-object lines), against ingesting the fixtures.
- How long a server trickling one byte every 0.5 s holds a request with a 2 s deadline.

Each measurement runs in its own process, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from _figures import emit, figure  # bench/_figures.py: figures for `python -m bench`
from _process import measure  # bench/_process.py: a child's seconds, CPU seconds and true peak RSS

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
PARSE_BAR_SECONDS = 1.0  # linear code takes milliseconds per MB; the old BREAK_RE needed hours
RSS_BAR_MB = 600.0  # bounded whatever the files hold: main needed 1,558 MB for the dense folder

DOWNLOAD = """
import json, sys
from pathlib import Path
from kiai.sandbox import SandboxServer, world_from_fixtures
from kiai.sources.http import HttpClient, SourceError
from kiai.sources.settings import Pacing, RetryPolicy

fault, options = sys.argv[1], json.loads(sys.argv[2])
with SandboxServer(world_from_fixtures(Path(sys.argv[3]))) as server:
    if fault != "none":
        server.inject(fault, path="/osu/", **options)
    http = HttpClient(Pacing(0, 0, 0, None), RetryPolicy(max_retries=0, deadline=float(sys.argv[4])))
    try:
        outcome = f"{len(http.request('GET', f'{server.base_url}/osu/1028484', max_bytes=16 << 20).content)} bytes"
    except SourceError as exc:
        outcome = type(exc).__name__
    print(outcome)
"""


def adversarial_lines(mb: int) -> dict[str, bytes]:
    n = mb * 2**20 // 2
    return {
        "[Events] 2,<spaces>a<spaces>b": b"osu file format v14\n[Events]\n2," + b" " * n + b"a" + b" " * n + b"b\n",
        "key followed by spaces": b"[General]\nMode" + b" " * (2 * n) + b":\n",
        "section headers [a]": b"[a]\n" * (n // 2),
        "a line of [": b"[" * (2 * n),
        "version digits": b"osu file format v" + b"9" * (2 * n),
        "slider curve bytes": b"[HitObjects]\n1,1,1,2,0,B|" + bytes(range(128, 256)) * (2 * n // 128) + b",1,1\n",
    }


def time_parse(cases: dict[str, bytes]) -> list[tuple[str, float, float]]:
    from kiai.osu import parse_batch

    results = []
    for name, data in cases.items():
        started = time.perf_counter()
        parse_batch([data], max_objects=500_000)
        parsed = time.perf_counter() - started
        started = time.perf_counter()
        hashlib.md5(data).hexdigest()
        results.append((name, parsed, time.perf_counter() - started))
    return results


def download(fault: str, options: dict, deadline: float = 300.0) -> tuple[dict, float]:
    """The outcome of one download in a child process (its size, or the error's type), its peak RSS (MiB) and the
    child's wall seconds."""
    command = [sys.executable, "-c", DOWNLOAD, fault, json.dumps(options), str(FIXTURES), str(deadline)]
    run = measure(command, cwd=ROOT)
    return {"outcome": run.stdout.splitlines()[-1], "rss_mb": run.peak_rss_mib}, run.seconds


def ingest_rss(tmp: Path, name: str, inputs: list[Path]) -> tuple[float, str]:
    """Peak RSS (MiB) of the largest process of one `kiai ingest` run, and its summary line."""
    command = [sys.executable, "-m", "kiai", "--db", str(tmp / f"{name}.duckdb"), "ingest", "osu-files"]
    # check=False: what matters is its memory, whatever its exit status says of the hostile files
    run = measure([*command, *map(str, inputs)], env={**os.environ, "COLUMNS": "250"}, check=False)
    return run.peak_rss_mib, run.stdout.strip().splitlines()[-1]


def zip_bomb(path: Path, inflated: int) -> Path:
    """An .osz whose one member declares 1,000 bytes and inflates to `inflated` bytes of hit objects."""
    body = b"osu file format v14\n[HitObjects]\n" + b"1,1,1,1,0\n" * (inflated // 10)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.osu", body)
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature)
        data[at + offset : at + offset + 4] = (1000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=1, help="size of each adversarial line")
    parser.add_argument("--quick", action="store_true", help="smaller bombs")
    args = parser.parse_args()
    figures = []

    for name, seconds, md5_seconds in time_parse(adversarial_lines(args.mb)):
        print(f"parse {args.mb} MB of {name}: {seconds * 1000:.1f} ms (md5 of it: {md5_seconds * 1000:.1f} ms)")
        figures.append(
            figure(f"parse {args.mb} MB: {name}", seconds, "s", peer="bar", peer_value=PARSE_BAR_SECONDS, at_most=1)
        )

    inflated = 2**28 if args.quick else 2**30
    normal, _ = download("none", {})
    for label, fault, options in (
        ("gzip body inflating to", "gzip_bomb", {"size": inflated}),
        ("undeclared body of", "huge", {"size": inflated, "declared": False}),
    ):
        result, seconds = download(fault, options)
        print(
            f"download a {label} {inflated >> 20} MB: {result['outcome']}, peak RSS {result['rss_mb']:.0f} MB "
            f"in {seconds:.1f} s (a real .osu: {normal['rss_mb']:.0f} MB)"
        )
        figures.append(
            figure(
                f"peak RSS: download a {label} {inflated >> 20} MB",
                result["rss_mb"],
                "MB",
                peer="downloading a real .osu",
                peer_value=normal["rss_mb"],
                at_most=2,
            )
        )
    trickle, seconds = download("trickle", {"seconds": 0.5}, deadline=2.0)
    print(f"a server trickling a byte every 0.5 s, 2 s deadline: {trickle['outcome']} after {seconds:.1f} s")
    figures.append(figure("trickling server, 2 s deadline: run held for", seconds, "s", at_most=10, on="value"))

    with tempfile.TemporaryDirectory(prefix="kiai-bench-") as tmp_name:
        tmp = Path(tmp_name)
        bomb = zip_bomb(tmp / "bomb.osz", inflated // 5)
        dense = tmp / "dense"
        dense.mkdir()
        for i in range(12):
            (dense / f"d{i}.osu").write_bytes(b"osu file format v14\n[HitObjects]\n" + b"%d,1,1,1,0\n" % i * 400_000)
        baseline, _ = ingest_rss(tmp, "fixtures", [FIXTURES / "osu"])
        for name, label, inputs in (
            ("bomb", f"an .osz member inflating to {inflated // 5 >> 20} MB", [bomb]),
            ("dense", "12 dense files, 4.8 M hit objects", [dense]),
        ):
            rss, line = ingest_rss(tmp, name, inputs)
            print(f"kiai ingest {label}: peak RSS {rss:.0f} MB (the fixtures: {baseline:.0f} MB); {line}")
            figures.append(
                figure(
                    f"peak RSS: ingest {label}",
                    rss,
                    "MB",
                    at_most=RSS_BAR_MB,
                    on="value",
                    peer="ingest the fixtures",
                    peer_value=baseline,
                )
            )
    emit(figures)


if __name__ == "__main__":
    main()
