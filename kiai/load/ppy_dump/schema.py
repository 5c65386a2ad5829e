"""A dump's CREATE TABLE, parsed with sqlglot: DuckDB column types, and what MySQL declared.

The declaration (MySQL type, nullability, key, default, extra, collation, comment) is what
`SHOW COLUMNS` answers with `--dialect mysql`; the importer keeps it in `kiai.dump_columns`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

T = exp.DataType.Type

# MySQL type -> DuckDB type. Unsigned integers widen to the next signed type (UBIGINT has none).
# tinyint(1) is a TINYINT, as in MySQL (BOOLEAN there is its alias): flags are 0/1, and 2 stays 2.
_TYPES: dict[T, str] = {
    T.TINYINT: "TINYINT",
    T.UTINYINT: "SMALLINT",
    T.SMALLINT: "SMALLINT",
    T.USMALLINT: "INTEGER",
    T.MEDIUMINT: "INTEGER",
    T.UMEDIUMINT: "INTEGER",
    T.INT: "INTEGER",
    T.UINT: "BIGINT",
    T.BIGINT: "BIGINT",
    T.UBIGINT: "UBIGINT",
    T.BIT: "BIGINT",
    T.YEAR: "SMALLINT",
    # The dump prints FLOAT with 6 significant digits; DOUBLE keeps exactly the printed value.
    T.FLOAT: "DOUBLE",
    T.DOUBLE: "DOUBLE",
    T.TIMESTAMP: "TIMESTAMP",
    T.TIMESTAMPTZ: "TIMESTAMP",  # sqlglot reads MySQL TIMESTAMP as TZ; the dump prints UTC wall times
    T.DATETIME: "TIMESTAMP",
    T.DATE: "DATE",
    T.JSON: "JSON",
    T.BINARY: "BLOB",
    T.VARBINARY: "BLOB",
    T.BLOB: "BLOB",
    T.TINYBLOB: "BLOB",
    T.MEDIUMBLOB: "BLOB",
    T.LONGBLOB: "BLOB",
}
_TEXT = {T.CHAR, T.VARCHAR, T.NCHAR, T.NVARCHAR, T.TEXT, T.TINYTEXT, T.MEDIUMTEXT, T.LONGTEXT, T.ENUM, T.SET}
_IDENT = re.compile(r"[A-Za-z0-9_$]+")
# sqlglot 30 cannot parse `float unsigned`; unsigned changes nothing for floating types, but SHOW COLUMNS shows it.
# (A name starts after a character that cannot be in one, so each run of name characters is tried once: linear.)
_UNSIGNED_FLOAT = re.compile(
    r"(?i)((?<![A-Za-z0-9_$`])`?([A-Za-z0-9_$]+)`?\s+(?:float|double|real)(?:\s*\([^)]*\))?)\s+unsigned\b"
)
# The collation a column gets from a character set alone (MySQL 8); others default to <charset>_general_ci.
_CHARSET_COLLATIONS = {"utf8mb4": "utf8mb4_0900_ai_ci", "latin1": "latin1_swedish_ci", "binary": "binary"}
MYSQL_DEFAULT_CHARSET = "utf8mb4"  # the server default when neither the table nor the column names one


class SchemaError(ValueError):
    """A CREATE TABLE that cannot be used."""


DATE_TYPES = ("DATE", "TIMESTAMP")


@dataclass(frozen=True)
class Declared:
    """A column as MySQL declared it: the row `SHOW COLUMNS` shows for it."""

    type: str  # as MySQL prints it: `bigint unsigned`, `tinyint(1)`, `varchar(80)`
    nullable: bool
    key: str = ""  # PRI, UNI, MUL or ''
    default: str | None = None
    extra: str = ""  # auto_increment, DEFAULT_GENERATED, on update CURRENT_TIMESTAMP
    collation: str | None = None  # text columns only
    comment: str = ""


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type of the table column
    mysql_type: str
    not_null: bool = False  # NOT NULL or PRIMARY KEY in the dump; never on dates (a zero date becomes NULL)
    collation: str | None = None  # DuckDB's: NOCASE (and NOACCENT) for MySQL's *_ci text columns
    declared: Declared | None = None

    @property
    def csv_type(self) -> str:
        """How the column is read from the intermediate CSV (BLOBs travel as hex text, dates as text)."""
        return "VARCHAR" if self.type in ("BLOB", "JSON", *DATE_TYPES) else self.type

    @property
    def ddl(self) -> str:
        collate = f" COLLATE {self.collation}" if self.collation else ""
        return f'"{self.name}" {self.type}{collate}' + (" NOT NULL" if self.not_null else "")


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    create_sql: str = ""  # the dump's CREATE TABLE statement, as written


def plain_identifier(name: str) -> bool:
    return bool(_IDENT.fullmatch(name))


def _clean(ddl: str) -> tuple[str, set[str]]:
    """The DDL sqlglot can parse, and the (lower-case) names of its `float unsigned` columns."""
    # partition clauses and other conditional comments; only up to the last `*/`, since past it no comment
    # can close and re-scanning to the end from every unclosed `/*!` is quadratic (60 KB of them: 3.9 s)
    closed = ddl.rfind("*/") + 2
    ddl = re.sub(r"/\*!.*?\*/", " ", ddl[:closed], flags=re.S) + ddl[closed:]
    unsigned = {m.group(2).lower() for m in _UNSIGNED_FLOAT.finditer(ddl)}
    return _UNSIGNED_FLOAT.sub(r"\1", ddl), unsigned


def _duck_type(column: exp.ColumnDef) -> str:
    kind = column.args.get("kind")
    if not isinstance(kind, exp.DataType):
        raise SchemaError(f"column {column.name} has no type")
    size = [e.sql() for e in kind.expressions]
    if kind.this in (T.DECIMAL, T.UDECIMAL):
        precision, scale = _decimal(column.name, size)
        return f"DECIMAL({precision},{scale})" if precision <= 38 else "DOUBLE"
    if kind.this in _TEXT:
        if kind.this == T.LONGTEXT and _json_checked(column):
            return "JSON"  # how MariaDB shows MySQL's json type
        return "VARCHAR"
    if kind.this in _TYPES:
        return _TYPES[kind.this]
    raise SchemaError(f"column {column.name} has a type kiai does not map: {kind.sql('mysql')}")


def _decimal(name: str, size: list[str]) -> tuple[int, int]:
    """DECIMAL(M,D) as MySQL accepts it: M from 1 to 65 (default 10), D from 0 to 30 and at most M."""
    spec = [*size, "0"][:2] if size else ["10", "0"]
    if not all(s.isdigit() for s in spec) or not (1 <= int(spec[0]) <= 65 and int(spec[1]) <= min(30, int(spec[0]))):
        written = f"DECIMAL({','.join(size)})"
        raise SchemaError(f"column {name}: {written} is not a MySQL type (precision 1-65, scale 0-30 and at most it)")
    return int(spec[0]), int(spec[1])


def _constraints(column: exp.ColumnDef) -> list[exp.Expression]:
    return [c.args["kind"] for c in column.args.get("constraints") or [] if c.args.get("kind") is not None]


def _not_null(column: exp.ColumnDef) -> bool:
    """NOT NULL or an inline PRIMARY KEY (which MySQL makes NOT NULL)."""
    for kind in _constraints(column):
        if isinstance(kind, exp.NotNullColumnConstraint) and not kind.args.get("allow_null"):
            return True
        if isinstance(kind, exp.PrimaryKeyColumnConstraint):
            return True
    return False


def _json_checked(column: exp.ColumnDef) -> bool:
    checks = column.find_all(exp.CheckColumnConstraint)
    return any(isinstance(f, exp.Anonymous) and str(f.this).lower() == "json_valid" for c in checks for f in c.walk())


def _mysql_type(kind: exp.DataType, unsigned_float: bool) -> str:
    """The type as MySQL 8 prints it in SHOW COLUMNS: lower case, no space between its parameters."""
    text = kind.sql("mysql")
    params = [e.sql("mysql") for e in kind.expressions]
    written = f"({', '.join(params)})"
    head, found, tail = text.partition(written) if params else (text, "", "")
    packed = f"({','.join(params)})" if found else ""
    return f"{head.lower()}{packed}{tail.lower()}{' unsigned' if unsigned_float else ''}"


def _default(column: exp.ColumnDef) -> tuple[str | None, list[str]]:
    """SHOW COLUMNS' Default and Extra for a column."""
    default: str | None = None
    extra: list[str] = []
    for kind in _constraints(column):
        if isinstance(kind, exp.AutoIncrementColumnConstraint):
            extra.append("auto_increment")
        elif isinstance(kind, exp.DefaultColumnConstraint):
            value = kind.this
            while isinstance(value, exp.Paren):
                value = value.this
            if isinstance(value, exp.Null):
                continue
            if isinstance(value, exp.Literal):
                default = value.name
            else:  # an expression: CURRENT_TIMESTAMP, (unix_timestamp())
                text = value.sql("mysql")
                default = "CURRENT_TIMESTAMP" if isinstance(value, exp.CurrentTimestamp) else text
                default = default if "'" in default or default == "CURRENT_TIMESTAMP" else default.lower()
                extra.insert(0, "DEFAULT_GENERATED")
        elif isinstance(kind, exp.OnUpdateColumnConstraint):
            extra.append("on update CURRENT_TIMESTAMP")
    return default, extra


