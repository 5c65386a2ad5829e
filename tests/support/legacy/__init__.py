"""The md5-keyed layout of parser version 2 (schema version 0), as of commit 712d495, copied unchanged:

- `file_features_packed.sql`: sql/features/file_features.sql, the packed model, to check that the plain model
  that replaced it computes the same values (tests/unit/sql/features/test_file_features.py, bench/build_features.py). It
  reads md5-keyed tables: `packed_file_features_sql` points it at views that give today's tables that shape.
- `osu_tables_v0.sql`: the DDL of kiai/load/osu_tables.py, to build a warehouse as that kiai left it and
  migrate it (tests/unit/schema/test_migrations.py).

`write_version_4` makes a warehouse of schema version 4 (parser version 3: no step columns in parsed.hit_objects).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import duckdb
import jinja2

from tests.support.paths import SQL_DIR

HERE = Path(__file__).parent
STEP_COLUMNS = ("time_order", "interval_ms", "distance_sq", "previous_kiai")  # parsed.hit_objects, schema version 5
SIGNIFICANT_DIGITS = 10


def packed_file_features_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The packed model's SELECT over temporary views of the md5-keyed layout (created on `con`)."""
    con.execute(
        """
        CREATE OR REPLACE TEMP VIEW md5_hit_objects AS
        SELECT f.md5, o.* EXCLUDE (file_id) REPLACE (o.kind::VARCHAR AS kind)
        FROM parsed.hit_objects AS o JOIN parsed.beatmap_files AS f USING (file_id)
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP VIEW md5_timing_points AS
        SELECT f.md5, t.* EXCLUDE (file_id)
        FROM parsed.timing_points AS t JOIN parsed.beatmap_files AS f USING (file_id)
        """
    )
    variables = tomllib.loads((SQL_DIR / "vars.toml").read_text(encoding="utf-8"))
    text = (HERE / "file_features_packed.sql").read_text(encoding="utf-8")
    rendered = jinja2.Environment().from_string(text).render(ref=lambda name: f"features.{name}", var=variables.get)
    for table in ("hit_objects", "timing_points"):
        rendered = rendered.replace(f"parsed.{table}", f"md5_{table}")
    return rendered


def _rounded(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """The relation with DOUBLE columns rounded to SIGNIFICANT_DIGITS: float sums added in another order
    differ in their last bits."""
    described = con.execute(f"DESCRIBE {relation}").fetchall()
    columns = []
    for name, kind, *_ in described:
        if kind == "DOUBLE":
            digits = f"({SIGNIFICANT_DIGITS - 1} - floor(log10(abs({name}))))::INTEGER"
            columns.append(f"CASE WHEN {name} = 0 OR NOT isfinite({name}) THEN {name} ELSE round({name}, {digits}) END")
        else:
            columns.append(name)
    return f"SELECT {', '.join(columns)} FROM {relation}"


def differing_md5s(con: duckdb.DuckDBPyConnection, relation: str, other: str) -> set[str]:
    """md5s of the rows of the two relations (same columns) that are not in the other: EXCEPT both ways."""
    a, b = _rounded(con, relation), _rounded(con, other)
    rows = con.execute(f"SELECT md5 FROM (({a}) EXCEPT ({b})) UNION SELECT md5 FROM (({b}) EXCEPT ({a}))").fetchall()
    return {md5 for (md5,) in rows}


def write_version_0(source: Path, target: Path) -> None:
    """A warehouse as kiai with schema version 0 left it, holding what `source` (the current layout) holds:
    the same raw.osu_files and parse errors, and the parsed rows in that layout (md5 on every row, VARCHAR
    kinds, no timing context), marked as parsed by parser version 2. No kiai.schema_migrations."""
    with duckdb.connect(str(target)) as con:
        con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        con.execute("CREATE SCHEMA raw; CREATE SCHEMA parsed; CREATE SCHEMA kiai")
        con.execute((HERE / "osu_tables_v0.sql").read_text(encoding="utf-8"))
        con.execute("INSERT INTO raw.osu_files SELECT * FROM src.raw.osu_files")
        con.execute("INSERT INTO parsed.parse_errors SELECT * FROM src.parsed.parse_errors")
        con.execute(
            "INSERT INTO parsed.beatmap_files BY NAME "
            "SELECT * EXCLUDE (file_id) REPLACE (2 AS parser_version) FROM src.parsed.beatmap_files"
        )
        for table, dropped in (
            ("hit_objects", f"beat_length, slider_velocity, kiai, {', '.join(STEP_COLUMNS)}"),
            ("timing_points", "timing_applies, effects_apply"),
            ("breaks", None),
        ):
            exclude = f"file_id{', ' + dropped if dropped else ''}"
            con.execute(
                f"INSERT INTO parsed.{table} BY NAME SELECT f.md5, t.* EXCLUDE ({exclude}) "
                f"FROM src.parsed.{table} AS t JOIN src.parsed.beatmap_files AS f USING (file_id)"
            )


def write_version_4(source: Path, target: Path) -> None:
    """A warehouse as kiai with schema version 4 (parser version 3) left it, holding what `source` (the current
    layout) holds: parsed.hit_objects without the step columns (which version 5 appended), the files marked as
    parsed by parser version 3."""
    target.write_bytes(source.read_bytes())
    with duckdb.connect(str(target)) as con:
        for column in STEP_COLUMNS:
            con.execute(f"ALTER TABLE parsed.hit_objects DROP COLUMN {column}")
        con.execute("UPDATE parsed.beatmap_files SET parser_version = 3")
        con.execute("UPDATE parsed.parse_errors SET parser_version = 3")
        con.execute("DELETE FROM kiai.schema_migrations WHERE version > 4")
        con.execute(
            "INSERT INTO kiai.schema_migrations VALUES (4, 'training run parts', 'created', '0', 0, NULL, now())"
        )
