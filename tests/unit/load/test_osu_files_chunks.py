"""A worker parses its batch PARSE_FILES files at a time: the rows it lands must not depend on that chunk size."""

from __future__ import annotations

import hashlib

import pytest

from kiai.load import osu_files
from tests.support.paths import OSU_FIXTURES


def _batch() -> tuple[list[bytes], list[str]]:
    """Every fixture, a second version of the first one at the end (same beatmap id, other bytes), and a file
    that cannot be parsed, so that chunks differ in which metadata is NULL and one beatmap spans two chunks."""
    datas = [path.read_bytes() for path in sorted(OSU_FIXTURES.glob("*.osu"))]
    datas += [datas[0] + b"\n// a newer version\n", b"not an osu file"]
    return datas, [hashlib.md5(data).hexdigest() for data in datas]


def _landing(monkeypatch: pytest.MonkeyPatch, chunk_files: int) -> osu_files._Landing:
    monkeypatch.setattr(osu_files, "PARSE_FILES", chunk_files)
    datas, md5s = _batch()
    return osu_files.parse_for_landing(datas, md5s, list(range(1, len(datas) + 1)), [None] * len(datas))


@pytest.mark.parametrize("chunk_files", [1, 3, 7])
def test_chunked_parse_lands_the_rows_of_one_whole_parse(monkeypatch: pytest.MonkeyPatch, chunk_files: int) -> None:
    whole = _landing(monkeypatch, 10_000)
    chunked = _landing(monkeypatch, chunk_files)
    assert (chunked.good, chunked.errors, chunked.replaced) == (whole.good, whole.errors, whole.replaced)
    assert whole.replaced == 1 and 0 not in whole.good  # the later version of the first fixture won
    assert len(whole.errors) == 1
    assert chunked.hit_objects == whole.hit_objects > 0
    assert set(chunked.tables) == set(whole.tables)
    for name in whole.tables:
        assert chunked.table(name).num_rows == whole.table(name).num_rows
        # as text: a NaN beat length (a real map's) is not equal to itself
        assert str(chunked.table(name).to_pylist()) == str(whole.table(name).to_pylist()), name
