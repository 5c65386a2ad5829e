"""The sample world: a seeded generator of labelled osu!standard maps (valid v14 .osu files for the archetypes
stream, jump, tech, farm, slider and alt), their osu! API v2 and osu!collector bodies, user score lists and a
data.ppy.sh-format dump, all consistent with each other (same ids, md5s, counts).

    world = generate_world(Path("data/sample/world"), seed=7)
    with SandboxServer(world.sandbox_world()) as server: ...
"""

from kiai.sample.archetypes import CATEGORIES
from kiai.sample.world import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SampleWorld, generate_world, kiai_toml

__all__ = ["CATEGORIES", "DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "SampleWorld", "generate_world", "kiai_toml"]
