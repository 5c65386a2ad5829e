"""A local stand-in for osu.ppy.sh and osucollector.com over real HTTP on 127.0.0.1, with fault injection.

world = SandboxWorld(beatmaps={...}, osu_files={...}, collections={...})
with SandboxServer(world) as server:
    base_url = server.base_url          # use as KIAI_OSU_BASE_URL and KIAI_COLLECTOR_BASE_URL
    server.inject("500", path="/api/v2/beatmaps", times=2)
"""

from kiai.sandbox.server import Fault, SandboxServer
from kiai.sandbox.world import SandboxWorld, add_osu_files, world_from_fixtures

__all__ = ["Fault", "SandboxServer", "SandboxWorld", "add_osu_files", "world_from_fixtures"]
