"""MySQL text over the warehouse, answered as MySQL would answer it (`kiai sql --dialect mysql`).

sqlglot reads the text with `KiaiMySQL`, MySQL where it means something DuckDB does not say the same
way: `DIV` truncates to an integer (DuckDB's `//` divides floats exactly), `UNIX_TIMESTAMP` is whole
seconds, `SHOW FIELDS` is `SHOW COLUMNS`. Each statement is then rewritten for DuckDB: `SHOW` and
`DESCRIBE` become catalog queries that show what the dump declared (MySQL types, keys, defaults,
kept by the importer in kiai.dump_columns), `SET @u = …` and `@u` become DuckDB variables, the dump's
database `osu` is the `ppy` schema, and select expressions without an alias are named as written, as
MySQL names them. `INTO OUTFILE` is the one clause handled as text (sqlglot does not parse it): its
tokens are cut from the statement and `mysql_outfile` writes the rows as MySQL does.

Comparisons on the dump's case-insensitive text columns need nothing here: the importer gives the
columns declared `*_ci` a NOCASE collation, so they compare so in either dialect.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import duckdb
from sqlglot import exp
from sqlglot.dialects.mysql import MySQL
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType
from sqlglot.trie import new_trie

from kiai import query
from kiai.catalog import DUMP_DATABASE, DUMP_SCHEMA, SEARCH_PATH
from kiai.errors import KiaiError
from kiai.mysql_outfile import Outfile, OutfileFormat, Written, refuse_existing, write
from kiai.quoting import literal
from kiai.warehouse import table_exists


class MySQLDialectError(KiaiError):
    """MySQL text that kiai cannot run."""


def _truncating_division(
    this: exp.Expression | None = None, expression: exp.Expression | None = None
) -> exp.Expression:
    """`a DIV b` as MySQL computes it: the quotient truncated toward zero, a BIGINT; NULL when b is 0."""
    if expression is None:
        return exp.IntDiv(this=this, expression=expression)
    quotient = exp.IntDiv(this=this, expression=exp.Nullif(this=expression, expression=exp.Literal.number(0)))
    return exp.cast(exp.Anonymous(this="trunc", expressions=[quotient]), exp.DataType.Type.BIGINT)


def _unix_timestamp(args: list[exp.Expression]) -> exp.Expression:
    """Whole seconds since 1970 of a timestamp (the dump's are UTC wall times), or of now."""
    if not args:
        return exp.UnixSeconds(this=exp.CurrentTimestamp())
    return exp.UnixSeconds(this=exp.cast(args[0], exp.DataType.Type.TIMESTAMP))


def _show_columns(full: bool) -> Any:
    return lambda self: self._parse_show_mysql("COLUMNS", target="FROM", full=full or None)


class KiaiMySQL(MySQL):
    """MySQL as kiai reads it: DIV truncates, UNIX_TIMESTAMP is whole seconds, SHOW FIELDS is SHOW COLUMNS."""

    class Parser(MySQL.Parser):
        FUNCTIONS: ClassVar = {**MySQL.Parser.FUNCTIONS, "UNIX_TIMESTAMP": _unix_timestamp}
        FACTOR: ClassVar = {**MySQL.Parser.FACTOR, TokenType.DIV: _truncating_division}
        SHOW_PARSERS: ClassVar = {
            **MySQL.Parser.SHOW_PARSERS,
            "FIELDS": _show_columns(False),
            "FULL FIELDS": _show_columns(True),
        }
        SHOW_TRIE: ClassVar = new_trie(key.split(" ") for key in SHOW_PARSERS)


@dataclass
class Statement:
    """One DuckDB statement for a MySQL one; `outfile` when its rows go to a file."""

    sql: str
    outfile: Outfile | None = None


def _tokens(sql: str) -> list[tuple[int, list[Token]]]:
    """Each statement's tokens (split at `;`; comments are not tokens), with where its text starts."""
    try:
        tokens = KiaiMySQL().tokenize(sql)
    except SqlglotError as exc:
        raise MySQLDialectError(f"cannot read the MySQL text: {str(exc).splitlines()[0]}") from None
    statements: list[tuple[int, list[Token]]] = [(0, [])]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append((token.end + 1, []))
        else:
            statements[-1][1].append(token)
    return [(start, s) for start, s in statements if s]


def split_statements(sql: str) -> list[str]:
    """Each statement's text (with the comments before it), without the `;` between them."""
    return [sql[start : tokens[-1].end + 1].strip() for start, tokens in _tokens(sql)]


def translate(sql: str, dump_metadata: bool = True) -> Iterator[Statement]:
    """DuckDB statements for MySQL text, one statement at a time (a later one is read after an earlier
    one ran). `dump_metadata`: whether kiai.dump_columns exists (a warehouse an older kiai imported
    lacks it; SHOW COLUMNS then shows DuckDB's types)."""
    found = False
    for _, tokens in _tokens(sql):
        outfile, tokens = _cut_outfile(tokens)
        tree = _parse(tokens, sql)
        for duckdb_sql in _rewrite(tree, tokens, sql, dump_metadata, outfile):
            found = True
            yield Statement(duckdb_sql, outfile)
    if not found:
        raise MySQLDialectError("no SQL statement to run")


def to_duckdb(sql: str, dump_metadata: bool = True) -> list[str]:
    """The DuckDB text of every statement (what `translate` yields, without the outfiles)."""
    return [statement.sql for statement in translate(sql, dump_metadata)]


def run(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, Any] | None = None,
    read_only: bool = False,
    force: bool = False,
) -> Iterator[query.Result | Written]:
    """Run MySQL text: each statement's rows (as `query.run` yields them), or a `Written` for an INTO OUTFILE."""
    metadata = table_exists(con, "kiai", "dump_columns")
    for statement in translate(sql, metadata):
        if statement.outfile is None:
            for result in query.run(con, statement.sql, params, read_only):
                yield _with_numeric_flags(result)
            continue
        refuse_existing(statement.outfile, force)
        for result in query.run(con, statement.sql, params, read_only):
            yield write(statement.outfile, result.rows(), force)


