"""The versioned SQL model runner: discover `sql/**/*.sql`, render, order, fingerprint, materialise, test.

Python API for the ML code: `build(con, ...) -> BuildReport`, `current_fingerprints(con)` (the versions
built, data included) and `current_code_fingerprints(con)` (the feature versions: SQL and vars only).
"""

from kiai.transform.runner import BuildReport, ModelResult, build
from kiai.transform.store import current_code_fingerprints, current_fingerprints

__all__ = ["BuildReport", "ModelResult", "build", "current_code_fingerprints", "current_fingerprints"]
