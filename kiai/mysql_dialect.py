"""MySQL text → DuckDB statements: sqlglot's transpiler plus what people paste from MySQL guides.

Handled here because sqlglot 30 cannot: `SHOW TABLES`, `SHOW COLUMNS FROM t` / `DESCRIBE t` (a
MySQL-like listing), `SELECT … INTO OUTFILE 'f' FIELDS … LINES …` (a DuckDB `COPY`, with the
`(SELECT 'header', …) UNION ALL (SELECT …)` idiom turned into a CSV header) and `UNIX_TIMESTAMP`.
"""

from __future__ import annotations

import logging
import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from kiai.errors import KiaiError

SEARCH_SCHEMAS = ("main", "ppy", "parsed", "raw", "features", "staging", "kiai")
_IDENT = r"`?([A-Za-z0-9_$]+)`?"
_SHOW_TABLES = re.compile(
    r"SHOW\s+(?:FULL\s+)?TABLES(?:\s+(?:FROM|IN)\s+" + _IDENT + r")?(?:\s+LIKE\s+'([^']*)')?", re.I
)
_SHOW_COLUMNS = re.compile(
    r"(?:SHOW\s+(?:FULL\s+)?(?:COLUMNS|FIELDS)\s+(?:FROM|IN)|DESCRIBE|DESC|EXPLAIN)\s+"
    + r"(?:"
    + _IDENT
    + r"\.)?"
    + _IDENT
    + r"(?:\s+(?:FROM|IN)\s+"
    + _IDENT
    + r")?",
    re.I,
)
_SHOW_DATABASES = re.compile(r"SHOW\s+(?:DATABASES|SCHEMAS)", re.I)
_STRING = r"'((?:[^'\\]|\\.|'')*)'"
_OUTFILE = re.compile(r"\bINTO\s+OUTFILE\s+" + _STRING + r"(?P<options>.*)$", re.I | re.S)
_OPTION = re.compile(
    r"\s*(?:(FIELDS|COLUMNS|LINES)\s+)?(TERMINATED\s+BY|(?:OPTIONALLY\s+)?ENCLOSED\s+BY|ESCAPED\s+BY|STARTING\s+BY)\s+"
    + _STRING,
    re.I,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"', "Z": "\x1a"}


class MySQLDialectError(KiaiError):
    """MySQL text that kiai cannot run."""


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text.replace("''", "'"))


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def split_statements(sql: str) -> list[str]:
    """Split on `;` outside quotes, backticks and comments; drop empty statements."""
    out, start, i, n = [], 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            i += 1
            while i < n and sql[i] != ch:
                i += 2 if sql[i] == "\\" and ch != "`" else 1
        elif sql.startswith("--", i) or ch == "#":
            i = sql.find("\n", i) if "\n" in sql[i:] else n
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 1
        elif ch == ";":
            out.append(sql[start:i])
            start = i + 1
        i += 1
    out.append(sql[start:])
    return [s.strip() for s in out if s.strip()]


def _schema_of(table: str) -> str:
    """The schema a bare name resolves to, in search-path order (as `kiai sql` sets it)."""
    order = ", ".join(_quote(s) for s in SEARCH_SCHEMAS)
    return (
        f"(SELECT table_schema FROM information_schema.tables WHERE table_name = {_quote(table)} "
        f"ORDER BY list_position([{order}], table_schema) NULLS LAST LIMIT 1)"
    )


def _show_tables(schema: str | None, like: str | None) -> str:
    where = f"table_schema = {_quote(schema)}" if schema else "table_schema NOT IN ('information_schema', 'pg_catalog')"
    if like is not None:
        where += f" AND table_name LIKE {_quote(like)}"
    name = "CASE WHEN table_schema IN ('main', 'ppy') THEN table_name ELSE table_schema || '.' || table_name END"
    return (
        f'SELECT {name} AS "Tables_in_{schema or "kiai"}" FROM information_schema.tables '
        f"WHERE {where} AND table_catalog = current_database() ORDER BY 1"
    )


def _show_columns(schema: str | None, table: str) -> str:
    in_schema = f"table_schema = {_quote(schema)}" if schema else f"table_schema = {_schema_of(table)}"
    where = f"table_name = {_quote(table)} AND {in_schema} AND table_catalog = current_database()"
    missing = _quote(f"Table '{schema + '.' if schema else ''}{table}' doesn't exist")
    listing = (
        'SELECT column_name AS "Field", lower(data_type) AS "Type", '
        "CASE WHEN is_nullable = 'YES' THEN 'YES' ELSE 'NO' END AS \"Null\", '' AS \"Key\", "
        'column_default AS "Default", \'\' AS "Extra", ordinal_position AS _position '
        f"FROM information_schema.columns WHERE {where}"
    )
    # A second branch that only has a row (raising the error) when the table is missing.
    absent = (
        f"SELECT error({missing}), NULL, NULL, NULL, NULL, NULL, NULL "
        f"WHERE NOT EXISTS (SELECT 1 FROM information_schema.tables WHERE {where})"
    )
    return f"SELECT * EXCLUDE (_position) FROM ({listing} UNION ALL {absent}) ORDER BY _position"