def _comment(column: exp.ColumnDef) -> str:
    for kind in _constraints(column):
        if isinstance(kind, exp.CommentColumnConstraint):
            return kind.this.name
    return ""


def _table_collation(tree: exp.Create) -> str:
    properties = tree.args.get("properties")
    charset, collation = MYSQL_DEFAULT_CHARSET, None
    for item in properties.expressions if properties else []:
        if isinstance(item, exp.CharacterSetProperty):
            charset = item.this.name.lower()
        elif isinstance(item, exp.CollateProperty):
            collation = item.this.name.lower()
    return collation or _charset_collation(charset)


def _charset_collation(charset: str) -> str:
    return _CHARSET_COLLATIONS.get(charset, f"{charset}_general_ci")


def _column_collation(column: exp.ColumnDef, table_collation: str) -> str:
    charset = collation = None
    for kind in _constraints(column):
        if isinstance(kind, exp.CharacterSetColumnConstraint):
            charset = kind.this.name.lower()
        elif isinstance(kind, exp.CollateColumnConstraint):
            collation = kind.this.name.lower()
    return collation or (_charset_collation(charset) if charset else table_collation)


def duckdb_collation(mysql_collation: str | None) -> str | None:
    """DuckDB's collation for a MySQL one: *_ci compares without case, and without accents unless *_as_ci."""
    if not mysql_collation or not mysql_collation.endswith("_ci"):
        return None  # *_bin, *_cs, binary: byte by byte, as DuckDB does anyway
    return "NOCASE" if "_as_" in mysql_collation else "NOACCENT.NOCASE"


