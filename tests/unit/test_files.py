"""kiai.files: the one atomic-write helper every writer uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiai.files import atomic_path, atomic_write


def test_atomic_write_replaces_and_leaves_no_temp_file(tmp_path: Path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write(target, "one")
    atomic_write(target, b"two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temp_file(tmp_path: Path):
    target = tmp_path / "a.txt"
    atomic_write(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_concurrent_writers_of_one_target_get_distinct_temp_files(tmp_path: Path):
    target = tmp_path / "a.parquet"
    with atomic_path(target, suffix=".parquet") as first, atomic_path(target, suffix=".parquet") as second:
        assert first != second and first.parent == second.parent == tmp_path
        assert first.name.endswith(".parquet")
        first.write_text("1")
        second.write_text("2")
    assert target.read_text() == "1"  # the outer block renames last
