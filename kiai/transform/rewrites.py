"""Where sqlglot's DuckDB -> Spark transpilation falls short: every rewrite kiai applies, in one place.

Each rewrite takes the DuckDB syntax tree of a model (after `qualify`, so stars are expanded and columns
qualified) and returns a tree whose Spark SQL means what the DuckDB SQL meant. sqlglot alone would:

- keep `UNION ALL BY NAME`, `HUGEINT` (as INT128) and `quantile_cont(x, [p, q])`, which Spark cannot run;
- drop a DuckDB regexp's `'i'` flag (case-insensitive becomes case-sensitive), a `list(x ORDER BY k)`'s order
  and the NULLs `list()` keeps (Spark's collect_list drops them and gives [] where DuckDB gives NULL);
- keep `sum(x ORDER BY k)`: Spark has no ordered aggregates (the order only fixes a float sum's last bits);
- type row_number() INT where DuckDB has BIGINT;
- index lists 1-based (`l[i]`, and `f(x)[1]` on a list it cannot type) and lambdas' positions (`lambda e, i`)
  as DuckDB does, where Spark counts from 0.

- keep DuckDB's JSON types and casts (`CAST(x AS JSON[])`, `CAST(x -> '$.k' AS INTEGER[])`) and
  `json_merge_patch`, which Spark lacks (`->` and `->>` it turns into get_json_object, as meant).

`not_portable` names what kiai does not translate (the other JSON functions): such a model stays DuckDB-only,
and Spark reads its exported rows from the lake.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB


class DuckDBAsWritten(DuckDB):
    """DuckDB, with list positions kept as written (sqlglot shifts a literal one to 0-based only where it can
    type the list, so `f(x)[1]` and `l[1]` came out differently): `one_based` rewrites every one of them."""

    INDEX_OFFSET = 0


JSON_EXTRACTS = (exp.JSONExtract, exp.JSONExtractScalar)  # -> and ->>: Spark's get_json_object
MERGE_PATCH = "json_merge_patch"


def not_portable(tree: exp.Expr) -> str | None:
    """Why the model cannot run on Spark as written, or None."""
    for node in tree.find_all(exp.Func):
        name = node.name.lower() if isinstance(node, exp.Anonymous) else node.sql_name().lower()
        if name.startswith("json") and not isinstance(node, JSON_EXTRACTS) and name != MERGE_PATCH:
            return f"uses DuckDB's {name}(), which kiai does not translate to Spark"
    return None


def _is_json(kind: exp.DataType) -> bool:
    """`kind` is JSON or holds JSON (JSON[], STRUCT(a JSON), ...)."""
    return any(t.is_type(exp.DataType.Type.JSON) for t in kind.find_all(exp.DataType))


def json_values(tree: exp.Expr) -> exp.Expr:
    """DuckDB's JSON as Spark's JSON text (Spark has no JSON type; the lake holds JSON columns as text):

    - CAST(x AS JSON) -> x;
    - CAST(x AS T) for a list/struct/map T holding JSON, or of an `->` / `->>` result -> from_json(x, 'T'), JSON
      in T read as text (an array's objects as their JSON; Spark gives a string element unquoted);
    - json_merge_patch(x, '{"k": null, ...}'), which removes keys -> to_json(map_filter(from_json(x,
      'MAP<STRING, VARIANT>'), (k, v) -> NOT k IN (...))): the other keys in their order, values as JSON
      (keys of objects nested in them come out sorted, VARIANT's order: equal as JSON values)."""
    nested = (exp.DataType.Type.ARRAY, exp.DataType.Type.STRUCT, exp.DataType.Type.MAP)
    for cast in list(tree.find_all(exp.Cast)):
        if cast.to.is_type(exp.DataType.Type.JSON):
            cast.replace(cast.this)
        elif cast.to.is_type(*nested) and (_is_json(cast.to) or isinstance(cast.this, JSON_EXTRACTS)):
            schema = cast.to.transform(_json_as_text).sql(dialect="spark")
            cast.replace(exp.Anonymous(this="FROM_JSON", expressions=[cast.this, exp.Literal.string(schema)]))
    for merge in list(tree.find_all(exp.Anonymous)):
        if merge.name.lower() == MERGE_PATCH:
            merge.replace(_removing_keys(*merge.expressions))
    return tree


def _json_as_text(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.DataType) and node.is_type(exp.DataType.Type.JSON):
        return exp.DataType.build("STRING")
    return node


def _removing_keys(target: exp.Expr, patch: exp.Expr) -> exp.Expr:
    removed = json.loads(patch.this) if isinstance(patch, exp.Literal) and patch.is_string else None
    if not isinstance(removed, dict) or any(value is not None for value in removed.values()):
        raise ValueError(f"json_merge_patch with {patch.sql()}: kiai translates only a patch that removes keys")
    entries = exp.Anonymous(this="FROM_JSON", expressions=[target, exp.Literal.string("MAP<STRING, VARIANT>")])
    kept = exp.Not(this=exp.In(this=exp.column("k"), expressions=[exp.Literal.string(k) for k in removed]))
    keep = exp.Lambda(this=kept, expressions=[exp.to_identifier("k"), exp.to_identifier("v")])
    return exp.func("TO_JSON", exp.Anonymous(this="MAP_FILTER", expressions=[entries, keep]))


def qualify_clause(tree: exp.Expr) -> exp.Expr:
    """SELECT ... QUALIFY c -> SELECT <outputs> FROM (SELECT ..., <what c reads> AS _qN) WHERE c: Spark has no
    QUALIFY. sqlglot's own version loses columns c reads through a table name (`files.beatmap_id`)."""
    for select in list(tree.find_all(exp.Select)):
        condition = select.args.get("qualify")
        if condition is None:
            continue
        condition = condition.this.copy()
        outputs = list(select.named_selects)
        inner = select.copy()
        inner.set("qualify", None)
        taken: dict[str, str] = {}
        parts = [*condition.find_all(exp.Window)]
        parts += [c for c in condition.find_all(exp.Column) if not c.find_ancestor(exp.Window)]
        for part in parts:
            key = part.sql()
            if key not in taken:
                taken[key] = f"_q{len(taken)}"
                inner.append("expressions", exp.alias_(part.copy(), taken[key], quoted=False))
        condition = condition.transform(_named_by(taken))
        inner.set("order", None)
        outer = (
            exp.select(*(exp.column(name) for name in outputs))
            .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("_qualified"))))
            .where(condition)
        )
        order = select.args.get("order")
        if order and all(not c.table and c.name in outputs for c in order.find_all(exp.Column)):
            outer.set("order", order.copy())  # else dropped: a table's row order is no part of a model's result
        if select is tree:
            tree = outer
        else:
            select.replace(outer)
    return tree