def _fix_functions(tree: exp.Expression) -> exp.Expression:
    """Rewrite MySQL functions that sqlglot passes through unchanged but DuckDB lacks."""

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and str(node.this).upper() == "UNIX_TIMESTAMP":
            if not node.expressions:
                return sqlglot.parse_one("CAST(EPOCH(CURRENT_TIMESTAMP) AS BIGINT)", read="duckdb")
            arg = node.expressions[0].sql("duckdb")  # a naive timestamp is UTC, as the dump's are
            return sqlglot.parse_one(f"CAST(EPOCH(CAST({arg} AS TIMESTAMP)) AS BIGINT)", read="duckdb")
        return node

    return tree.transform(fix)


def _parse(statement: str) -> exp.Expression:
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)  # sqlglot warns when it falls back to a Command
    try:
        tree = sqlglot.parse_one(statement, read="mysql")
    except SqlglotError as exc:
        raise MySQLDialectError(f"cannot parse MySQL statement: {str(exc).splitlines()[0]}") from None
    finally:
        logger.setLevel(level)
    if isinstance(tree, exp.Command | exp.Show | exp.Describe):
        raise MySQLDialectError(f"unsupported MySQL statement: {_head(statement)}")
    return _fix_functions(tree)


def _head(statement: str) -> str:
    words = statement.split()
    return " ".join(words[:3]) + (" …" if len(words) > 3 else "")


def _outfile(statement: str, match: re.Match[str]) -> str:
    path = _unescape(match.group(1))
    options = {"delimiter": "\t", "quote": "", "escape": "\\", "newline": "\n", "optionally": False}
    section = "FIELDS"
    rest = match.group("options")
    while rest.strip():
        option = _OPTION.match(rest)
        if not option:
            raise MySQLDialectError(f"unsupported INTO OUTFILE option: {rest.strip()[:40]}")
        section = (option.group(1) or section).upper().replace("COLUMNS", "FIELDS")
        word, value = option.group(2).upper(), _unescape(option.group(3))
        if section == "LINES" and word.startswith("TERMINATED"):
            options["newline"] = value
        elif section == "LINES":
            if value:
                raise MySQLDialectError("LINES STARTING BY is not supported")
        elif word.startswith("TERMINATED"):
            options["delimiter"] = value
        elif "ENCLOSED" in word:
            options["quote"], options["optionally"] = value, word.startswith("OPTIONALLY")
        else:
            options["escape"] = value
        rest = rest[option.end() :]
    if options["newline"] not in ("\n", "\r\n"):
        raise MySQLDialectError("INTO OUTFILE needs LINES TERMINATED BY '\\n' or '\\r\\n'")
    tree = _parse(statement[: match.start()].rstrip())
    header: list[str] | None = None
    if isinstance(tree, exp.Union) and tree.args.get("distinct") is False:
        branches = _flatten(tree)
        first = branches[0]
        if isinstance(first, exp.Select) and not first.args.get("from_") and not first.args.get("from"):
            values = first.expressions
            if values and all(isinstance(v, exp.Literal) and v.is_string for v in values):
                header = [v.this for v in values]
                rest_tree = branches[1]
                for branch in branches[2:]:
                    rest_tree = exp.union(rest_tree, branch, distinct=False)
                tree = rest_tree
    body = tree.sql("duckdb")
    if header is not None:
        names = ", ".join('"' + h.replace('"', '""') + '"' for h in header)
        body = f"SELECT * FROM ({body}) AS outfile({names})"
    copy = [
        "FORMAT csv",
        f"DELIMITER {_quote(options['delimiter'])}",
        f"HEADER {'true' if header is not None else 'false'}",
        "NULLSTR " + _quote("\\N" if options["escape"] else "NULL"),
    ]
    if options["quote"]:
        # Quotes inside values are doubled (DuckDB refuses an ESCAPE that also starts NULLSTR \\N).
        copy.append(f"QUOTE {_quote(options['quote'])}")
        if not options["optionally"]:
            copy.append("FORCE_QUOTE *")
    else:
        copy.append("QUOTE ''")
    if options["newline"] == "\r\n":
        copy.append("NEW_LINE '\\r\\n'")
    return f"COPY ({body}) TO {_quote(path)} ({', '.join(copy)})"


def _flatten(tree: exp.Expression) -> list[exp.Expression]:
    if isinstance(tree, exp.Union) and tree.args.get("distinct") is False:
        return _flatten(tree.this) + _flatten(tree.expression)
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    return [tree]


def _one(statement: str) -> list[str]:
    if match := _SHOW_TABLES.fullmatch(statement):
        return [_show_tables(match.group(1), match.group(2))]
    if match := _SHOW_COLUMNS.fullmatch(statement):
        schema, table, other = match.groups()
        return [_show_columns(schema or other, table)]
    if _SHOW_DATABASES.fullmatch(statement):
        return [
            'SELECT schema_name AS "Database" FROM information_schema.schemata '
            "WHERE catalog_name = current_database() ORDER BY 1"
        ]
    if re.fullmatch(r"USE\s+" + _IDENT, statement, re.I):
        return []  # one warehouse: nothing to switch
    if match := _OUTFILE.search(statement):
        return [_outfile(statement, match)]
    return [_parse(statement).sql("duckdb")]


def to_duckdb(sql: str) -> list[str]:
    """DuckDB statements, in order, for MySQL text holding one or more statements."""
    statements = [s for statement in split_statements(sql) for s in _one(statement)]
    if not statements:
        raise MySQLDialectError("no SQL statement to run")
    return statements