@dataclass
class _FlagsAsNumbers(query.Result):
    """A result whose true/false columns read 1/0."""

    flags: list[bool] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        for row in super().rows():
            yield tuple(int(v) if flag and v is not None else v for v, flag in zip(row, self.flags, strict=True))


def older_import_notice(con: duckdb.DuckDBPyConnection) -> str | None:
    """One line naming the dump tables an older kiai imported, which MySQL would answer differently (flags
    as BOOLEAN, text compared with case, DuckDB's types in SHOW COLUMNS), and what fixes them; None if none."""
    from kiai.load.ppy_dump.metadata import undeclared_tables

    tables = undeclared_tables(con)
    if not tables:
        return None
    named = ", ".join(tables[:4]) + (f" and {len(tables) - 4} more" if len(tables) > 4 else "")
    return (
        f"note: {named} {'was' if len(tables) == 1 else 'were'} imported by an older kiai (flags as true/false, "
        "text compared with case, DuckDB's types in SHOW COLUMNS): `kiai import ppy-dump` the dump again "
        "to answer as MySQL does"
    )


def _with_numeric_flags(result: query.Result) -> query.Result:
    """MySQL has no BOOLEAN (it is tinyint(1)): a true/false column (`a = b`, a DuckDB BOOLEAN) reads 1/0."""
    flags = [str(d[1]) == "BOOLEAN" for d in result.cursor.description or []]
    return _FlagsAsNumbers(**vars(result), flags=flags) if any(flags) else result


def _parse(tokens: list[Token], sql: str) -> exp.Expression:
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)  # sqlglot warns when it falls back to a Command
    try:
        trees = KiaiMySQL().parser().parse(tokens, sql)
    except SqlglotError as exc:
        raise MySQLDialectError(f"cannot parse MySQL statement: {str(exc).splitlines()[0]}") from None
    finally:
        logger.setLevel(level)
    tree = trees[0] if trees else None
    if tree is None:
        raise MySQLDialectError("no SQL statement to run")
    return tree


def _head(tokens: list[Token]) -> str:
    words = [t.text for t in tokens[:4]]
    return " ".join(words[:3]) + (" …" if len(words) > 3 else "")


# --- INTO OUTFILE: the one clause read from tokens ---------------------------------------------------------

