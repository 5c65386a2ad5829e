"""A dump's CREATE TABLE, parsed with sqlglot, mapped to DuckDB column types."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

T = exp.DataType.Type

# MySQL type -> DuckDB type. Unsigned integers widen to the next signed type (UBIGINT has none).
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


class SchemaError(ValueError):
    """A CREATE TABLE that cannot be used."""


DATE_TYPES = ("DATE", "TIMESTAMP")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type of the table column
    mysql_type: str
    not_null: bool = False  # NOT NULL or PRIMARY KEY in the dump; never on dates (a zero date becomes NULL)

    @property
    def csv_type(self) -> str:
        """How the column is read from the intermediate CSV (BLOBs travel as hex text, dates as text)."""
        return "VARCHAR" if self.type in ("BLOB", "JSON", *DATE_TYPES) else self.type

    @property
    def ddl(self) -> str:
        return f'"{self.name}" {self.type}' + (" NOT NULL" if self.not_null else "")


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]


def plain_identifier(name: str) -> bool:
    return bool(_IDENT.fullmatch(name))


def _clean(ddl: str) -> str:
    # partition clauses and other conditional comments; only up to the last `*/`, since past it no comment
    # can close and re-scanning to the end from every unclosed `/*!` is quadratic (60 KB of them: 3.9 s)
    closed = ddl.rfind("*/") + 2
    ddl = re.sub(r"/\*!.*?\*/", " ", ddl[:closed], flags=re.S) + ddl[closed:]
    # sqlglot 30 cannot parse `float unsigned`; unsigned changes nothing for floating types.
    return re.sub(r"(?i)\b(float|double|real|decimal\s*\([^)]*\))\s+unsigned\b", r"\1", ddl)


def _duck_type(column: exp.ColumnDef) -> str:
    kind = column.args.get("kind")
    if not isinstance(kind, exp.DataType):
        raise SchemaError(f"column {column.name} has no type")
    size = [e.sql() for e in kind.expressions]
    if kind.this == T.TINYINT and size == ["1"]:
        return "BOOLEAN"
    if kind.this in (T.DECIMAL, T.UDECIMAL):
        precision, scale = (int(s) for s in ([*size, "10", "0"][:2] if size else ["10", "0"]))
        return f"DECIMAL({precision},{scale})" if precision <= 38 else "DOUBLE"
    if kind.this in _TEXT:
        if kind.this == T.LONGTEXT and _json_checked(column):
            return "JSON"  # how MariaDB shows MySQL's json type
        return "VARCHAR"
    if kind.this in _TYPES:
        return _TYPES[kind.this]
    raise SchemaError(f"column {column.name} has a type kiai does not map: {kind.sql('mysql')}")


def _not_null(column: exp.ColumnDef) -> bool:
    """NOT NULL or an inline PRIMARY KEY (which MySQL makes NOT NULL)."""
    for constraint in column.args.get("constraints") or []:
        kind = constraint.args.get("kind")
        if isinstance(kind, exp.NotNullColumnConstraint) and not kind.args.get("allow_null"):
            return True
        if isinstance(kind, exp.PrimaryKeyColumnConstraint):
            return True
    return False


def _json_checked(column: exp.ColumnDef) -> bool:
    checks = column.find_all(exp.CheckColumnConstraint)
    return any(isinstance(f, exp.Anonymous) and str(f.this).lower() == "json_valid" for c in checks for f in c.walk())


def parse_create_table(ddl: str) -> TableSchema:
    """Columns of one MySQL CREATE TABLE statement; keys, options and partitions are ignored."""
    try:
        trees = [t for t in sqlglot.parse(_clean(ddl), read="mysql") if t is not None]
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
    keys = {
        column.name.lower()
        for item in schema.expressions
        if isinstance(item, exp.PrimaryKey)
        for column in item.find_all(exp.Column, exp.Identifier)
    }
    columns = []
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            if not plain_identifier(item.name):
                raise SchemaError(f"column name {item.name!r} is not a plain identifier")
            duck_type = _duck_type(item)
            not_null = (_not_null(item) or item.name.lower() in keys) and duck_type not in DATE_TYPES
            columns.append(Column(item.name, duck_type, item.args["kind"].sql("mysql"), not_null))
    if not columns:
        raise SchemaError(f"table {table.name} has no columns")
    names = [c.name.lower() for c in columns]
    if len(set(names)) != len(names):
        raise SchemaError(f"table {table.name} repeats a column name")
    return TableSchema(table.name, tuple(columns))
