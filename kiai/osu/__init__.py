"""The osu! domain, pure: `.osu` parsing to columnar arrays. Imports nothing else of kiai."""

from kiai.osu.hit_objects import CURVE_TYPES, KINDS, HitObjectColumns
from kiai.osu.parser import PARSER_VERSION, ParsedBatch, ParsedFile, parse_batch

__all__ = [
    "CURVE_TYPES",
    "KINDS",
    "PARSER_VERSION",
    "HitObjectColumns",
    "ParsedBatch",
    "ParsedFile",
    "parse_batch",
]