_OPTION_WORDS = {"TERMINATED": "terminated", "ENCLOSED": "enclosed", "ESCAPED": "escaped", "STARTING": "starting"}


def _cut_outfile(tokens: list[Token]) -> tuple[Outfile | None, list[Token]]:
    """An `INTO OUTFILE 'f' [CHARACTER SET x] [FIELDS …] [LINES …]` clause at the top level, and the
    statement's other tokens."""
    depth = 0
    for index, token in enumerate(tokens):
        depth += token.token_type == TokenType.L_PAREN
        depth -= token.token_type == TokenType.R_PAREN
        if depth or token.token_type != TokenType.INTO or index + 1 >= len(tokens):
            continue
        target = tokens[index + 1]
        if target.text.upper() == "DUMPFILE":
            raise MySQLDialectError("SELECT … INTO DUMPFILE is not supported; use INTO OUTFILE")
        if target.text.upper() != "OUTFILE":
            raise MySQLDialectError("SELECT … INTO a variable is not supported: SET @v = (SELECT …) instead")
        if index + 2 >= len(tokens) or tokens[index + 2].token_type != TokenType.STRING:
            raise MySQLDialectError("INTO OUTFILE needs a file name in quotes")
        end, options = _outfile_options(tokens, index + 3)
        outfile = Outfile(Path(tokens[index + 2].text), OutfileFormat(**options))
        return outfile, tokens[:index] + tokens[end:]
    return None, tokens


def _outfile_options(tokens: list[Token], start: int) -> tuple[int, dict[str, Any]]:
    options: dict[str, Any] = {}
    section, i = "FIELDS", start

    def word(at: int) -> str:
        return tokens[at].text.upper() if at < len(tokens) else ""

    def string(at: int, what: str) -> str:
        if at >= len(tokens) or tokens[at].token_type != TokenType.STRING:
            raise MySQLDialectError(f"INTO OUTFILE: {what} needs a string")
        return tokens[at].text

    while i < len(tokens):
        if word(i) == "CHARACTER" and word(i + 1) == "SET":
            if word(i + 2).lower() not in ("utf8", "utf8mb3", "utf8mb4", "binary"):
                raise MySQLDialectError(f"INTO OUTFILE CHARACTER SET {tokens[i + 2].text}: only UTF-8 is written")
            i += 3
        elif word(i) in ("FIELDS", "COLUMNS", "LINES"):
            section = "LINES" if word(i) == "LINES" else "FIELDS"
            i += 1
        elif word(i) == "OPTIONALLY" and word(i + 1) == "ENCLOSED" and word(i + 2) == "BY":
            options["enclosed"], options["optionally"] = string(i + 3, "OPTIONALLY ENCLOSED BY"), True
            i += 4
        elif word(i) in _OPTION_WORDS and word(i + 1) == "BY":
            name = _OPTION_WORDS[word(i)]
            if section == "LINES" and name == "terminated":
                name = "lines_terminated"
            elif (section == "LINES") != (name == "starting"):
                raise MySQLDialectError(f"INTO OUTFILE: {section} {word(i)} BY is not MySQL syntax")
            options[name] = string(i + 2, f"{word(i)} BY")
            i += 3
        else:
            break
    return i, options


# --- statements --------------------------------------------------------------------------------------------


def _rewrite(
    tree: exp.Expression, tokens: list[Token], sql: str, dump_metadata: bool, outfile: Outfile | None
) -> list[str]:
    if outfile is not None and not isinstance(tree, exp.Query):
        raise MySQLDialectError("INTO OUTFILE belongs to a SELECT")
    if isinstance(tree, exp.Show):
        return [_show(tree, dump_metadata)]
    if isinstance(tree, exp.Describe):
        if isinstance(tree.this, exp.Table):
            return [_show_columns_sql(tree.this.text("db") or None, tree.this.name, False, dump_metadata)]
        return ["EXPLAIN " + _query(tree.this, tokens, sql)]
    if isinstance(tree, exp.Use):
        return []  # one warehouse: nothing to switch
    if isinstance(tree, exp.Set):
        return _set(tree)
    if isinstance(tree, exp.Command):
        raise MySQLDialectError(f"unsupported MySQL statement: {_head(tokens)}")
    if outfile is not None and isinstance(tree, exp.Union):
        tree, outfile.header = _header_idiom(tree)
    return [_query(tree, tokens, sql)]


