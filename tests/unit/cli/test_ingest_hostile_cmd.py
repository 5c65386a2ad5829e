"""Hostile inputs never stop an ingest: bytes that are not text, huge numbers, oversized files, broken and
bombed archives and any mutation of a real file each end as a row (landed, or in parsed.parse_errors) while
the other files of the batch land. Real files, a real DuckDB file, the CLI in-process."""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from kiai import warehouse
from kiai.load.osu_files import NO_BYTES_MD5, ingest_sources
from kiai.load.osu_sources import OsuSource
from tests.support.cli import invoke
from tests.support.paths import OSU_FIXTURES

SLIDERS = OSU_FIXTURES / "osu-1124896.osu"
TITLED = OSU_FIXTURES / "Soleily-Renatus-Gamu-Insane.osu"
GOOD = [OSU_FIXTURES / name for name in ("osu-42587.osu", "osu-50859.osu", "osu-37902.osu")]


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_bytes_that_are_not_text_and_a_huge_version_never_cost_the_batch(tmp_path, db_path):
    folder = tmp_path / "maps"
    folder.mkdir()
    curve = SLIDERS.read_bytes().replace(b"L|76:164", b"L|76:\xff164", 1)
    (folder / "curve.osu").write_bytes(curve)
    (folder / "title.osu").write_bytes(TITLED.read_bytes().replace(b"Title:Renatus", b"Title:Ren\xc3\x28tus", 1))
    version = GOOD[0].read_bytes().replace(b"osu file format v", b"osu file format v" + b"9" * 30, 1)
    (folder / "version.osu").write_bytes(version)
    (folder / "good.osu").write_bytes(GOOD[1].read_bytes())
    if sys.platform == "linux":  # a file name that is not UTF-8
        with open(os.fsencode(folder) + b"/caf\xe9.osu", "wb") as handle:
            handle.write(GOOD[2].read_bytes())
    result = invoke("ingest", "osu-files", str(folder), db=db_path)
    landed = 4 if sys.platform == "linux" else 3
    assert f"{landed} added" in result.stdout and "1 could not be parsed" in result.stdout
    assert "format version '9999" in result.stderr and "out of range" in result.stderr
    curve_md5 = hashlib.md5(curve).hexdigest()
    points = rows(
        db_path,
        "SELECT curve_points FROM parsed.hit_objects JOIN parsed.beatmap_files USING (file_id) "
        f"WHERE md5 = '{curve_md5}' AND time_ms = 1055",
    )
    assert points == [("76:\ufffd164",)]  # as osu! reads it; the exact bytes stay in raw.osu_files
    assert rows(db_path, "SELECT title FROM parsed.beatmap_files WHERE title LIKE 'Ren%'") == [("Ren\ufffd(tus",)]
    if sys.platform == "linux":
        assert rows(db_path, "SELECT count(*) FROM raw.osu_files WHERE path LIKE '%caf\ufffd.osu'") == [(1,)]
    assert rows(db_path, f"SELECT content FROM raw.osu_files WHERE md5 = '{curve_md5}'") == [(curve,)]


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _lying_sizes(path: Path, declared: int) -> None:
    """Make every member of a zip declare `declared` bytes (local and central headers): a zip bomb's lie."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        for match in re.finditer(re.escape(signature), bytes(data)):
            data[match.start() + offset : match.start() + offset + 4] = declared.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_oversized_broken_and_bombed_inputs_are_parse_errors_and_the_run_goes_on(tmp_path, db_path):
    folder = tmp_path / "in"
    folder.mkdir()
    base = GOOD[0].read_bytes()
    (folder / "a-big.osu").write_bytes(base + b"// padding\n" * 150_000)  # 1.7 MB, over a 1 MB limit
    (folder / "b-corrupt.osz").write_bytes(b"PK\x03\x04 this is no zip archive at all")
    crc = _zip(folder / "c-crc.osz", {"crc.osu": GOOD[1].read_bytes()}, zipfile.ZIP_STORED)
    damaged = bytearray(crc.read_bytes())
    damaged[damaged.index(b"[HitObjects]")] ^= 0x20  # the stored bytes no longer match their CRC
    crc.write_bytes(bytes(damaged))
    objects = b"osu file format v14\n[HitObjects]\n" + b"1,1,1,1,0\n" * 2_000_000
    bomb = _zip(folder / "d-bomb.osz", {"bomb.osu": objects})
    _lying_sizes(bomb, 1000)  # 20 MB of hit objects that say they are 1 KB
    _zip(folder / "e-big-member.osz", {"big.osu": base + b"// padding\n" * 150_000, "ok.osu": GOOD[2].read_bytes()})
    (folder / "f-last.osu").write_bytes(TITLED.read_bytes())  # sorted after every bad input
    env = {"KIAI_LIMIT_OSU_FILE_MB": "1"}
    result = invoke("ingest", "osu-files", str(folder), db=db_path, env=env)
    assert "Traceback" not in result.stderr
    assert "2 added" in result.stdout and "5 could not be parsed" in result.stdout
    errors = {Path(p).name: e for p, e in rows(db_path, "SELECT path, error FROM parsed.parse_errors")}
    assert set(errors) == {"a-big.osu", "b-corrupt.osz", "c-crc.osz::crc.osu", "d-bomb.osz::bomb.osu",
                           "e-big-member.osz::big.osu"}  # fmt: skip
    assert "larger than 1 MB" in errors["a-big.osu"] and "larger than 1 MB" in errors["e-big-member.osz::big.osu"]
    assert "not a valid .osz" in errors["b-corrupt.osz"]
    assert "Bad CRC-32" in errors["c-crc.osz::crc.osu"] and "Bad CRC-32" in errors["d-bomb.osz::bomb.osu"]
    assert rows(db_path, "SELECT DISTINCT md5 FROM parsed.parse_errors") == [(NO_BYTES_MD5,)]
    landed = {Path(p).name for (p,) in rows(db_path, "SELECT path FROM raw.osu_files")}
    assert landed == {"e-big-member.osz::ok.osu", "f-last.osu"}

    again = invoke("ingest", "osu-files", str(folder), db=db_path, env=env)
    assert "0 added, 7 unchanged" in again.stdout and len(rows(db_path, "SELECT * FROM parsed.parse_errors")) == 5
    raised = invoke("ingest", "osu-files", str(folder / "a-big.osu"), db=db_path, env={"KIAI_LIMIT_OSU_FILE_MB": "4"})
    assert "1 added" in raised.stdout  # under a higher limit it lands, and its refusal is no longer listed
    assert ("a-big.osu",) not in {(Path(p).name,) for (p,) in rows(db_path, "SELECT path FROM parsed.parse_errors")}


def test_objects_per_file_limit(tmp_path, db_path):
    folder = tmp_path / "maps"
    folder.mkdir()
    (folder / "many.osu").write_bytes(SLIDERS.read_bytes())  # 1,044 hit objects
    (folder / "few.osu").write_bytes(GOOD[1].read_bytes())
    limit = {"KIAI_LIMIT_OBJECTS_PER_FILE": "1000"}
    result = invoke("ingest", "osu-files", str(folder), db=db_path, env=limit)
    assert "1 added" in result.stdout and "more than 1,000 lines in [HitObjects]" in result.stderr
    nonsense = {"KIAI_LIMIT_OBJECTS_PER_FILE": "lots"}
    bad = invoke("ingest", "osu-files", str(folder), db=db_path, env=nonsense, check=False)
    assert bad.returncode == 1 and "[limits] objects_per_file must be a number" in bad.stderr


def _without_ids(path: Path) -> bytes:
    """A fixture without its BeatmapID: a mutation can then never make it another file's newer version."""
    return re.sub(rb"(?m)^BeatmapI[Dd]:.*$", b"", path.read_bytes())


