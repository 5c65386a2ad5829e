"""`kiai build-features` and `kiai models …` through the real CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiai import warehouse
from kiai.load import ensure_tables
from tests.support.cli import invoke
from tests.unit.transform.test_runner import OBJS, PER_MAP, SUMMARY, add_objects, write


@pytest.fixture
def env(tmp_path: Path, db_path: Path) -> dict[str, str]:
    root = tmp_path / "sql"
    write(root, "vars.toml", "min_x = 100\n")
    write(root, "staging/objs.sql", OBJS)
    write(root, "features/per_map.sql", PER_MAP)
    write(root, "features/summary.sql", SUMMARY)
    con = warehouse.connect(db_path)
    ensure_tables(con)
    add_objects(con, "m", 3, 300)
    con.close()
    return {"KIAI_SQL_DIR": str(root)}


def test_build_prints_plan_then_nothing_to_do(db_path, env):
    first = invoke("build-features", db=db_path, env=env)
    assert "plan: 3 to do, 0 up to date" in first.stdout
    assert "features.per_map" in first.stdout and "new model" in first.stdout
    assert "3 of 3 models done" in first.stdout
    second = invoke("build-features", db=db_path, env=env)
    assert second.stdout.startswith("nothing to do: 3 models up to date")


def test_var_override_select_and_full_refresh(db_path, env):
    invoke("build-features", db=db_path, env=env)
    out = invoke("build-features", "--var", "min_x=400", "--select", "objs", db=db_path, env=env).stdout
    assert "var min_x: 100 -> 400" in out and "1 of 1 models done" in out
    out = invoke("build-features", "--select", "per_map+", "--full-refresh", db=db_path, env=env).stdout
    assert "plan: 2 to do" in out and "--full-refresh" in out


def test_failing_test_exits_non_zero_with_count_and_samples(db_path, env, tmp_path):
    invoke("build-features", db=db_path, env=env)
    write(tmp_path / "sql", "features/per_map.sql", PER_MAP.replace("GROUP BY md5", "GROUP BY md5, x % 2"))
    result = invoke("build-features", db=db_path, env=env, check=False)
    assert result.returncode == 1
    assert "unique(md5): 3 failing rows" in result.stderr
    assert "duplicates" in result.stderr and "m0" in result.stderr  # sample rows
    assert "error: failed: per_map; skipped: summary" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_model_is_a_one_line_error(db_path, env, tmp_path):
    write(tmp_path / "sql", "features/bad.sql", "SELECT * FROM {{ ref('nope') }}")
    result = invoke("build-features", db=db_path, env=env, check=False)
    assert result.returncode == 1
    assert "bad.sql: ref('nope') names no model" in result.stderr
    assert "Traceback" not in result.stderr


def test_models_list_show_diff_prune(db_path, env, tmp_path):
    invoke("build-features", db=db_path, env=env)
    listing = invoke("models", "list", db=db_path, env=env).stdout
    assert "features.per_map" in listing and "up to date" in listing and "passed" in listing

    shown = invoke("models", "show", "per_map", db=db_path, env=env).stdout
    assert "upstream: objs" in shown and "downstream: summary" in shown
    assert "beatmap file md5" in shown and "unique(md5)" in shown and "BIGINT" in shown
    assert "SELECT md5, count(*) AS n FROM staging.objs" in shown

    write(tmp_path / "sql", "features/per_map.sql", PER_MAP.replace("count(*) AS n", "count(*) AS n_objects"))
    diff = invoke("models", "diff", "per_map", db=db_path, env=env).stdout
    assert "SQL changed" in diff and "columns removed: n" in diff and "BREAKING" in diff
    listing = invoke("models", "list", db=db_path, env=env).stdout
    assert "changed: SQL changed" in listing

    write(tmp_path / "sql", "features/per_map.sql", PER_MAP)
    for min_x in (200, 300):
        invoke("build-features", "--var", f"min_x={min_x}", db=db_path, env=env)
    pruned = invoke("models", "prune", "--keep", "2", db=db_path, env=env).stdout
    assert "pruned 3 version(s)" in pruned
    assert "nothing to do" in invoke("build-features", "--var", "min_x=300", db=db_path, env=env).stdout


def test_a_misspelled_var_is_an_error_naming_the_known_vars(db_path, env, tmp_path):
    result = invoke("build-features", "--var", "min_y=400", db=db_path, env=env, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "unknown var 'min_y' (--var); known vars: min_x" in result.stderr
    write(tmp_path / "sql", "features/extra.sql", 'SELECT \'{{ var("label", "x") }}\' AS label')
    # a var only a model reads (with its default) is known too
    assert "4 of 4 models done" in invoke("build-features", "--var", "label=y", db=db_path, env=env).stdout


def test_models_list_at_80_columns_keeps_the_state_and_names_what_is_hidden(db_path, env):
    invoke("build-features", db=db_path, env=env)
    result = invoke("models", "list", db=db_path, env={**env, "COLUMNS": "80"})
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "state" in lines[1]
    assert sum("up to date" in line for line in lines) == 3
    assert "hidden" in result.stdout and "kind" in result.stdout.split("hidden")[-1]