def _named_by(taken: dict[str, str]) -> Callable[[exp.Expr], exp.Expr]:
    def rename(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Window | exp.Column) and node.sql() in taken:
            return exp.column(taken[node.sql()])
        return node

    return rename


def union_by_name(tree: exp.Expr) -> exp.Expr:
    """`a UNION ALL BY NAME b` -> a positional union: b's columns in a's order, a's missing ones NULL and b's new
    ones appended (NULL in a), as DuckDB pairs them."""
    for union in list(tree.find_all(exp.Union)):
        if not union.args.get("by_name"):
            continue
        left, right = union.this, union.expression
        if not (isinstance(left, exp.Select) and isinstance(right, exp.Select)):
            raise ValueError("UNION BY NAME of more than two SELECTs")
        names = list(left.named_selects)
        names += [n for n in right.named_selects if n not in names]
        _project(left, names)
        _project(right, names)
        union.set("by_name", None)
    return tree


def _project(select: exp.Select, names: list[str]) -> None:
    by_name = {e.alias_or_name: e for e in select.expressions}
    select.set(
        "expressions",
        [by_name.get(name) or exp.alias_(exp.Null(), name, quoted=False) for name in names],
    )


def hugeint(tree: exp.Expr) -> exp.Expr:
    """HUGEINT (128-bit integer, for exact sums) -> DECIMAL(38, 0), Spark's widest exact number."""
    for kind in tree.find_all(exp.DataType):
        if kind.is_type(exp.DataType.Type.INT128, exp.DataType.Type.UINT128):
            kind.replace(exp.DataType.build("DECIMAL(38, 0)"))
    return tree


def materialization_hints(tree: exp.Expr) -> exp.Expr:
    """WITH x AS [NOT] MATERIALIZED (...) -> WITH x AS (...): a DuckDB planning hint Spark has no syntax for."""
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)
    return tree


def quantiles(tree: exp.Expr) -> exp.Expr:
    """quantile_cont(x, p) and quantile_cont(x, [p, q]) -> percentile(x, ...), Spark's exact interpolated one."""
    for node in list(tree.find_all(exp.PercentileCont)):
        if isinstance(node.parent, exp.WithinGroup):
            continue  # already the standard form
        node.replace(exp.Anonymous(this="PERCENTILE", expressions=[node.this, node.expression]))
    return tree


def regexp_flags(tree: exp.Expr) -> exp.Expr:
    """regexp_matches(s, p, 'i') -> s RLIKE '(?i)p' (Java's inline flag; sqlglot drops DuckDB's option)."""
    for node in list(tree.find_all(exp.RegexpLike)):
        flag = node.args.get("flag")
        if flag is None:
            continue
        if not isinstance(flag, exp.Literal) or set(flag.this) - set("ims"):
            raise ValueError(f"regexp option {flag.sql()} has no Spark form kiai knows")
        pattern = node.expression
        prefix = f"(?{flag.this})"
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            pattern = exp.Literal.string(prefix + pattern.this)
        else:
            pattern = exp.func("CONCAT", exp.Literal.string(prefix), pattern)
        node.set("expression", pattern)
        node.set("flag", None)
    return tree