BASES = [_without_ids(p) for p in (OSU_FIXTURES / "old-stacking.osu", *GOOD)]
edits = st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=12)), min_size=1, max_size=6)
mutated = st.tuples(st.integers(0, len(BASES) - 1), edits, st.none() | st.integers(0, 10**6))


def _mutate(base: bytes, changes: list[tuple[int, bytes]], cut: int | None) -> bytes:
    data = bytearray(base)
    for position, chunk in changes:
        start = position % (len(data) + 1)
        data[start : start + max(len(chunk), position % 3)] = chunk  # replace, insert or delete
    return bytes(data if cut is None else data[: cut % (len(data) + 1)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=st.one_of(mutated, st.binary(max_size=3000)), position=st.integers(0, 3))
def test_any_bytes_in_one_file_leave_the_others_landed_and_it_recorded(bad, position):
    data = _mutate(BASES[bad[0]], bad[1], bad[2]) if isinstance(bad, tuple) else bad
    others = [b for i, b in enumerate(BASES) if not (isinstance(bad, tuple) and i == bad[0])][:3]
    assume(data not in others)
    files = [*others[:position], data, *others[position:]]
    names = [f"f{i}.osu" for i in range(len(files))]
    with tempfile.TemporaryDirectory() as tmp:
        con = warehouse.connect(Path(tmp) / "k.duckdb")
        try:
            ingest_sources(con, [OsuSource(n, d) for n, d in zip(names, files, strict=True)], workers=0)
            landed = [p for (p,) in con.execute(LANDED).fetchall()]
            failed = [p for (p,) in con.execute("SELECT path FROM parsed.parse_errors").fetchall()]
        finally:
            con.close()
    bad_name = names[position]
    assert set(names) - {bad_name} <= set(landed)  # the others all landed
    assert sorted(landed + failed) == sorted(names)  # and the bad one is recorded once: landed or an error


LANDED = "SELECT path FROM parsed.beatmap_files JOIN raw.osu_files USING (md5)"