def _query(tree: exp.Expression, tokens: list[Token], sql: str) -> str:
    if isinstance(tree, exp.Query):
        _name_columns(tree, tokens, sql)  # first: the parsed nodes know where they were written
    return tree.transform(_to_duckdb).sql("duckdb")


def _to_duckdb(node: exp.Expression) -> exp.Expression:
    """User variables as DuckDB variables; the dump's database as its schema; LIKE's default escape."""
    if isinstance(node, exp.PropertyEQ) and isinstance(node.this, exp.Parameter):
        raise MySQLDialectError("@u := … inside a query is not supported: SET @u = … first, or -p u VALUE and $u")
    if isinstance(node, exp.SessionParameter):
        raise MySQLDialectError(f"@@{node.name} (a server variable) is not supported")
    if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Var):
        return exp.Anonymous(this="getvariable", expressions=[exp.Literal.string(node.name.lower())])
    if isinstance(node, exp.Table) and node.text("db").lower() == DUMP_DATABASE and not node.text("catalog"):
        node.set("db", exp.to_identifier(DUMP_SCHEMA))
    if isinstance(node, exp.Like | exp.ILike) and not isinstance(node.parent, exp.Escape):
        pattern = node.expression
        if not isinstance(pattern, exp.Literal) or "\\" in pattern.this:  # MySQL's LIKE escapes with \ by default
            return exp.Escape(this=node.copy(), expression=exp.Literal.string("\\"))
    return node


def _set(tree: exp.Set) -> list[str]:
    statements = []
    for item in tree.expressions:
        kind = (item.text("kind") or "").upper()
        if kind in ("NAMES", "CHARACTER SET", "CHARSET"):
            continue  # kiai's text is always UTF-8
        assignment = item.this
        if kind or not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Parameter):
            raise MySQLDialectError(f"unsupported SET: {item.sql('mysql')} (SET @variable = value is supported)")
        value = assignment.expression.transform(_to_duckdb).sql("duckdb")
        statements.append(f"SET VARIABLE {assignment.this.name.lower()} = {value}")
    return statements


def _header_idiom(tree: exp.Union) -> tuple[exp.Expression, list[str] | None]:
    """`(SELECT 'id', 'pp') UNION ALL (SELECT id, pp …)`: a header row, then the query that gives the rows."""
    branches = _flatten(tree)
    first = branches[0]
    values = first.expressions if isinstance(first, exp.Select) and not first.args.get("from_") else []
    if len(branches) < 2 or not values or not all(isinstance(v, exp.Literal) and v.is_string for v in values):
        return tree, None
    rest = branches[1]
    for branch in branches[2:]:
        rest = exp.union(rest, branch, distinct=False)
    return rest, [v.this for v in values]


def _flatten(tree: exp.Expression) -> list[exp.Expression]:
    if isinstance(tree, exp.Union) and tree.args.get("distinct") is False:
        return _flatten(tree.this) + _flatten(tree.expression)
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    return [tree]


# --- column names as MySQL gives them -----------------------------------------------------------------------

_CLAUSES = {
    TokenType.FROM,
    TokenType.INTO,
    TokenType.WHERE,
    TokenType.GROUP_BY,
    TokenType.HAVING,
    TokenType.ORDER_BY,
    TokenType.LIMIT,
    TokenType.WINDOW,
    TokenType.UNION,
    TokenType.EXCEPT,
    TokenType.INTERSECT,
    TokenType.FOR,
    TokenType.LOCK,
    TokenType.QUALIFY,
}
_MODIFIERS = {"ALL", "DISTINCT", "DISTINCTROW", "HIGH_PRIORITY", "STRAIGHT_JOIN", "SQL_CALC_FOUND_ROWS"}
_OPENING = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE}
_CLOSING = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE}


def _name_columns(tree: exp.Query, tokens: list[Token], sql: str) -> None:
    """Name each select expression without an alias by its text as written (`COUNT(*)`, `IFNULL(pp,0)`), a
    string literal by its value, as MySQL does; a column keeps its name."""
    select = tree
    while isinstance(select, exp.Union | exp.Subquery):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    written = _select_list(select, tokens, sql)
    for index, projection in enumerate(select.expressions):
        if isinstance(projection, exp.Alias | exp.Column | exp.Star):
            continue
        if isinstance(projection, exp.Literal) and projection.is_string:
            name = projection.this
        else:
            name = written[index] if written else projection.sql("mysql")
        projection.replace(exp.alias_(projection.copy(), name, quoted=True))