def _keys(schema: exp.Schema, nullable: dict[str, bool]) -> dict[str, str]:
    """SHOW COLUMNS' Key: PRI for primary-key columns, UNI for a one-column UNIQUE index, MUL for the first
    column of another index; the highest applies. Without a primary key, the first one-column UNIQUE
    index on a NOT NULL column shows as PRI, as in MySQL."""
    primary: list[str] = []
    unique: list[list[str]] = []
    other: list[list[str]] = []
    for item in schema.expressions:
        if isinstance(item, exp.PrimaryKey):
            primary += [c.name.lower() for c in item.expressions]
        elif isinstance(item, exp.UniqueColumnConstraint) and isinstance(item.this, exp.Schema):
            unique.append([c.name.lower() for c in item.this.expressions])
        elif isinstance(item, exp.IndexColumnConstraint):
            other.append([c.name.lower() for c in item.expressions])
        elif isinstance(item, exp.ColumnDef):
            for kind in _constraints(item):
                if isinstance(kind, exp.PrimaryKeyColumnConstraint):
                    primary.append(item.name.lower())
                elif isinstance(kind, exp.UniqueColumnConstraint):
                    unique.append([item.name.lower()])
    if not primary:
        primary = next(([u[0]] for u in unique if len(u) == 1 and not nullable.get(u[0], True)), [])
    keys: dict[str, str] = {}
    for columns in other + [u for u in unique if len(u) > 1]:
        if columns:
            keys.setdefault(columns[0], "MUL")
    for columns in unique:
        if len(columns) == 1:
            keys[columns[0]] = "UNI"
    for name in primary:
        keys[name] = "PRI"
    return keys


def parse_create_table(ddl: str) -> TableSchema:
    """Columns of one MySQL CREATE TABLE statement; partitions are ignored."""
    cleaned, unsigned_floats = _clean(ddl)
    try:
        trees = [t for t in sqlglot.parse(cleaned, read="mysql") if t is not None]
    except SqlglotError as exc:
        raise SchemaError(f"cannot parse CREATE TABLE: {str(exc).splitlines()[0]}") from None
    if len(trees) != 1:
        raise SchemaError("CREATE TABLE is followed by another statement")
    tree = trees[0]
    if (
        not isinstance(tree, exp.Create)
        or str(tree.args.get("kind", "")).upper() != "TABLE"
        or tree.args.get("expression") is not None
    ):
        raise SchemaError("not a CREATE TABLE statement")
    schema = tree.this
    if not isinstance(schema, exp.Schema) or not isinstance(schema.this, exp.Table):
        raise SchemaError("CREATE TABLE without a column list")
    table = schema.this
    if table.args.get("db") or not plain_identifier(table.name):
        raise SchemaError(f"table name {table.sql('mysql')} is not a plain identifier")
    definitions = [item for item in schema.expressions if isinstance(item, exp.ColumnDef)]
    nullable = {c.name.lower(): not _not_null(c) for c in definitions}
    keys = _keys(schema, nullable)
    table_collation = _table_collation(tree)
    columns = []
    for item in definitions:
        if not plain_identifier(item.name):
            raise SchemaError(f"column name {item.name!r} is not a plain identifier")
        duck_type = _duck_type(item)
        name = item.name.lower()
        collation = _column_collation(item, table_collation) if duck_type == "VARCHAR" else None
        default, extra = _default(item)
        declared = Declared(
            type=_mysql_type(item.args["kind"], name in unsigned_floats),
            nullable=nullable[name] and keys.get(name) != "PRI",
            key=keys.get(name, ""),
            default=default,
            extra=" ".join(extra),
            collation=collation,
            comment=_comment(item),
        )
        not_null = not declared.nullable and duck_type not in DATE_TYPES
        mysql_type = item.args["kind"].sql("mysql")
        columns.append(Column(item.name, duck_type, mysql_type, not_null, duckdb_collation(collation), declared))
    if not columns:
        raise SchemaError(f"table {table.name} has no columns")
    names = [c.name.lower() for c in columns]
    if len(set(names)) != len(names):
        raise SchemaError(f"table {table.name} repeats a column name")
    return TableSchema(table.name, tuple(columns), ddl.strip())
