"""`kiai demo`: the main job end to end on the sample data bundled in the repo, offline."""

from __future__ import annotations

from pathlib import Path

import typer

from kiai.cli._common import console, state
from kiai.errors import KiaiError

REPO = Path(__file__).resolve().parents[2]
SAMPLE_OSU = REPO / "tests" / "fixtures" / "osu"
SAMPLE_DUMP = REPO / "tests" / "fixtures" / "ppy_dump" / "2026_11_01_performance_osu_top_1000.tar.bz2"
FIRST_QUERY = """
SELECT f.title, f.version, f.mode, round(t.bpm_most_common) AS bpm, t.n_objects,
       round(t.stream_density, 2) AS stream_density, round(t.kiai_note_ratio, 2) AS kiai_ratio
FROM parsed.beatmap_files f JOIN features.file_features t USING (md5)
ORDER BY t.n_objects DESC LIMIT 10
"""
NEXT_QUERIES = (
    'kiai sql "SELECT mode, count(*) AS maps, sum(n_circles + n_sliders) AS objects FROM parsed.beatmap_files '
    'GROUP BY ALL ORDER BY mode"',
    'kiai sql "SELECT b.beatmap_id, b.version, count(*) AS replays FROM scores s JOIN osu_beatmaps b USING '
    '(beatmap_id) WHERE s.has_replay GROUP BY ALL ORDER BY replays DESC LIMIT 10"',
    'kiai sql --dialect mysql "SHOW COLUMNS FROM scores;"',
)


def demo() -> None:
    """Run the main job on the bundled sample data: ingest .osu files, import a data.ppy.sh dump,
    build the feature models, and print a first query. Running it again changes nothing."""
    from kiai.cli import build_command  # the full app, to run its commands as a user would

    if not SAMPLE_OSU.is_dir() or not SAMPLE_DUMP.is_file():
        raise KiaiError(f"the bundled sample data is not here ({SAMPLE_OSU.parent}); run kiai demo from a checkout")
    command = build_command()
    db = ["--db", str(state.config.db_path)]
    steps = [
        ("Ingest the bundled .osu files", ["ingest", "osu-files", str(SAMPLE_OSU)]),
        ("Import the bundled data.ppy.sh dump", ["import", "ppy-dump", str(SAMPLE_DUMP)]),
        ("Build the feature models", ["build-features"]),
        ("A first query", ["sql", FIRST_QUERY]),
    ]
    for number, (title, args) in enumerate(steps, start=1):
        console.rule(f"[bold]{number}/{len(steps)} {title}")
        command.main(args=[*db, *args], prog_name="kiai", standalone_mode=False)
    console.rule("[bold]Done")
    console.print(f"warehouse: {state.config.db_path}")
    console.print("try next:")
    for query in NEXT_QUERIES:
        console.print(f"  {query}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
