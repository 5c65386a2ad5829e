"""Render an HTML file in a real headless Chromium (the Debian package, never a downloaded browser) and read
back what the browser laid out: a harness page loads the file in an iframe and runs `script` on it."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
VIEWPORT = (1400, 2400)

HARNESS = """<!DOCTYPE html>
<html><head><meta charset="utf-8"></head><body>
<iframe id="page" src="{src}" style="width:{width}px;height:{height}px;border:0"></iframe>
<pre id="kiai-result">pending</pre>
<script>
document.getElementById("page").addEventListener("load", () => {{
  const out = document.getElementById("kiai-result");
  try {{
    const doc = document.getElementById("page").contentDocument;
    const win = document.getElementById("page").contentWindow;
    const result = (function (doc, win) {{ {script} }})(doc, win);
    out.textContent = JSON.stringify(result);
  }} catch (error) {{
    out.textContent = JSON.stringify({{"error": String(error)}});
  }}
}});
</script>
</body></html>
"""


def require_chromium() -> str:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium): the report is not checked in a browser")
    return CHROMIUM


def render(page: Path, script: str, *, viewport: tuple[int, int] = VIEWPORT) -> Any:
    """Open `page` in headless Chromium and return what `script` (a JS function body over `doc`, `win` that
    returns a JSON-able value) returned once the page had loaded."""
    chromium = require_chromium()
    harness = page.with_name(f".harness-{page.stem}.html")
    harness.write_text(
        HARNESS.format(src=html.escape(page.name), width=viewport[0], height=viewport[1], script=script),
        encoding="utf-8",
    )
    profile = page.parent / ".chromium-profile"
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
        "--allow-file-access-from-files", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
        f"--window-size={viewport[0] + 50},{viewport[1] + 200}", "--dump-dom", harness.as_uri(),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    finally:
        harness.unlink(missing_ok=True)
        shutil.rmtree(profile, ignore_errors=True)
    found = re.search(r'<pre id="kiai-result">(.*?)</pre>', done.stdout, re.DOTALL)
    assert found, f"chromium printed no result (exit {done.returncode}): {done.stderr[-2000:]}"
    result = json.loads(html.unescape(found.group(1)))
    assert not (isinstance(result, dict) and "error" in result), result
    return result
