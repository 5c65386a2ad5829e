"""Category archetypes of the sample world: how each kind of map tends to look, as overlapping distributions.

A set draws its own pattern mix from a Dirichlet around its archetype's mix, and its own BPM, spacing, slider
velocity and length from ranges that overlap with the other archetypes, so the categories are learnable from the
features but not separable by any single one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = ("stream", "jump", "tech", "farm", "slider", "alt")

# phrase patterns (8 beats each), see kiai.sample.mapgen
PATTERNS = ("calm", "jumps", "kick", "burst", "stream", "spaced_stream", "sliders", "tech")


@dataclass(frozen=True)
class Archetype:
    name: str
    mix: dict[str, float]  # pattern -> weight at the top difficulty
    bpm: tuple[float, float]  # mean, sd
    length_s: tuple[float, float]  # song length mean, sd
    jump_px: tuple[float, float]  # spacing of 1/2 jumps at the top difficulty
    stream_px: tuple[float, float]  # spacing of 1/4 notes
    slider_multiplier: tuple[float, float]
    sv_palette: tuple[float, ...]  # slider velocities phrases pick from
    sv_change: float  # probability that a phrase changes SV
    bpm_change: float  # probability that the song changes BPM
    ar_offset: float
    cs: tuple[float, float]
    od_offset: float
    genres: dict[int, float]  # genre_id -> weight
    tags: tuple[str, ...]  # tag words a mapper of this kind might use


_ANY_GENRE = {2: 1.0, 3: 2.0, 4: 1.5, 5: 1.5, 6: 0.5, 7: 0.3, 9: 0.3, 10: 1.5, 11: 0.8, 12: 0.2, 14: 0.2}


def _genres(**boost: float) -> dict[int, float]:
    ids = {"video_game": 2, "anime": 3, "rock": 4, "pop": 5, "electronic": 10, "metal": 11}
    weights = dict(_ANY_GENRE)
    for name, factor in boost.items():
        weights[ids[name]] *= factor
    return weights


ARCHETYPES: dict[str, Archetype] = {
    "stream": Archetype(
        "stream",
        {"stream": 0.38, "burst": 0.22, "jumps": 0.12, "sliders": 0.13, "calm": 0.05, "tech": 0.05, "kick": 0.05},
        (186, 18),
        (170, 50),
        (150, 35),
        (48, 14),
        (1.6, 0.2),
        (1.0,),
        0.05,
        0.05,
        -0.2,
        (3.9, 0.3),
        0.0,
        _genres(metal=2.0, rock=1.5, electronic=1.5),
        ("stream", "speed", "deathstream", "burst"),
    ),
    "jump": Archetype(
        "jump",
        {"jumps": 0.42, "burst": 0.16, "kick": 0.14, "sliders": 0.14, "stream": 0.06, "calm": 0.04, "tech": 0.04},
        (190, 22),
        (150, 45),
        (205, 35),
        (70, 18),
        (1.9, 0.25),
        (1.0,),
        0.05,
        0.05,
        0.2,
        (4.0, 0.3),
        0.0,
        _genres(pop=1.5, anime=1.3),
        ("jump", "aim", "jumps", "spaced"),
    ),
    "tech": Archetype(
        "tech",
        {"tech": 0.42, "sliders": 0.2, "burst": 0.14, "jumps": 0.1, "stream": 0.08, "calm": 0.06},
        (178, 22),
        (160, 45),
        (160, 40),
        (60, 18),
        (1.8, 0.3),
        (0.6, 0.75, 0.9, 1.0, 1.2, 1.5),
        0.4,
        0.35,
        0.0,
        (4.2, 0.4),
        0.4,
        _genres(electronic=2.0, video_game=1.5),
        ("tech", "technical", "finger control", "memory", "rhythm"),
    ),
    "farm": Archetype(
        "farm",
        {"kick": 0.4, "jumps": 0.32, "sliders": 0.13, "burst": 0.1, "calm": 0.05},
        (182, 14),
        (95, 25),
        (190, 35),
        (70, 18),
        (1.9, 0.25),
        (1.0,),
        0.03,
        0.02,
        0.3,
        (4.0, 0.25),
        -0.2,
        _genres(anime=2.5),
        ("farm", "aim", "jump", "tv size", "anime"),
    ),
    "slider": Archetype(
        "slider",
        {"sliders": 0.55, "tech": 0.12, "kick": 0.1, "calm": 0.1, "jumps": 0.1, "burst": 0.03},
        (172, 24),
        (165, 50),
        (150, 35),
        (65, 18),
        (2.0, 0.3),
        (0.5, 0.7, 0.85, 1.0, 1.25, 1.5, 2.0),
        0.35,
        0.1,
        -0.3,
        (4.0, 0.35),
        0.0,
        _genres(electronic=1.5, video_game=1.5),
        ("slider", "sliders", "sv", "slider art", "tech"),
    ),
    "alt": Archetype(
        "alt",
        {"spaced_stream": 0.34, "stream": 0.16, "jumps": 0.16, "burst": 0.16, "sliders": 0.12, "calm": 0.06},
        (170, 16),
        (165, 45),
        (170, 35),
        (60, 15),
        (1.7, 0.2),
        (1.0,),
        0.05,
        0.05,
        -0.6,
        (3.8, 0.3),
        -0.2,
        _genres(metal=1.5, rock=1.5, electronic=1.3),
        ("alt", "alternate", "spaced stream", "stream", "speed"),
    ),
}
