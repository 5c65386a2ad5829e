"""kiai: an embedded SQL analytics warehouse for osu! data. `kiai.Warehouse` is the library's front door."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiai.house import Warehouse

    __version__: str


def __getattr__(name: str) -> Any:
    """`kiai.Warehouse` and `kiai.__version__` on first use: `import kiai` (every CLI start) stays cheap
    (importlib.metadata alone imports email.* and reads the installed distributions)."""
    if name == "Warehouse":
        from kiai.house import Warehouse

        return Warehouse
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("kiai")
        except PackageNotFoundError:  # running from a source tree without an install
            found = "0.0.0"
        globals()["__version__"] = found
        return found
    raise AttributeError(f"module 'kiai' has no attribute {name!r}")


__all__ = ["Warehouse", "__version__"]
