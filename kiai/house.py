"""`kiai.Warehouse`: the library facade, one method per capability, each returning a typed summary.

It owns the settings and the connection's lifetime: every method opens the warehouse for what it needs (read-only,
or for writing, waiting `wait` seconds for another process's lock) and closes it before returning, so other
commands are locked out no longer than a call. Progress goes to its `reporter` (kiai.progress). The CLI is
this class plus option parsing and rendering; tests and notebooks call it directly:

    with Warehouse("warehouse/kiai.duckdb") as wh:
        wh.ingest(["data/beatmaps/"])
        wh.build()
        with wh.query("SELECT count(*) FROM parsed.beatmap_files") as results: ...
"""

from __future__ import annotations

import re
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from kiai import warehouse
from kiai.config import Config, Limits, load_config
from kiai.errors import KiaiError
from kiai.progress import NULL_REPORTER, ModelBuilt, Notice, PlanReady, Reporter, TableImported, Warned, task
from kiai.progress import rates as rates_of

if TYPE_CHECKING:  # the heavy ones (requests, pyarrow, sqlglot) are imported by the methods that use them
    from kiai.load.osu_files import IngestSummary
    from kiai.load.ppy_dump import TableResult
    from kiai.load.replay_queue import FetchSummary
    from kiai.load.replays import ReplayIngestSummary
    from kiai.ml.compare import Comparison
    from kiai.ml.predict import Prediction
    from kiai.ml.runs import Run
    from kiai.schema.migrations import Applied
    from kiai.sources.clients import Sources
    from kiai.sources.downloads import DownloadSummary
    from kiai.sources.osu_api import BeatmapsSummary, UserScoresSummary
    from kiai.transform.compile import CompiledModel
    from kiai.transform.export import ExportResult, SplitColumn
    from kiai.transform.lake import LakeReport
    from kiai.transform.manage import Diff, Status
    from kiai.transform.replay_windows import Filters, WindowExport, WindowSpec
    from kiai.transform.replay_windows import Progress as WindowProgress
    from kiai.transform.runner import BuildReport
    from kiai.transform.store import Version

REPLAY_LANDING_WAIT = 60.0  # seconds a fetched replay waits to land while another process reads the warehouse


@dataclass(frozen=True)
class AuthCheck:
    client_id: str
    expires_at: datetime  # UTC


@dataclass(frozen=True)
class CollectionsFetched:
    configured: int
    fetched: int
    not_found: int
    beatmaps_listed: int

    @property
    def already_stored(self) -> int:
        return self.configured - self.fetched


@dataclass(frozen=True)
class OsuFilesDownloaded:
    download: DownloadSummary
    ingested: IngestSummary | None  # None: not asked (ingest=False) or no valid file


@dataclass(frozen=True)
class DumpImported:
    tables: list[TableResult]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)


@dataclass(frozen=True)
class ReplaysQueued:
    from_sql: int | None  # ids the --sql query gave (None: no query)
    sql_column: str | None
    asked: int  # distinct ids asked, from the query and the list
    added: int  # of those, new in the queue


@dataclass(frozen=True)
class TableCount:
    schema: str
    name: str
    kind: str  # table | view
    rows: int | None  # None: a view whose upstream is gone


@dataclass
class ModelDetails:
    """What `kiai models show` prints about one model."""

    model: Any  # kiai.transform.project.Model
    upstream: list[str]
    downstream: list[str]
    sources: list[str]
    rendered_sql: str
    vars: dict[str, Any]
    versions: list[Version] = field(default_factory=list)


@dataclass(frozen=True)
class Migrated:
    schema_version: int
    applied: list[Applied]  # empty: nothing to do


