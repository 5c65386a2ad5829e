"""Write a generated difficulty as an `osu file format v14` text (osu!standard), as the editor lays it out."""

from __future__ import annotations

from dataclasses import dataclass

from kiai.sample.mapgen import GeneratedMap

TYPE_BITS = {"circle": 1, "slider": 2, "spinner": 8}
COLOURS = ((255, 128, 64), (64, 160, 255), (128, 255, 128), (255, 96, 160))


@dataclass
class Metadata:
    title: str
    artist: str
    creator: str
    version: str
    source: str
    tags: str
    beatmap_id: int
    beatmapset_id: int
    hp: float
    cs: float
    od: float
    ar: float
    preview_ms: int
    sample_set: str = "Soft"


def _number(value: float) -> str:
    """Numbers as osu! writes them: integers bare, others with up to 12 significant digits."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.12g}"


def render(meta: Metadata, gm: GeneratedMap) -> bytes:
    lines = [
        "osu file format v14",
        "",
        "[General]",
        "AudioFilename: audio.mp3",
        "AudioLeadIn: 0",
        f"PreviewTime: {meta.preview_ms}",
        "Countdown: 0",
        f"SampleSet: {meta.sample_set}",
        "StackLeniency: 0.7",
        "Mode: 0",
        "LetterboxInBreaks: 0",
        "WidescreenStoryboard: 1",
        "",
        "[Editor]",
        "DistanceSpacing: 1",
        "BeatDivisor: 4",
        "GridSize: 32",
        "TimelineZoom: 1.6",
        "",
        "[Metadata]",
        f"Title:{meta.title}",
        f"TitleUnicode:{meta.title}",
        f"Artist:{meta.artist}",
        f"ArtistUnicode:{meta.artist}",
        f"Creator:{meta.creator}",
        f"Version:{meta.version}",
        f"Source:{meta.source}",
        f"Tags:{meta.tags}",
        f"BeatmapID:{meta.beatmap_id}",
        f"BeatmapSetID:{meta.beatmapset_id}",
        "",
        "[Difficulty]",
        f"HPDrainRate:{_number(meta.hp)}",
        f"CircleSize:{_number(meta.cs)}",
        f"OverallDifficulty:{_number(meta.od)}",
        f"ApproachRate:{_number(meta.ar)}",
        f"SliderMultiplier:{_number(gm.slider_multiplier)}",
        f"SliderTickRate:{gm.tick_rate}",
        "",
        "[Events]",
        "//Background and Video events",
        '0,0,"bg.jpg",0,0',
        "//Break Periods",
        *(f"2,{start},{end}" for start, end in gm.breaks),
        "//Storyboard Layer 0 (Background)",
        "//Storyboard Layer 1 (Fail)",
        "//Storyboard Layer 2 (Pass)",
        "//Storyboard Layer 3 (Foreground)",
        "//Storyboard Layer 4 (Overlay)",
        "//Storyboard Sound Samples",
        "",
        "[TimingPoints]",
    ]
    for p in gm.timing:
        effects = 1 if p.kiai else 0
        lines.append(
            f"{_number(p.time)},{_number(p.beat_length)},4,2,1,{p.volume},{1 if p.uninherited else 0},{effects}"
        )
    lines += ["", "", "[Colours]"]
    lines += [f"Combo{i + 1} : {r},{g},{b}" for i, (r, g, b) in enumerate(COLOURS)]
    lines += ["", "[HitObjects]"]
    for o in gm.objects:
        kind = TYPE_BITS[o.kind] | (4 if o.new_combo else 0)
        head = f"{o.x},{o.y},{o.time},{kind},{o.hitsound}"
        if o.kind == "circle":
            lines.append(f"{head},0:0:0:0:")
        elif o.kind == "slider":
            edges = "|".join(["0"] * (o.slides + 1))
            sets = "|".join(["0:0"] * (o.slides + 1))
            lines.append(f"{head},{o.curve},{o.slides},{_number(o.length)},{edges},{sets},0:0:0:0:")
        else:
            lines.append(f"{head},{o.end_time},0:0:0:0:")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")
