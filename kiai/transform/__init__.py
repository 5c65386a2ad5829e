"""The versioned SQL model runner: discover `sql/**/*.sql`, render, order, fingerprint, materialise, test.

Python API for the ML code: `build(con, ...) -> BuildReport` and `current_fingerprints(con)`.
"""

from kiai.transform.runner import BuildReport, ModelResult, build
from kiai.transform.store import current_fingerprints

__all__ = ["BuildReport", "ModelResult", "build", "current_fingerprints"]