def _select_list(select: exp.Select, tokens: list[Token], sql: str) -> list[str] | None:
    """The text of each item of the select list, from the tokens after its SELECT; None if they do not
    line up with the parsed expressions."""
    own = (n for p in select.expressions for n in p.walk() if n.parent_select is select)  # not in subqueries
    starts = [n.meta["start"] for n in own if "start" in n.meta]
    if not starts:
        return None
    first = min(starts)
    index = max((i for i, t in enumerate(tokens) if t.token_type == TokenType.SELECT and t.start < first), default=None)
    if index is None:
        return None
    items: list[list[Token]] = [[]]
    depth = 0
    for token in tokens[index + 1 :]:
        if depth == 0 and not items[0] and token.text.upper() in _MODIFIERS:
            continue
        if token.token_type in _OPENING:
            depth += 1
        elif token.token_type in _CLOSING:
            depth -= 1
            if depth < 0:
                break
        elif depth == 0 and token.token_type in _CLAUSES:
            break
        if depth == 0 and token.token_type == TokenType.COMMA:
            items.append([])
            continue
        items[-1].append(token)
    if len(items) != len(select.expressions) or not all(items):
        return None
    return [sql[item[0].start : item[-1].end + 1] for item in items]


# --- SHOW and DESCRIBE ---------------------------------------------------------------------------------------


def _schema(db: str | None) -> str | None:
    if db is None:
        return None
    return DUMP_SCHEMA if db.lower() == DUMP_DATABASE else db


def _show(tree: exp.Show, dump_metadata: bool) -> str:
    kind = tree.name.upper()
    db = _schema(tree.text("db") or None)
    if kind == "COLUMNS":
        listing = _show_columns_sql(db, tree.text("target"), bool(tree.args.get("full")), dump_metadata)
        first = "Field"
    elif kind == "TABLES":
        listing = _show_tables_sql(db, bool(tree.args.get("full")))
        first = f"Tables_in_{db or 'kiai'}"
    elif kind == "DATABASES":
        listing = (
            'SELECT schema_name AS "Database" FROM information_schema.schemata '
            "WHERE catalog_name = current_database() ORDER BY 1"
        )
        first = "Database"
    elif kind == "CREATE TABLE":
        listing = _show_create_table_sql(db, tree.text("target"), dump_metadata)
        first = "Table"
    else:
        raise MySQLDialectError(f"unsupported MySQL statement: SHOW {kind}")
    return _filtered(listing, first, tree)


def _filtered(listing: str, first: str, tree: exp.Show) -> str:
    """SHOW … LIKE 'pattern' (on the first column) and SHOW … WHERE condition (on any)."""
    conditions = []
    if (like := tree.args.get("like")) is not None:
        conditions.append(f'"{first}" LIKE {like.sql("duckdb")}')
    if (where := tree.args.get("where")) is not None:
        conditions.append(f"({where.this.transform(_to_duckdb).sql('duckdb')})")
    if not conditions:
        return listing
    return f"SELECT * FROM ({listing}) AS listing WHERE {' AND '.join(conditions)}"


def _resolved(schema: str | None, table: str) -> str:
    """A SQL expression for the schema of `table`: the one given, or the first on the search path holding it."""
    if schema:
        return literal(schema)
    order = ", ".join(literal(s) for s in SEARCH_PATH)
    return (
        f"(SELECT table_schema FROM information_schema.tables WHERE table_name = {literal(table)} "
        f"AND table_catalog = current_database() ORDER BY list_position([{order}], table_schema) NULLS LAST LIMIT 1)"
    )