def ordered_aggregates(tree: exp.Expr) -> exp.Expr:
    """sum/avg/min/max(x ORDER BY k) -> the aggregate of x: the order only decides the last bits of a float sum,
    which Spark adds in its own order (results agree to rounding)."""
    for order in list(tree.find_all(exp.Order)):
        if isinstance(order.parent, exp.Sum | exp.Avg | exp.Min | exp.Max) and order.arg_key == "this":
            order.replace(order.this)
    return tree


def lists(tree: exp.Expr) -> exp.Expr:
    """list(x [ORDER BY k, ...]) [FILTER (WHERE c)] as DuckDB means it: NULLs kept, in order, NULL for no rows.

    Spark: transform(array_sort(collect_list(struct(k..., x))), s -> s.x), NULL when empty. Keys sort
    ascending with NULLs last, as DuckDB's default."""
    for agg in list(tree.find_all(exp.ArrayAgg)):
        value, keys = agg.this, []
        if isinstance(value, exp.Order):
            for ordered in value.expressions:
                if ordered.args.get("desc") or ordered.args.get("nulls_first"):
                    raise ValueError(f"list(... ORDER BY {ordered.sql()}): only ascending keys, NULLs last")
                keys.append(ordered.this)
            value = value.this
        fields = [exp.alias_(k.copy(), f"k{i}", quoted=False) for i, k in enumerate(keys)]
        fields.append(exp.alias_(value.copy(), "v", quoted=False))
        collected: exp.Expr = exp.func("COLLECT_LIST", exp.func("STRUCT", *fields))
        owner = agg.parent if isinstance(agg.parent, exp.Filter) else agg
        if owner is not agg:
            collected = exp.Filter(this=collected, expression=owner.expression.copy())
        if keys:
            collected = exp.func("ARRAY_SORT", collected)
        element = exp.to_identifier("s")
        values = exp.Transform(
            this=collected,
            expression=exp.Lambda(
                this=exp.Dot(this=element.copy(), expression=exp.to_identifier("v")), expressions=[element]
            ),
        )
        empty = exp.EQ(this=exp.func("SIZE", values.copy()), expression=exp.Literal.number(0))
        owner.replace(exp.If(this=empty, true=exp.Null(), false=values))
    return tree


def one_based(tree: exp.Expr) -> exp.Expr:
    """DuckDB counts list positions from 1: `l[i]` -> try_element_at(l, i) (1-based, NULL out of range, as
    DuckDB; the tree must be read with `DuckDBAsWritten`), and a lambda's position argument (`lambda e, i`) -> i + 1
    in its body."""
    for transform in list(tree.find_all(exp.Transform)):
        function = transform.expression
        if not (isinstance(function, exp.Lambda) and len(function.expressions) == 2):
            continue
        position = function.expressions[1].name
        for node in list(function.this.find_all(exp.Identifier, exp.Column)):
            variable = not node.table if isinstance(node, exp.Column) else not isinstance(node.parent, exp.Column)
            if node.name == position and variable and not isinstance(node.parent, exp.Dot):
                node.replace(exp.Paren(this=exp.Add(this=node.copy(), expression=exp.Literal.number(1))))
    for bracket in list(tree.find_all(exp.Bracket)):
        index = bracket.expressions[0] if len(bracket.expressions) == 1 else None
        if isinstance(index, exp.Literal) and index.is_string:
            continue  # a struct's field
        if index is None or isinstance(index, exp.Slice):
            raise ValueError(f"list slice {bracket.sql()}")
        bracket.replace(exp.func("TRY_ELEMENT_AT", bracket.this, index))
    return tree


def bigint_ranks(tree: exp.Expr) -> exp.Expr:
    """row_number(), rank(), dense_rank() are BIGINT in DuckDB and INT in Spark: cast, so results match in type."""
    for window in list(tree.find_all(exp.Window)):
        ranking = isinstance(window.this, exp.RowNumber | exp.Rank | exp.DenseRank)
        if ranking and not isinstance(window.parent, exp.Cast):
            window.replace(exp.cast(window.copy(), "BIGINT"))
    return tree


SPARK: list[Callable[[exp.Expr], exp.Expr]] = [
    json_values,
    qualify_clause,
    union_by_name,
    hugeint,
    materialization_hints,
    quantiles,
    regexp_flags,
    ordered_aggregates,
    lists,
    one_based,
    bigint_ranks,
]


def for_spark(tree: exp.Expr) -> exp.Expr:
    """Every Spark rewrite, in order, on a qualified DuckDB tree."""
    for rewrite in SPARK:
        tree = rewrite(tree)
    return tree
