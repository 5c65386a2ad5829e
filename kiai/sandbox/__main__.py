"""Serve the generated sample world on 127.0.0.1 until Ctrl-C, to try the fetch commands by hand:

    python -m kiai.sandbox [--seed 7] [--sets 96] [--port 8642] [--out data/sample/world]

It prints the environment to point kiai at it (a demo-only client id and secret of this local server, not a
credential of any real service) and the kiai.toml [collections] of the world's categories.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kiai.sample import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, generate_world, kiai_toml
from kiai.sandbox.server import SandboxServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sets", type=int, default=96)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--out", type=Path, default=Path("data/sample/world"))
    args = parser.parse_args()
    world = generate_world(args.out, seed=args.seed, n_sets=args.sets)
    with SandboxServer(world.sandbox_world(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET), port=args.port) as server:
        print(f"sample world (seed {args.seed}, {len(world.osu_files)} maps) served on {server.base_url}")
        print(f"export KIAI_OSU_BASE_URL={server.base_url} KIAI_COLLECTOR_BASE_URL={server.base_url}")
        print(f"export KIAI_OSU_CLIENT_ID={DEMO_CLIENT_ID} KIAI_OSU_CLIENT_SECRET={DEMO_CLIENT_SECRET}")
        print(f"# kiai.toml ({world.config_path} holds the same):")
        print(kiai_toml(world), end="")
        print("users with score lists:", ", ".join(str(u) for u, kind in sorted(world.user_scores) if kind == "best"))
        print(f"replays: {len(world.replays)} (kiai fetch replays --sql over the dump's scores, or --ids)")
        print("Ctrl-C to stop")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped")


if __name__ == "__main__":
    main()