def _unless_missing(listing: str, schema: str | None, table: str, width: int) -> str:
    """The listing, or MySQL's error when the table does not exist (a branch with a row only then)."""
    missing = literal(f"Table '{schema + '.' if schema else ''}{table}' doesn't exist")
    exists = (
        f"SELECT 1 FROM information_schema.tables WHERE table_name = {literal(table)} "
        f"AND table_schema = {_resolved(schema, table)} AND table_catalog = current_database()"
    )
    nulls = ", NULL" * (width - 1)
    return f"{listing} UNION ALL SELECT error({missing}){nulls} WHERE NOT EXISTS ({exists})"


_NO_DUMP_COLUMNS = (
    "(SELECT NULL::VARCHAR AS table_name, NULL::INTEGER AS position, NULL::VARCHAR AS column_name, "
    "NULL::VARCHAR AS mysql_type, NULL::BOOLEAN AS nullable, NULL::VARCHAR AS column_key, "
    "NULL::VARCHAR AS column_default, NULL::VARCHAR AS extra, NULL::VARCHAR AS collation_name, "
    "NULL::VARCHAR AS comment WHERE false)"
)


def _show_columns_sql(schema: str | None, table: str, full: bool, dump_metadata: bool) -> str:
    """SHOW [FULL] COLUMNS: the dump's declaration for ppy tables, DuckDB's types for the others."""
    schema = _schema(schema)
    declared = "kiai.dump_columns" if dump_metadata else _NO_DUMP_COLUMNS
    collation = ', m.collation_name AS "Collation"' if full else ""
    privileges = ", 'select,insert,update,references' AS \"Privileges\", coalesce(m.comment, '') AS \"Comment\""
    listing = (
        f'SELECT c.column_name AS "Field", coalesce(m.mysql_type, lower(c.data_type)) AS "Type"{collation}, '
        "CASE WHEN coalesce(m.nullable, c.is_nullable = 'YES') THEN 'YES' ELSE 'NO' END AS \"Null\", "
        "coalesce(m.column_key, '') AS \"Key\", "
        'CASE WHEN m.column_name IS NULL THEN c.column_default ELSE m.column_default END AS "Default", '
        f"coalesce(m.extra, '') AS \"Extra\"{privileges if full else ''}, c.ordinal_position AS _position "
        f"FROM information_schema.columns AS c LEFT JOIN {declared} AS m ON c.table_schema = '{DUMP_SCHEMA}' "
        "AND lower(m.table_name) = lower(c.table_name) AND lower(m.column_name) = lower(c.column_name) "
        f"WHERE c.table_name = {literal(table)} AND c.table_schema = {_resolved(schema, table)} "
        "AND c.table_catalog = current_database()"
    )
    width = 10 if full else 7
    return f"SELECT * EXCLUDE (_position) FROM ({_unless_missing(listing, schema, table, width)}) ORDER BY _position"


def _show_tables_sql(schema: str | None, full: bool) -> str:
    everything = "table_schema NOT IN ('information_schema', 'pg_catalog')"
    where = f"table_schema = {literal(schema)}" if schema else everything
    name = "CASE WHEN table_schema IN ('main', 'ppy') THEN table_name ELSE table_schema || '.' || table_name END"
    kind = ", CASE table_type WHEN 'VIEW' THEN 'VIEW' ELSE 'BASE TABLE' END AS \"Table_type\"" if full else ""
    return (
        f'SELECT {name} AS "Tables_in_{schema or "kiai"}"{kind} FROM information_schema.tables '
        f"WHERE {where} AND table_catalog = current_database() ORDER BY 1"
    )


def _show_create_table_sql(schema: str | None, table: str, dump_metadata: bool) -> str:
    """The dump's CREATE TABLE for a ppy table (as the dump wrote it), DuckDB's for the others."""
    declared = (
        "kiai.dump_tables" if dump_metadata else "(SELECT NULL::VARCHAR AS table_name, NULL::VARCHAR AS create_sql)"
    )
    listing = (
        'SELECT t.table_name AS "Table", coalesce(rtrim(d.create_sql, \';\'), t.sql) AS "Create Table" '
        f"FROM duckdb_tables() AS t LEFT JOIN {declared} AS d ON t.schema_name = '{DUMP_SCHEMA}' "
        "AND lower(d.table_name) = lower(t.table_name) "
        f"WHERE t.table_name = {literal(table)} AND t.schema_name = {_resolved(schema, table)} "
        "AND t.database_name = current_database()"
    )
    return _unless_missing(listing, schema, table, 2)
