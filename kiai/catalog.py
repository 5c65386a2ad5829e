"""The warehouse's names, written once: its schemas and what each is for, `kiai sql`'s search path, and the API
endpoints whose answers raw.api_responses keeps.

The warehouse, the loaders, the sources, `kiai sql` (both dialects) and the model runner import them from here;
the models reach the endpoints through Jinja (`{{ is_endpoint('beatmaps', 'r') }}`, kiai.transform.render).
The landing tables' names and columns come from their DDL: kiai.schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kiai.quoting import literal


class Role(StrEnum):
    """Who writes a schema."""

    LANDED = "landed"  # the loaders: data as it came, read by models and never written by them
    MODELS = "models"  # the model runner (`kiai build-features`)
    METADATA = "metadata"  # kiai's own bookkeeping: versions, builds, exports, what a dump declared


@dataclass(frozen=True)
class Schema:
    name: str
    role: Role
    holds: str


SCHEMAS = (
    Schema("raw", Role.LANDED, "every API answer with its request, the bytes of every .osu and .osr file"),
    Schema("parsed", Role.LANDED, "the .osu and .osr files parsed into rows"),
    Schema("ppy", Role.LANDED, "a data.ppy.sh dump's tables under their own names, and the import log"),
    Schema("staging", Role.MODELS, "typed views over the raw API answers"),
    Schema("features", Role.MODELS, "features of beatmaps and the labelled dataset"),
    Schema("kiai", Role.METADATA, "schema versions, model versions and builds, exports, what a dump declared"),
)
SCHEMA_NAMES = tuple(schema.name for schema in SCHEMAS)
SOURCE_SCHEMAS = tuple(schema.name for schema in SCHEMAS if schema.role is Role.LANDED)
METADATA_SCHEMA = "kiai"
# The schemas a model may not be written to: kiai's and DuckDB's own, besides the landed ones.
RESERVED_SCHEMAS = (*SOURCE_SCHEMAS, METADATA_SCHEMA, "main", "information_schema", "pg_catalog")
# Bare names users copy from guides (`scores`, `osu_beatmaps`) resolve through this path, first match wins.
SEARCH_PATH = ("main", "ppy", "parsed", "raw", "features", "staging", "kiai")

DUMP_SCHEMA = "ppy"  # where a data.ppy.sh dump's tables land
DUMP_DATABASE = "osu"  # the dump's MySQL database (`-- Host: … Database: osu`): in MySQL text, its tables are ppy.*

OSU_API = "osu_api"  # raw.api_responses.source of the osu! API's answers
COLLECTOR = "collector"  # … and of osu!collector's


@dataclass(frozen=True)
class Endpoint:
    """An API endpoint as raw.api_responses names it: its source and its path template."""

    source: str
    path: str

    def where(self, alias: str = "") -> str:
        """A SQL condition on raw.api_responses (aliased `alias`): the rows that answer this endpoint."""
        prefix = f"{alias}." if alias else ""
        return f"{prefix}source = {literal(self.source)} AND {prefix}endpoint = {literal(self.path)}"


BEATMAPS = Endpoint(OSU_API, "/api/v2/beatmaps")
USER_SCORES = Endpoint(OSU_API, "/api/v2/users/{user}/scores/{type}")
COLLECTION = Endpoint(COLLECTOR, "/api/collections/{id}")
COLLECTION_PAGES = Endpoint(COLLECTOR, "/api/collections/{id}/beatmapsv2")
ENDPOINTS = {
    "beatmaps": BEATMAPS,
    "user_scores": USER_SCORES,
    "collection": COLLECTION,
    "collection_pages": COLLECTION_PAGES,
}
