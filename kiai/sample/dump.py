"""Write tables as a data.ppy.sh dump: one MySQL 8 mysqldump `.sql` per table, packed like ppy's script
(`tar -cjSf NAME.tar.bz2 NAME/*`). CREATE TABLE statements come from kiai/load/ppy_dump/dump_schema.sql (copied
from the fixtures), the data.ppy.sh schema the importer also knows."""

from __future__ import annotations

import io
import json
import re
import tarfile
from datetime import datetime
from pathlib import Path
from typing import Any

from kiai.files import atomic_write

SCHEMA_FILE = Path(__file__).parent.parent / "load" / "ppy_dump" / "dump_schema.sql"  # data, not an import
MAX_INSERT_BYTES = 1_000_000  # mysqldump starts a new INSERT when a line would pass about 1 MB

HEADER = """-- MySQL dump 10.13  Distrib 8.0.30, for Linux (x86_64)
--
-- Host: db-delayed    Database: osu
-- ------------------------------------------------------
-- Server version	8.0.21

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!50503 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;
"""

TRAILER = """/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;
"""


class Float(float):
    """A value of a MySQL FLOAT column: printed with at most 6 significant digits, as mysqldump does."""


class Json:
    """A value of a MySQL JSON column: printed normalised (keys by length then bytes, `", "` and `": "`)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def schemas() -> dict[str, tuple[str, str]]:
    """table -> (CREATE TABLE statement, `-- WHERE:` line)."""
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    found = {}
    for match in re.finditer(r"-- table: (\w+)\n(CREATE TABLE .*?;)\n(-- WHERE:[^\n]*)\n", text, re.DOTALL):
        found[match.group(1)] = (match.group(2), match.group(3))
    return found


def columns(ddl: str) -> list[str]:
    return re.findall(r"^  `(\w+)` ", ddl, re.MULTILINE)


def _mysql_json(value: Any) -> str:
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{json.dumps(k)}: {_mysql_json(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_mysql_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\0": "\\0", "\x1a": "\\Z"}
_ESCAPE_RE = re.compile("[\\\\'\"\n\r\0\x1a]")


def _string(text: str) -> str:
    return "'" + _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], text) + "'"


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Float):
        text = f"{float(value):.6g}"
        if "e" in text and 1e-15 <= abs(value) < 1e15:
            text = f"{float(value):.6f}".rstrip("0").rstrip(".")
        return text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return _string(value.strftime("%Y-%m-%d %H:%M:%S"))
    if isinstance(value, Json):
        return _string(_mysql_json(value.value))
    return _string(str(value))


def table_sql(table: str, rows: list[tuple], completed: datetime) -> bytes:
    """One table's `.sql` as mysqldump writes it."""
    ddl, where = schemas()[table]
    width = len(columns(ddl))
    parts = [
        HEADER,
        "--",
        f"-- Table structure for table `{table}`",
        "--",
        "",
        f"DROP TABLE IF EXISTS `{table}`;",
        "/*!40101 SET @saved_cs_client     = @@character_set_client */;",
        "/*!50503 SET character_set_client = utf8mb4 */;",
        ddl,
        "/*!40101 SET character_set_client = @saved_cs_client */;",
        "",
        "--",
        f"-- Dumping data for table `{table}`",
        "--",
        where,
        "",
        f"LOCK TABLES `{table}` WRITE;",
        f"/*!40000 ALTER TABLE `{table}` DISABLE KEYS */;",
    ]
    prefix = f"INSERT INTO `{table}` VALUES "
    line: list[str] = []
    size = len(prefix)
    for row in rows:
        if len(row) != width:
            raise ValueError(f"{table}: row of {len(row)} values for {width} columns")
        text = "(" + ",".join(literal(v) for v in row) + ")"
        if line and size + len(text) + 1 > MAX_INSERT_BYTES:
            parts.append(prefix + ",".join(line) + ";")
            line, size = [], len(prefix)
        line.append(text)
        size += len(text) + 1
    if line:
        parts.append(prefix + ",".join(line) + ";")
    parts += [f"/*!40000 ALTER TABLE `{table}` ENABLE KEYS */;", "UNLOCK TABLES;", TRAILER]
    hour = completed.strftime("%H").lstrip("0") or "0"
    parts.append(f"-- Dump completed on {completed:%Y-%m-%d} {hour:>2}:{completed:%M:%S}")
    return ("\n".join(parts) + "\n").encode("utf-8")


def write_archive(path: Path, folder: str, files: dict[str, bytes], mtime: int) -> Path:
    """`folder/<name>` entries in a .tar.bz2 (no directory entry), written atomically and byte-for-byte
    reproducible (fixed mtime and owners)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            info.uname = info.gname = "osu"
            tar.addfile(info, io.BytesIO(data))
    return atomic_write(path, buffer.getvalue())
