"""kiai: an embedded SQL analytics warehouse for osu! data. `kiai.Warehouse` is the library's front door."""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiai.house import Warehouse

try:
    __version__ = version("kiai")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"


def __getattr__(name: str) -> Any:
    """`kiai.Warehouse` imported on first use: `import kiai` (every CLI start) stays cheap."""
    if name == "Warehouse":
        from kiai.house import Warehouse

        return Warehouse
    raise AttributeError(f"module 'kiai' has no attribute {name!r}")


__all__ = ["Warehouse", "__version__"]
