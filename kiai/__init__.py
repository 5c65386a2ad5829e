"""kiai: an embedded SQL analytics warehouse for osu! data."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kiai")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
