"""`kiai demo` talks only to its own sandbox: a user's real KIAI_* credentials and base URLs (environment or
kiai.toml) are neither used, printed nor stored. A trap server stands where the user's settings point."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from kiai.config import load_config
from tests.support.cli import run_kiai

SECRET = "Zq8rT3vL0pXw9mN2bY7cK4hJ6dF1sA5g"  # looks like an osu! OAuth client secret
TOML_SECRET = "Hk2Lm9Qp4Rt7Vw1Xz3Bn6Cd8Fg0Js5Ya"


@pytest.fixture
def trap() -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 that records every request it gets (and answers 500)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            seen.append(f"{self.command} {self.path}")
            self.send_error(500)

        do_GET = do_POST = _record

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _real_settings(folder: Path, url: str) -> dict[str, str]:
    """A user's kiai.toml and environment, both pointing at `url` with real-looking credentials."""
    (folder / "kiai.toml").write_text(
        f'[osu]\nbase_url = "{url}"\nclient_id = "31337"\nclient_secret = "{TOML_SECRET}"\n'
        f'[collector]\nbase_url = "{url}"\n[collections]\nstream = [1]\n'
    )
    return {
        "KIAI_OSU_CLIENT_ID": "27182",
        "KIAI_OSU_CLIENT_SECRET": SECRET,
        "KIAI_OSU_BASE_URL": url,
        "KIAI_COLLECTOR_BASE_URL": url,
        "KIAI_HTTP_API_MIN_GAP": "30",  # a real run's pacing would stall the demo
        "KIAI_DB": "",
        "KIAI_CONFIG": "",
        "KIAI_DATA_DIR": "",
    }


def test_the_demo_config_ignores_the_users_settings(tmp_path: Path, monkeypatch, trap) -> None:
    from kiai.demo import demo_config, generate
    from kiai.sample import DEMO_CLIENT_SECRET
    from kiai.sources.settings import load_settings

    url, _ = trap
    monkeypatch.chdir(tmp_path)
    for name, value in _real_settings(tmp_path, url).items():
        monkeypatch.setenv(name, value)
    user = load_config()
    assert load_settings(user).osu_base_url == url  # the user's own settings do point at the trap
    world = generate(tmp_path / "data" / "sample", n_sets=6)
    settings = load_settings(demo_config(user, "http://127.0.0.1:9", world))
    assert settings.osu_base_url == settings.collector_base_url == "http://127.0.0.1:9"
    client_id, secret = settings.credentials()
    assert secret.reveal() == DEMO_CLIENT_SECRET and client_id != "27182"
    assert settings.api_pacing.min_gap == 0
    assert SECRET not in (tmp_path / "data" / "sample" / "kiai.toml").read_text()


@pytest.mark.slow
def test_the_demo_talks_only_to_its_sandbox(tmp_path: Path, trap) -> None:
    url, seen = trap
    result = run_kiai("demo", "--quick", "--no-train", cwd=tmp_path, env=_real_settings(tmp_path, url))
    assert "Done in" in result.stdout and "features.dataset" in result.stdout
    assert seen == []  # not one request went where the user's settings point
    output = result.stdout + result.stderr
    assert SECRET not in output and TOML_SECRET not in output
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != tmp_path / "kiai.toml" and p.suffix != ".duckdb"]
    assert written  # the world, the demo's kiai.toml, the downloads, the windows
    for path in written:
        assert SECRET.encode() not in path.read_bytes() and TOML_SECRET.encode() not in path.read_bytes(), path
    con = duckdb.connect(str(tmp_path / "warehouse" / "kiai.duckdb"), read_only=True)
    try:
        tables = con.execute("SELECT database_name, schema_name, table_name FROM duckdb_tables()").fetchall()
        for database, schema, table in tables:  # every row of every table, as text
            hits = con.execute(
                f'SELECT count(*) FROM "{database}"."{schema}"."{table}" t '
                "WHERE contains(t::VARCHAR, ?) OR contains(t::VARCHAR, ?)",
                [SECRET, TOML_SECRET],
            ).fetchall()[0][0]
            assert hits == 0, f"{schema}.{table} holds a user secret"
        assert con.execute("SELECT count(*) FROM raw.api_responses WHERE http_status = 200").fetchall()[0][0] > 0
    finally:
        con.close()
