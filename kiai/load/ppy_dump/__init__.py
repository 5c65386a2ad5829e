"""The data.ppy.sh dump importer: `.sql` files, folders or `.tar.bz2` archives into `ppy.<table>`."""

from kiai.load.ppy_dump.importer import DumpError, Stats, TableResult, ensure_stand_ins, ensure_tables, import_dump

__all__ = ["DumpError", "Stats", "TableResult", "ensure_stand_ins", "ensure_tables", "import_dump"]