class Warehouse:
    """One warehouse file and its settings (kiai.toml, env vars); see the module docstring."""

    def __init__(
        self,
        db: Path | str | None = None,
        *,
        config: Config | None = None,
        wait: float | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        if config is None:
            config = load_config(db_path=Path(db) if db is not None else None)
        elif db is not None:
            config = replace(config, db_path=Path(db))
        self.config = config
        self.wait = wait  # seconds to wait for another process's lock; None: not given (0, or a call's own)
        self.reporter = reporter or NULL_REPORTER
        self._sources: Sources | None = None
        self._handed_out: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close any connection handed out by `open` that its caller left open."""
        for con in list(self._handed_out):
            con.close()  # a no-op on one already closed

    @property
    def path(self) -> Path:
        return self.config.db_path

    @property
    def limits(self) -> Limits:
        return Limits.from_config(self.config)

    # -- connections

    def open(self, write: bool = False, wait: float | None = None) -> duckdb.DuckDBPyConnection:
        """A connection (the caller closes it; `close()` does for those left open). Writing creates the warehouse
        and its schemas; while another process holds it, wait up to `wait` seconds (default: this Warehouse's)."""
        seconds = wait if wait is not None else self.wait or 0.0
        con = warehouse.connect(self.path, read_only=not write, wait=seconds, on_wait=self._say_waiting)
        self._handed_out.add(con)
        return con

    @contextmanager
    def connect(self, write: bool = False, wait: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for the block, closed after it."""
        con = self.open(write, wait)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def _landing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A writing connection with every landing table in place."""
        from kiai.load import ensure_tables

        with self.connect(write=True) as con:
            ensure_tables(con)
            yield con

    def _say_waiting(self, text: str) -> None:
        self.reporter.report(Notice(text, to_stderr=True))

    @property
    def sources(self) -> Sources:
        """The HTTP clients of the osu! API, osu!collector and the file downloads, from the settings."""
        if self._sources is None:
            from kiai.sources.clients import Sources
            from kiai.sources.settings import load_settings

            self._sources = Sources(load_settings(self.config))
        return self._sources

    # -- the warehouse itself

    def create(self) -> Path:
        """Create the warehouse file, its schemas and landing tables (idempotent)."""
        with self._landing():
            pass
        return self.path

    def tables(self) -> list[TableCount]:
        """Every table and view with its row count."""
        with self.connect() as con:
            return [TableCount(*row) for row in warehouse.table_counts(con)]

    def migrate(self) -> Migrated:
        """Apply the pending schema migrations of a warehouse written by an older kiai, each all or nothing."""
        from kiai.schema import RAW_FILES, migrations

        seconds = self.wait or 0.0
        with closing(warehouse.connect(self.path, wait=seconds, on_wait=self._say_waiting, migrate=False)) as con:
            if not migrations.pending(con):
                return Migrated(migrations.LATEST, [])
            kept = warehouse.table_exists(con, *RAW_FILES.split("."))  # a warehouse that only fetched has none
            files = warehouse.first_row(con.execute(f"SELECT count(*) FROM {RAW_FILES}")) if kept else None
            with self._ingest_task("migrate", files[0] if files else None) as update:
                return Migrated(migrations.LATEST, migrations.upgrade(con, self.path, on_progress=update))

    @contextmanager
    def query(
        self,
        sql: str,
        params: dict[str, Any] | None = None,
        *,
        dialect: str = "duckdb",
        write: bool = False,
        force: bool = False,
    ) -> Iterator[Iterator[Any]]:
        """Run SQL (DuckDB's, or MySQL's transpiled) with bare names resolving to the ppy tables; yields the results,
        one per statement as it runs (kiai.query.Result, or an INTO OUTFILE's outcome). Read each before taking the
        next (the next statement replaces its rows) and inside the block (it closes the connection)."""
        from kiai import query

        if dialect not in ("duckdb", "mysql"):
            raise KiaiError(f"unknown --dialect {dialect!r}; choose duckdb or mysql")
        with self.connect(write=write) as con:
            query.set_search_path(con)
            if dialect == "mysql":
                from kiai import mysql_dialect

                if notice := mysql_dialect.older_import_notice(con):
                    self.reporter.report(Notice(notice, to_stderr=True))
                yield iter(mysql_dialect.run(con, sql, params or {}, read_only=not write, force=force))
            else:
                yield iter(query.run(con, sql, params or {}, read_only=not write))

    # -- fetching and downloading

    def auth_check(self) -> AuthCheck:
        """Get a token with the configured client credentials: the client id and when the token expires."""
        credentials = self.sources.credentials()
        expires_at = credentials.fetch()
        return AuthCheck(credentials.client_id, datetime.fromtimestamp(expires_at, UTC))

    def fetch_collections(self, refresh: bool = False, pages: bool = False, per_page: int = 100) -> CollectionsFetched:
        """Fetch the collections of kiai.toml [collections] and store their labels; a rerun asks only for those
        not stored yet (all with `refresh`). With `pages`, also page their full beatmap objects."""
        from kiai.load import api_responses
        from kiai.sources.settings import collection_categories

        pairs = collection_categories(self.config)
        if not pairs:
            raise KiaiError("no collections configured: add e.g. [collections] stream = [1234] to kiai.toml")
        collector = self.sources.collector()
        ids = list(dict.fromkeys(cid for _, cid in pairs))
        fetched = missing = 0
        with self._landing() as con, task(self.reporter, "collections", len(ids)) as progress:
            api_responses.set_collection_labels(con, pairs)
            done = set() if refresh else api_responses.landed_collections(con)
            with collector.http.waits_shown(progress.note):
                for cid in ids:
                    if cid not in done:
                        response = collector.collection(cid)
                        api_responses.land(con, response)
                        fetched += 1
                        missing += response.http_status == 404
                    if pages:
                        landed = {} if refresh else api_responses.landed_pages(con, cid, per_page)
                        collector.pages(cid, lambda f: api_responses.land(con, f), landed, per_page)
                    progress.advance()
            members = len(api_responses.labelled_beatmap_ids(con))
        return CollectionsFetched(len(ids), fetched, missing, members)

    def fetch_beatmaps(
        self, ids: list[int] | None = None, from_dump: bool = False, refresh: bool = False
    ) -> BeatmapsSummary:
        """Fetch beatmaps from /api/v2/beatmaps in batches of 50: `ids`, every beatmap of the dump (`from_dump`),
        else every labelled one; ids already fetched are skipped unless `refresh`."""
        from kiai.load import api_responses
        from kiai.sources import osu_api

        with self._landing() as con:
            if ids is None:
                ids = _dump_beatmap_ids(con) if from_dump else api_responses.labelled_beatmap_ids(con)
                if not ids and not from_dump:
                    raise KiaiError("no labelled beatmaps yet: run `kiai fetch collections` first (or pass --ids FILE)")
            skip = set() if refresh else api_responses.fetched_beatmap_ids(con)
            land = lambda f: api_responses.land(con, f)  # noqa: E731
            return osu_api.fetch_beatmaps(self.sources.osu_api(), ids, skip, land, self.reporter)

    def fetch_user_scores(
        self, user_id: int, score_type: str = "best", mode: str = "osu", page_size: int = 100, refresh: bool = False
    ) -> UserScoresSummary:
        """Page a user's score list (best, firsts, pinned or recent) up to the API's cap of 100; a rerun goes on
        from the pages stored (all again with `refresh`)."""
        from kiai.load import api_responses
        from kiai.sources import osu_api

        if score_type not in osu_api.SCORE_TYPES:
            raise KiaiError(f"--type must be one of {', '.join(osu_api.SCORE_TYPES)}, not {score_type!r}")
        with self._landing() as con:
            landed = {} if refresh else api_responses.landed_score_pages(con, user_id, score_type, mode)
            land = lambda f: api_responses.land(con, f)  # noqa: E731
            api = self.sources.osu_api()
            return osu_api.fetch_user_scores(api, user_id, score_type, land, landed, mode, page_size, self.reporter)

    def download_osu_files(self, retry_missing: bool = False, ingest: bool = True) -> OsuFilesDownloaded:
        """Download the .osu of every fetched beatmap into data/beatmaps/{id}.osu (md5-checked), then (`ingest`)
        ingest every valid one. Files whose last try was a 404 are asked again only with `retry_missing`."""
        from kiai.load import api_responses
        from kiai.load.osu_files import ingest_paths
        from kiai.sources.downloads import OSU_FILE, Downloader

        sources, limits = self.sources, self.limits
        with self._landing() as con:
            targets = api_responses.download_targets(con, retry_missing)
            if not targets:
                raise KiaiError("no fetched beatmaps: run `kiai fetch beatmaps` first")
            downloader = Downloader(
                sources.http("download"),
                sources.settings.osu_base_url,
                self.config.beatmaps_dir,
                lambda attempt: api_responses.record_attempt(con, attempt),
                sources.settings.min_free_mb,
                reporter=self.reporter,
                kind=replace(OSU_FILE, max_bytes=sources.settings.limits.osu_file_bytes),
            )
            summary = downloader.run(targets)
            ingested = None
            if ingest and summary.valid_paths:
                ingested = ingest_paths(con, sorted(summary.valid_paths), limits=limits)
        return OsuFilesDownloaded(summary, ingested)

    # -- landing local files

    def ingest(self, paths: list[str | Path]) -> IngestSummary:
        """Parse .osu files (files, folders, globs, .osz, tarballs) into parsed.* and keep their bytes in
        raw.osu_files; idempotent and resumable (each batch lands in its own transaction)."""
        from kiai.load.osu_files import ingest_paths
        from kiai.load.osu_sources import expand, is_archive

        found = expand(paths)  # first, for the progress bar's total (and a bad path fails before the warehouse opens)
        total = None if any(is_archive(p) for p in found) else len(found)
        with self.connect(write=True) as con, self._ingest_task("ingest .osu", total) as update:
            # ingest_paths expands `found` again, to itself (as for download_osu_files' files): ~10 us a file, 0.05 s
            # for the 5,000 files of bench/ingest_osu.py, whose ingest takes 10 s (0.5%)
            return ingest_paths(con, found, on_progress=update, limits=self.limits)

    def reparse(self) -> IngestSummary | None:
        """Parse again, from the bytes kept in raw.osu_files, every file an older parser landed (None: none)."""
        from kiai.load.osu_files import reparse_stale, stale_md5s

        with self.connect(write=True) as con:
            stale = stale_md5s(con)
            if not stale:
                return None
            with self._ingest_task("ingest .osu", len(stale)) as update:
                return reparse_stale(con, on_progress=update, md5s=stale)

    @contextmanager
    def _ingest_task(self, description: str, total: int | None) -> Iterator[Callable[[IngestSummary], None]]:
        with task(self.reporter, description, total) as progress:

            def update(summary: IngestSummary) -> None:
                seconds = summary.seconds
                speeds = rates_of(seconds, files=summary.files_seen, objects=summary.hit_objects)
                progress.update(summary.files_seen, rates=(*speeds, *rates_of(seconds, MB=summary.bytes_read / 1e6)))

            yield update

    def import_dump(
        self,
        paths: list[Path],
        tables: set[str] | None = None,
        exclude: set[str] | None = None,
        allow_incomplete: bool = False,
    ) -> DumpImported:
        """Import a data.ppy.sh MySQL dump (.tar.bz2, its folder, or .sql files) into ppy.<table>, replacing each
        table; all or nothing (with `allow_incomplete`, a dump cut short keeps the rows it has)."""
        from kiai.load.ppy_dump import import_dump
        from kiai.load.ppy_dump.streams import total_size

        total = total_size(paths)
        started = time.monotonic()
        with self._landing() as con, task(self.reporter, "ppy dump", total) as progress:

            def report(meter: Any, stats: Any) -> None:
                speeds = rates_of(time.monotonic() - started, MB=stats.bytes_read / 1e6, rows=stats.rows)
                progress.update(min(meter.done, total), rates=speeds)

            results = import_dump(con, paths, tables, exclude, report, allow_incomplete)
            progress.update(total)
        for result in results:
            self.reporter.report(TableImported(result))
        return DumpImported(results, time.monotonic() - started)

    # -- replays

    def ingest_replays(self, paths: list[str | Path]) -> ReplayIngestSummary:
        """Parse .osr replays (files, folders, globs, .zip, replay dumps) into parsed.replays and
        parsed.replay_frames, keeping their bytes in raw.replays."""
        from kiai.load import replays

        with self.connect(write=True) as con, task(self.reporter, "ingest .osr") as progress:

            def update(summary: ReplayIngestSummary) -> None:
                speeds = rates_of(summary.seconds, replays=summary.replays_added, frames=summary.frames)
                mb = rates_of(summary.seconds, MB=summary.bytes_read / 1e6)
                progress.update(summary.files_seen, total=summary.files_total, rates=(*speeds, *mb))

            return replays.ingest_paths(con, list(paths), update, self.limits)

    def queue_replays(self, sql: str | None = None, ids: list[int] | None = None, legacy: str = "") -> ReplaysQueued:
        """Ask for the replays of score ids: those a SELECT's first column gives and `ids` (legacy score ids of
        the ruleset `legacy`, when given). Asking for none with nothing queued is an error."""
        from kiai.load import replay_queue

        with self.connect(write=True) as con:
            replay_queue.ensure_tables(con)
            asked: list[int] = []
            found, column = replay_queue.score_ids_from_sql(con, sql) if sql is not None else ([], None)
            if sql is not None:
                self.reporter.report(Notice(f"--sql: {len(found):,} ids (column {column})"))
            asked = found + (ids or [])
            if not asked and sql is None and ids is None and not any(replay_queue.counts(con).values()):
                raise KiaiError('nothing asked yet: pass --sql "SELECT id FROM scores WHERE ..." or --ids FILE')
            added = replay_queue.enqueue(con, asked, legacy) if asked else 0
        return ReplaysQueued(len(found) if sql is not None else None, column, len(set(asked)), added)

    def fetch_replays(self, retry_missing: bool = False) -> FetchSummary:
        """Work the replay queue: fetch into data/replays/{score_id}.osr and land each file as it comes. The
        warehouse is open only to read the queue and to land a replay (a reader holds a landing up to a minute)."""
        from kiai.load import replay_queue

        fetcher = self.sources.replays(self.config.data_dir / "replays", reporter=self.reporter)
        landing_wait = max(self.wait or 0.0, REPLAY_LANDING_WAIT)
        return replay_queue.fetch_replays(
            lambda: self.open(write=True, wait=landing_wait), fetcher, retry_missing, self.reporter
        )

    # -- SQL models

    def build(
        self, select: list[str] | None = None, full_refresh: bool = False, variables: dict[str, Any] | None = None
    ) -> BuildReport:
        """Build the SQL models that changed (SQL, vars, upstream or data) in dependency order; the plan and each
        model's result are reported as they come (PlanReady, ModelBuilt). Failures are in the report."""
        from kiai.transform import runner

        def listen(event: str, payload: Any) -> None:
            if event == "plan":
                self.reporter.report(PlanReady(payload))
            elif event == "done":
                self.reporter.report(ModelBuilt(payload))

        with self.connect(write=True) as con:
            return runner.build(
                con, config=self.config, variables=variables, select=select, full_refresh=full_refresh, listener=listen
            )

    def model_statuses(self, variables: dict[str, Any] | None = None) -> list[Status]:
        """Every model: origin, current version, whether it is up to date."""
        from kiai.transform import manage, runner

        with self.connect() as con:
            project, graphs = runner.prepare(con, config=self.config, variables=variables)
            return manage.statuses(con, project, graphs)

    def model(self, name: str, variables: dict[str, Any] | None = None) -> ModelDetails:
        """One model: its definition, neighbours, rendered SQL and versions."""
        from kiai.transform import manage, runner, store

        with self.connect() as con:
            project, graphs = runner.prepare(con, config=self.config, variables=variables)
            model = project.get(name)
            upstream, downstream = manage.neighbours(graphs, name)
            resolved = graphs.resolved[name]
            rendered = resolved.rendered
            sources = list(resolved.analysis.sources)
            return ModelDetails(
                model, upstream, downstream, sources, rendered.sql, rendered.vars, store.versions(con, name)
            )

    def model_diff(self, name: str, variables: dict[str, Any] | None = None) -> Diff:
        """What changed on disk against a model's current version, and whether it breaks its columns."""
        from kiai.transform import manage, runner

        with self.connect() as con:
            project, graphs = runner.prepare(con, config=self.config, variables=variables)
            return manage.diff(con, project, graphs, name)

    def copy_models(self, names: list[str]) -> Any:
        """Copy shipped models into the project's models/ folder (kiai.scaffold.InitResult: copied, kept)."""
        from kiai.scaffold import copy_models

        return copy_models(self.config, names)

    def compile_models(
        self, out: Path, dialect: str = "spark", variables: dict[str, Any] | None = None
    ) -> list[CompiledModel]:
        """Write every model as `dialect` SQL in build order into `out`, with a runner script; columns come from
        the warehouse, so build first."""
        from kiai.transform.compile import compile_models, warehouse_schema, write_compiled
        from kiai.transform.project import load_project, model_folders

        with self.connect() as con:
            project = load_project(model_folders(self.config), self.config, variables)
            models = compile_models(project, warehouse_schema(con), dialect)
        write_compiled(models, out, dialect)
        return models

    def prune(self, keep: int = 3) -> list[Version]:
        """Drop old model versions, keeping the newest `keep` of each (the current one always stays)."""
        from kiai.transform import manage

        with self.connect(write=True) as con:
            return manage.prune(con, keep)

    # -- export

    def export_dataset(self, out: Path, split: Split | None = None) -> ExportResult:
        """Write features.dataset atomically as CSV or Parquet (by suffix) with <out>.manifest.json; with `split`,
        a last column `split`: each row's part in the split `kiai train` makes with the same folds and seed."""
        from kiai.transform.export import export_dataset, export_format

        export_format(out)  # a bad suffix fails before the warehouse is opened
        self._require_built()
        with self.connect(write=True) as con:
            return export_dataset(con, out, _split_column(con, split) if split is not None else None)

    def export_lake(self, folder: Path, with_bytes: bool = False) -> LakeReport:
        """Write raw, parsed, ppy and every model's current version as a Parquet lake (TableImported per table)."""
        from kiai.transform.lake import export_lake

        with self.connect() as con, task(self.reporter, "export", transient=True) as progress:

            def update(done: Any) -> None:
                mb = rates_of(done.seconds, MB=done.bytes_written / 1e6) if done.seconds > 0 else ()
                progress.update(done.rows_done, total=done.rows_total, rates=mb, description=done.relation)

            return export_lake(con, folder, with_bytes=with_bytes, on_progress=update, on_table=self._table_written)

    def export_replay_windows(self, out: Path, spec: WindowSpec, filters: Filters) -> WindowExport:
        """Replays as fixed-rate windows in Parquet (or npz) shards with manifest.json; a rerun keeps the shards
        that still match, so an interrupted export finishes (kiai.transform.replay_windows)."""
        from kiai.transform.replay_windows import export_windows

        spec.check()  # bad options fail before the warehouse is opened
        self._require_built()
        with self.connect() as con, task(self.reporter, "export windows") as progress:

            def update(done: WindowProgress) -> None:
                speeds = rates_of(done.seconds, windows=done.windows, MB=done.bytes_written / 1e6)
                progress.update(done.replays_done, total=done.replays_total, rates=speeds)

            return export_windows(con, out, spec, filters, update)

    # -- machine learning

    @property
    def models_dir(self) -> Path:
        """The folder of the run folders (Config.models_dir)."""
        return self.config.models_dir

    def train(
        self,
        kind: str,
        *,
        seed: int = 0,
        folds: int = 1,
        repeats: int = 1,
        epochs: int | None = None,
        params: dict[str, Any] | None = None,
        models_dir: Path | None = None,
    ) -> Run:
        """Train `kind` on features.dataset and register the run (kiai.ml.train; FoldDone per trained part). The
        warehouse is open read-only while reading and closed while training, so `kiai sql` etc. keep working;
        registering waits for a busy warehouse (REGISTER_WAIT, or this Warehouse's wait) rather than lose the run."""
        from kiai.ml.dataset import DatasetError
        from kiai.ml.train import REGISTER_WAIT, train_with

        if not self.path.exists():
            raise DatasetError(
                f"no dataset yet: no warehouse at {self.path}; ingest data and run `kiai build-features` first"
            )
        register_wait = REGISTER_WAIT if self.wait is None else self.wait
        return train_with(
            lambda write: self.open(write, wait=register_wait if write else None), kind,
            models_dir=models_dir or self.models_dir, seed=seed, folds=folds, repeats=repeats, epochs=epochs,
            params=params, reporter=self.reporter,
        )  # fmt: skip

    def compare(self, baseline: str | None = None, models_dir: Path | None = None) -> Comparison:
        """Every run with its test metrics and its paired differences from `baseline` (kiai.ml.compare), after
        registering the runs that finished while the warehouse was busy."""
        from kiai.ml.compare import compare

        folder = models_dir or self.models_dir
        self._register_waiting_runs(folder)
        with self.connect() as con:
            return compare(con, models_dir=folder, baseline=baseline)

    def predict(
        self, target: str | Path, run: str | None = None, variables: dict[str, Any] | None = None
    ) -> Prediction:
        """Every category's probability for a beatmap id (its features in the warehouse) or a .osu file
        (featurised by the same SQL models in a temporary warehouse), by run `run` (default: the latest)."""
        from kiai.ml.predict import predict_beatmap, predict_file

        with self.connect() as con:
            if str(target).isdigit():
                return predict_beatmap(con, int(target), run_id=run)
            return predict_file(con, Path(target), config=self.config, variables=variables, run_id=run)

    def report(
        self, out: Path, runs: list[str] | None = None, baseline: str | None = None, models_dir: Path | None = None
    ) -> Path:
        """Write one self-contained HTML report of `runs` (default: the latest ten) to `out` (kiai.ml.report)."""
        from kiai.ml.report import write_report

        with self.connect() as con:
            return write_report(con, out, models_dir=models_dir or self.models_dir, run_ids=runs, baseline=baseline)

    def _register_waiting_runs(self, folder: Path) -> None:
        """Register runs that finished while the warehouse was busy (see kiai.ml.runs); if it still is, say so."""
        from kiai.ml.runs import register_unregistered, unregistered_runs
        from kiai.warehouse import WarehouseBusy

        if not self.path.exists() or not unregistered_runs(folder, self.path):
            return
        try:
            con = self.open(write=True)
        except WarehouseBusy as exc:
            self.reporter.report(Warned(f"runs in {folder} wait to be registered: {exc}"))
            return
        with closing(con):
            for run in register_unregistered(con, folder):
                text = f"registered run {run.run_id} (it finished while the warehouse was busy)"
                self.reporter.report(Notice(text, to_stderr=True))

    def _require_built(self) -> None:
        """An export reads built models: say what to run rather than create an empty warehouse to read."""
        if not self.path.exists():
            raise KiaiError(f"no warehouse at {self.path}; run `kiai build-features` first")

    def _table_written(self, result: Any) -> None:
        self.reporter.report(TableImported(result))


@dataclass(frozen=True)
class Split:
    """The split `kiai train --folds F --seed S` makes: 1 fold is train/test 80/20, K folds are fold_1..fold_K."""

    folds: int = 1
    seed: int = 0


def _split_column(con: duckdb.DuckDBPyConnection, split: Split) -> SplitColumn:
    """Each beatmap's part, from the dataset's ids and labels only (the export reads the features itself)."""
    from kiai.ml.dataset import check_classes, load_dataset
    from kiai.ml.split import part_names
    from kiai.transform.export import SplitColumn

    frame = load_dataset(con, with_features=False)
    check_classes(frame, split.folds)
    parts = part_names(frame.labels, frame.beatmapset_ids, split.folds, split.seed)
    return SplitColumn([int(i) for i in frame.beatmap_ids], [str(p) for p in parts], split.folds, split.seed)


def _dump_beatmap_ids(con: duckdb.DuckDBPyConnection) -> list[int]:
    try:
        return [r[0] for r in con.execute("SELECT DISTINCT beatmap_id FROM ppy.osu_beatmaps").fetchall()]
    except duckdb.CatalogException:
        raise KiaiError("no ppy.osu_beatmaps table: import a data.ppy.sh dump first") from None


def ids_from_file(path: Path, what: str = "beatmap ids") -> list[int]:
    """The numbers of a file of ids (whitespace or commas); a clear error for anything else."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise KiaiError(f"{path}: cannot read ({exc.strerror})") from None
    tokens = re.split(r"[\s,]+", text.strip())
    bad = [t for t in tokens if t and not t.isdigit()]
    if bad:
        raise KiaiError(f"{path}: expected {what} (numbers), found {bad[0]!r}")
    return [int(t) for t in tokens if t]
