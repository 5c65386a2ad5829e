"""Run kiai's compiled models on Spark over a kiai lake (copied as run_models.py by `kiai models compile`).

    spark-submit run_models.py --lake LAKE_DIR --out OUT_DIR

Registers every table of LAKE_DIR/manifest.json as `<schema>.<table>` (a view over its Parquet folder), then
runs each compiled `NN_<schema>.<model>.sql` beside this file in order: its result is written to
OUT_DIR/<schema>/<model>/ as Parquet and replaces the lake's copy under that name, so the models after it
read Spark's result. Models the manifest marks DuckDB-only are read from the lake as exported.

Standalone on purpose: it needs only Python's standard library and pyspark, not kiai.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

PARTITION_TYPES = {"BIGINT": "BIGINT", "INTEGER": "INT", "SMALLINT": "SMALLINT", "TINYINT": "TINYINT"}


def _name(relation: str) -> str:
    return ".".join(f"`{part}`" for part in relation.split("."))


def _location(path: Path) -> str:
    return "parquet.`" + path.resolve().as_uri().replace("`", "``") + "`"


def register_view(spark: Any, relation: str, folder: Path, columns: list[str], partition: dict | None) -> None:
    """`relation` as a view over a Parquet folder; a partition column gets the type the manifest gives it
    (Spark would infer one from the folder names)."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS `{relation.split('.')[0]}`")
    names = [*columns, partition["name"]] if partition and partition["name"] not in columns else columns
    kind = PARTITION_TYPES.get(partition["type"], "STRING") if partition else ""
    select = ", ".join(
        f"CAST(`{c}` AS {kind}) AS `{c}`" if partition and c == partition["name"] else f"`{c}`" for c in names
    )
    spark.sql(f"CREATE OR REPLACE VIEW {_name(relation)} AS SELECT {select} FROM {_location(folder)}")


def register_lake(spark: Any, lake: Path) -> list[str]:
    """Every table of the lake as a view named `<schema>.<table>`; returns their names."""
    manifest = json.loads((lake / "manifest.json").read_text(encoding="utf-8"))
    for relation, entry in manifest["tables"].items():
        columns = [c["name"] for c in entry["columns"]]
        register_view(spark, relation, lake / entry["path"], columns, entry.get("partition_column"))
    return sorted(manifest["tables"])


def _utc_timestamps(frame: Any) -> Any:
    """DuckDB's naive TIMESTAMP (Spark's TIMESTAMP_NTZ) as the lake writes kiai's timestamps: UTC instants (the
    session's time zone is UTC)."""
    naive = {f.name for f in frame.schema.fields if f.dataType.typeName() == "timestamp_ntz"}
    if not naive:
        return frame
    return frame.select(*(frame[c].cast("timestamp").alias(c) if c in naive else frame[c] for c in frame.columns))


def run_models(spark: Any, compiled: Path, out: Path, log: Any = print) -> list[dict[str, Any]]:
    """Run the compiled models in build order, each written to `out` and registered under its name."""
    manifest = json.loads((compiled / "manifest.json").read_text(encoding="utf-8"))
    # the lake's timestamps: UTC microseconds (Spark's default INT96 reads back as a naive TIMESTAMP elsewhere)
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    spark.conf.set("spark.sql.session.timeZone", "UTC")  # kiai's naive timestamps are UTC
    results = []
    for entry in manifest["models"]:
        relation = entry["model"]
        if entry["file"] is None:
            log(f"{relation}: DuckDB-only ({entry['duckdb_only']}); read from the lake")
            continue
        started = time.perf_counter()
        frame = _utc_timestamps(spark.sql((compiled / entry["file"]).read_text(encoding="utf-8")))
        target = out / relation.replace(".", "/")
        frame.write.mode("overwrite").parquet(str(target))
        register_view(spark, relation, target, frame.columns, None)
        rows = spark.table(relation).count()
        seconds = time.perf_counter() - started
        log(f"{relation}: {rows:,} rows in {seconds:.1f} s -> {target}")
        results.append({"model": relation, "rows": rows, "seconds": seconds, "path": str(target)})
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run kiai's compiled models on Spark over a kiai lake.")
    parser.add_argument("--lake", required=True, type=Path, help="the folder `kiai export lake` wrote")
    parser.add_argument("--out", required=True, type=Path, help="where the models' results are written")
    parser.add_argument("--compiled", type=Path, default=Path(__file__).resolve().parent, help="the compiled SQL")
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("kiai models").config("spark.sql.session.timeZone", "UTC").getOrCreate()
    register_lake(spark, args.lake)
    run_models(spark, args.compiled, args.out)
    spark.stop()


if __name__ == "__main__":
    main()
