"""Generate the hit objects and timing of one osu!standard difficulty from a song plan (seeded, numpy RNG).

A song is a run of 8-beat phrases. The plan (shared by the difficulties of a set) fixes the BPM, the kiai
phrases, the rest phrases that become breaks and the set's pattern mix; each difficulty draws its phrases'
patterns from that mix, scaled down for lower difficulties, and places the notes with the set's spacing.
Slider lengths follow osu!'s rule (length = beats x SliderMultiplier x 100 x SV), so a slider lasts exactly
the beats it was given; max combo follows lazer's slider tick rule.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from kiai.sample.archetypes import ARCHETYPES, PATTERNS, Archetype

PHRASE_BEATS = 8
WIDTH, HEIGHT = 512, 384
MARGIN = 24
MAX_SLIDER_PX = 300.0


@dataclass
class SongPlan:
    """What every difficulty of a set shares: timing, song structure, style of the set's mapper."""

    archetype: str
    segments: list[tuple[int, float]]  # (phrase index where this BPM starts, bpm)
    offset_ms: int
    phrases: int
    kiai: set[int]
    rests: set[int]
    mix: dict[str, float]
    jump_px: float
    stream_px: float
    alt_px: float  # spacing of spaced (alt) streams
    slider_multiplier: float
    tick_rate: int
    sv_palette: tuple[float, ...]
    sv_change: float
    curve_share: float  # share of perfect-curve (arc) sliders
    claps: bool
    spinner_end: float  # probability that a difficulty ends on a spinner

    @property
    def main_bpm(self) -> float:
        return self.segments[0][1]


@dataclass
class HitObject:
    kind: str  # circle | slider | spinner
    time: int
    x: int
    y: int
    end_time: int
    new_combo: bool = False
    hitsound: int = 0
    curve: str = ""  # e.g. "L|120:80" or "P|100:60|140:90"
    slides: int = 1
    length: float = 0.0
    end_x: float = 0.0
    end_y: float = 0.0
    combo: int = 1  # what the object adds to max combo


@dataclass
class TimingPoint:
    time: float
    beat_length: float
    uninherited: bool
    kiai: bool
    volume: int = 70


@dataclass
class GeneratedMap:
    objects: list[HitObject]
    timing: list[TimingPoint]
    breaks: list[tuple[int, int]]
    slider_multiplier: float
    tick_rate: int
    stats: dict[str, float] = field(default_factory=dict)

    @cached_property
    def max_combo(self) -> int:
        """The sum of the objects' combo (the objects are final once generated: computed once)."""
        return sum(o.combo for o in self.objects)


def plan_song(rng: np.random.Generator, archetype: str) -> SongPlan:
    """Draw a set's song plan around its archetype."""
    a: Archetype = ARCHETYPES[archetype]
    bpm = float(np.clip(rng.normal(*a.bpm), 110, 260))
    bpm = round(bpm) if rng.random() < 0.85 else round(bpm, 2)
    length_s = float(np.clip(rng.normal(*a.length_s), 45, 330))
    phrases = max(8, int(length_s * bpm / 60 / PHRASE_BEATS))
    segments = [(0, float(bpm))]
    if rng.random() < a.bpm_change:
        for _ in range(int(rng.integers(1, 3))):
            at = int(rng.integers(phrases // 4, max(phrases // 4 + 1, phrases - 4)))
            if all(at != s[0] for s in segments):
                segments.append((at, float(round(bpm * rng.uniform(0.75, 1.25)))))
        segments.sort()
    kiai: set[int] = set()
    for centre in (0.4, 0.8)[: int(rng.integers(1, 3))]:
        start = int(phrases * (centre + rng.normal(0, 0.05)))
        kiai.update(range(max(1, start), min(phrases, start + int(rng.integers(3, 8)))))
    rests: set[int] = set()
    if phrases > 16 and rng.random() < 0.7:
        candidates = [p for p in range(phrases // 4, phrases * 3 // 4) if p not in kiai and p + 1 not in kiai]
        for p in rng.choice(candidates, size=min(len(candidates), int(rng.integers(1, 3))), replace=False):
            rests.add(int(p))
    weights = np.array([a.mix.get(p, 0.0) for p in PATTERNS]) + 0.02
    mix = dict(zip(PATTERNS, rng.dirichlet(weights / weights.sum() * 60), strict=True))
    return SongPlan(
        archetype=archetype,
        segments=segments,
        offset_ms=int(rng.integers(150, 2500)),
        phrases=phrases,
        kiai=kiai,
        rests=rests,
        mix=mix,
        jump_px=float(np.clip(rng.normal(*a.jump_px), 110, 340)),
        stream_px=float(np.clip(rng.normal(*a.stream_px), 20, 120)),
        alt_px=float(np.clip(rng.normal(95 if archetype == "alt" else 80, 18), 50, 160)),
        slider_multiplier=round(float(np.clip(rng.normal(*a.slider_multiplier), 1.2, 2.8)), 2),
        tick_rate=2 if rng.random() < 0.12 else 1,
        sv_palette=a.sv_palette,
        sv_change=a.sv_change,
        curve_share=float(rng.uniform(0.2, 0.8)),
        claps=bool(rng.random() < 0.5),
        spinner_end=0.3,
    )


class Draws:
    """Scalar draws served from blocks of a numpy Generator (scalar `Generator` calls cost microseconds each).
    Deterministic for a given generator state."""

    def __init__(self, rng: np.random.Generator, block: int = 4096) -> None:
        self.rng, self.block = rng, block
        self._u = rng.random(block).tolist()
        self._n = rng.standard_normal(block).tolist()

    def random(self) -> float:
        if not self._u:
            self._u = self.rng.random(self.block).tolist()
        return self._u.pop()

    def normal(self, mean: float = 0.0, sd: float = 1.0) -> float:
        if not self._n:
            self._n = self.rng.standard_normal(self.block).tolist()
        return mean + sd * self._n.pop()

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def integers(self, low: int, high: int) -> int:
        return low + min(int(self.random() * (high - low)), high - low - 1)

    def choice(self, options):
        return options[min(int(self.random() * len(options)), len(options) - 1)]

    def weighted(self, weights: list[float]) -> int:
        """An index drawn with probability proportional to `weights`."""
        target, total = self.random() * sum(weights), 0.0
        for index, weight in enumerate(weights):
            total += weight
            if target < total:
                return index
        return len(weights) - 1


# --- rhythm: events (beat, kind, span_beats, slides, spacing kind) inside one phrase -------------------------


@dataclass
class _Event:
    beat: float
    kind: str  # circle | slider
    span: float = 0.0
    slides: int = 1
    spacing: str = "jump"

    @property
    def end(self) -> float:
        return self.beat + (self.span * self.slides if self.kind == "slider" else 0.0)


def _rhythm(pattern: str, rng: Draws) -> list[_Event]:
    events: list[_Event] = []
    beat = 0.0
    limit = PHRASE_BEATS - 0.5

    def add(kind: str, step: float, spacing: str, span: float = 0.0, slides: int = 1) -> None:
        nonlocal beat
        events.append(_Event(beat, kind, span, slides, spacing))
        beat += (span * slides if kind == "slider" else 0.0) + step

    while beat < limit:
        r = rng.random()
        if pattern == "calm":
            if r < 0.5:
                add("slider", 1.0, "calm", span=1.0)
            else:
                add("circle", 1.0, "calm")
        elif pattern == "jumps":
            if r < 0.1:
                add("slider", 0.5, "slider", span=1.0)
            elif r < 0.15:
                add("circle", 1.0, "jump")
            else:
                add("circle", 0.5, "jump")
        elif pattern == "kick":
            if r < 0.5 and beat % 1 == 0:
                add("slider", 0.5, "jump", span=0.5)
            else:
                add("circle", 0.5, "jump")
        elif pattern == "burst":
            if r < 0.3 and beat + 1 < limit:
                for _ in range(int(rng.choice([3, 3, 5]))):
                    add("circle", 0.25, "stream")
                beat += 0.25
            elif r < 0.4:
                add("slider", 0.5, "slider", span=0.5)
            else:
                add("circle", 0.5, "jump")
        elif pattern in ("stream", "spaced_stream"):
            spacing = "stream" if pattern == "stream" else "alt"
            if r < 0.75:
                notes = int(rng.integers(9, 33))
                for _ in range(notes):
                    if beat >= limit:
                        break
                    add("circle", 0.25, spacing)
                beat += 0.25
            elif r < 0.9:
                add("slider", 0.5, "slider", span=0.5)
            else:
                add("circle", 0.5, "jump")
        elif pattern == "sliders":
            if r < 0.75:
                span = float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
                slides = int(rng.choice([1, 1, 1, 2, 3]))
                add("slider", float(rng.choice([0.5, 1.0])), "slider", span=span, slides=slides)
            else:
                add("circle", 0.5, "slider")
        elif pattern == "tech":
            division = float(rng.choice([1 / 3, 1 / 6, 0.25, 0.5, 0.75]))
            if r < 0.35:
                span = float(rng.choice([0.25, 0.5, 0.75, 1 / 3, 2 / 3]))
                add("slider", division, "tech", span=span, slides=int(rng.choice([1, 1, 2])))
            elif r < 0.55 and division < 0.3:
                for _ in range(int(rng.integers(3, 6))):
                    add("circle", division, "stream")
                beat += 0.5 - division
            else:
                add("circle", division, "tech")
        else:
            raise ValueError(pattern)
    return [e for e in events if e.end <= limit + 1e-9]


_DOWNGRADE = {
    "stream": "burst",
    "spaced_stream": "burst",
    "tech": "sliders",
    "burst": "jumps",
    "kick": "sliders",
    "jumps": "calm",
    "sliders": "calm",
    "calm": "calm",
}


# --- placement ------------------------------------------------------------------------------------------------


def _inside(x: float, y: float, margin: float = MARGIN) -> bool:
    return margin <= x <= WIDTH - margin and margin <= y <= HEIGHT - margin


class _Cursor:
    def __init__(self, rng: Draws) -> None:
        self.rng = rng
        self.x, self.y = float(rng.uniform(100, 412)), float(rng.uniform(80, 304))
        self.heading = float(rng.uniform(0, 2 * math.pi))

    def step(self, distance: float, turn: float) -> tuple[float, float]:
        for attempt in range(12):
            heading = self.heading + turn if attempt == 0 else float(self.rng.uniform(0, 2 * math.pi))
            x, y = self.x + distance * math.cos(heading), self.y + distance * math.sin(heading)
            if _inside(x, y):
                break
        else:
            x, y = min(max(x, MARGIN), WIDTH - MARGIN), min(max(y, MARGIN), HEIGHT - MARGIN)
            heading = math.atan2(y - self.y, x - self.x) if (x, y) != (self.x, self.y) else self.heading
        self.heading = heading
        self.x, self.y = x, y
        return x, y


def _slider_path(rng: Draws, x: float, y: float, heading: float, length: float, arc_share: float):
    """A slider body of exactly `length` px from (x, y): an arc ('P') or a line ('L'). Returns (curve, tail)."""
    if rng.random() < arc_share:
        theta = float(rng.uniform(0.6, 2.4))
        radius = length / theta
        side = 1.0 if rng.random() < 0.5 else -1.0
        cx, cy = x - side * radius * math.sin(heading), y + side * radius * math.cos(heading)
        start = math.atan2(y - cy, x - cx)

        def at(phi: float) -> tuple[float, float]:
            angle = start + side * phi
            return cx + radius * math.cos(angle), cy + radius * math.sin(angle)

        samples = [at(theta * k / 8) for k in range(9)]
        if all(_inside(px, py, 4) for px, py in samples):
            mid, tail = at(theta / 2), samples[-1]
            if math.dist((round(x), round(y)), (round(mid[0]), round(mid[1]))) >= 2:
                curve = f"P|{round(mid[0])}:{round(mid[1])}|{round(tail[0])}:{round(tail[1])}"
                return curve, tail
    for direction in (heading, heading + 0.6, heading - 0.6):
        tail = (x + length * math.cos(direction), y + length * math.sin(direction))
        if _inside(*tail, 0):
            return f"L|{round(tail[0])}:{round(tail[1])}", tail
    # toward the farthest corner, which is always at least 320 px away
    corner = max(((0, 0), (WIDTH, 0), (0, HEIGHT), (WIDTH, HEIGHT)), key=lambda c: math.dist(c, (x, y)))
    direction = math.atan2(corner[1] - y, corner[0] - x)
    tail = (x + length * math.cos(direction), y + length * math.sin(direction))
    return f"L|{round(tail[0])}:{round(tail[1])}", tail


def written(value: float) -> float:
    """A number as a reader gets it back from the file (kiai.sample.osu_text writes 12 significant digits)."""
    return float(f"{value:.12g}")


def _duration(length: float, slides: int, sm: float, sv: float, beat_length: float) -> float:
    """Slider duration in ms from the values as written, in the order a reader computes it (so that the
    truncated end time is the one kiai's parser and osu! get, not one ms off)."""
    velocity = 100.0 / -written(-100.0 / sv)
    px_per_ms = 100.0 * sm * velocity / written(beat_length)
    return max(slides, 1) * written(length) / px_per_ms


def _slider_combo(length: float, slides: int, sv: float, beat_length: float, sm: float, tick_rate: int) -> int:
    """Head + ticks per span + repeats + tail, with lazer's rule (no tick within 10 ms of the span end)."""
    scoring = 100.0 * sm * sv
    tick_distance = min(scoring / tick_rate, length)
    min_from_end = scoring / beat_length * 10.0
    ticks = 0
    d = tick_distance
    while tick_distance > 0 and d <= length:
        if d >= length - min_from_end:
            break
        ticks += 1
        d += tick_distance
    return 1 + ticks * slides + (slides - 1) + 1


def generate_map(plan: SongPlan, level: float, generator: np.random.Generator) -> GeneratedMap:
    """One difficulty: `level` 0..1 scales density, spacing and how much of the set's style shows."""
    rng = Draws(generator)
    # beat -> ms over the BPM segments; an uninherited point at each segment start (whole ms, as mappers snap)
    starts: list[tuple[float, float, float]] = []  # (first beat, start ms, beat length)
    time_ms = float(plan.offset_ms)
    for index, (phrase, bpm) in enumerate(plan.segments):
        if index:
            prev_beat, prev_ms, prev_len = starts[-1]
            time_ms = float(round(prev_ms + (phrase * PHRASE_BEATS - prev_beat) * prev_len))
        starts.append((phrase * PHRASE_BEATS, time_ms, 60000.0 / bpm))

    first_beats = [s[0] for s in starts]  # ascending

    def segment(beat: float) -> tuple[float, float, float]:
        """The last segment starting at or before `beat`."""
        return starts[bisect.bisect_right(first_beats, beat + 1e-9) - 1]

    def ms(beat: float) -> float:
        first, start, length = segment(beat)
        return start + (beat - first) * length

    patterns = list(plan.mix)
    weights = np.array([plan.mix[p] for p in patterns])
    spacing_scale = 0.45 + 0.55 * level
    jump_px = plan.jump_px * spacing_scale
    stream_px = plan.stream_px * (0.7 + 0.3 * level)
    alt_px = plan.alt_px * (0.6 + 0.4 * level)
    down = float(np.clip((0.65 - level) * 1.6, 0.0, 0.9))
    cursor = _Cursor(rng)
    objects: list[HitObject] = []
    timing: list[TimingPoint] = []
    sv = 1.0
    segment_starts = {s[0] for s in starts}
    for phrase in range(plan.phrases):
        beat0 = phrase * PHRASE_BEATS
        kiai = phrase in plan.kiai
        if beat0 in segment_starts:
            _first, start, length = segment(beat0)
            timing.append(TimingPoint(start, length, True, kiai))
        if len(plan.sv_palette) > 1:
            if rng.random() < plan.sv_change * (0.4 + 0.6 * level):
                sv = float(rng.choice(plan.sv_palette))
        else:  # one SV for the song, a little faster in some kiai sections
            sv = float(rng.choice([1.1, 1.2])) if kiai and rng.random() < 0.3 else 1.0
        timing.append(TimingPoint(float(round(ms(beat0))), -100.0 / sv, False, kiai, 80 if kiai else 60))
        if phrase in plan.rests:
            continue
        w = weights.copy()
        if kiai:
            w[int(np.argmax(w))] *= 1.6
        pattern = patterns[rng.weighted(w.tolist())]
        while rng.random() < down and _DOWNGRADE[pattern] != pattern:
            pattern = _DOWNGRADE[pattern]
        for n, event in enumerate(_rhythm(pattern, rng)):
            beat = beat0 + event.beat
            start_ms = ms(beat)
            spacing = event.spacing
            if spacing == "stream":
                distance, turn = rng.normal(stream_px, stream_px * 0.15), rng.normal(0, 0.35)
            elif spacing == "alt":
                distance, turn = rng.normal(alt_px, alt_px * 0.12), rng.normal(0, 0.6)
            elif spacing == "jump":
                distance = rng.normal(jump_px, jump_px * 0.15)
                turn = (1 if rng.random() < 0.5 else -1) * rng.uniform(1.2, 2.6)
            elif spacing == "slider":
                distance, turn = rng.normal(0.6 * jump_px, 20), rng.normal(0, 1.2)
            elif spacing == "calm":
                distance, turn = rng.normal(0.45 * jump_px, 15), rng.normal(0, 1.0)
            else:  # tech
                distance, turn = rng.uniform(stream_px, jump_px), rng.uniform(-2.6, 2.6)
            if objects and start_ms - objects[-1].end_time < 1:
                continue
            x, y = cursor.step(max(float(distance), 0.0) if objects else 0.0, float(turn))
            hitsound = 0
            if n == 0 and kiai:
                hitsound = 4
            elif plan.claps and event.beat % 2 == 1:
                hitsound = 8
            elif rng.random() < 0.05:
                hitsound = 2
            obj = HitObject("circle", round(start_ms), round(x), round(y), round(start_ms), n == 0, hitsound)
            obj.end_x, obj.end_y = obj.x, obj.y
            if event.kind == "slider":
                _, _, beat_length = segment(beat)
                span = event.span
                length = span * plan.slider_multiplier * 100.0 * sv
                while length > MAX_SLIDER_PX and span > 0.25:
                    span /= 2
                    length = span * plan.slider_multiplier * 100.0 * sv
                curve, tail = _slider_path(rng, obj.x, obj.y, cursor.heading, length, plan.curve_share)
                obj.kind, obj.curve, obj.slides, obj.length = "slider", curve, event.slides, round(length, 4)
                duration = _duration(obj.length, obj.slides, plan.slider_multiplier, sv, beat_length)
                obj.end_time = obj.time + int(duration)  # as osu! reads it: start + truncated duration
                obj.combo = _slider_combo(
                    obj.length, obj.slides, sv, beat_length, plan.slider_multiplier, plan.tick_rate
                )
                if event.slides % 2:
                    obj.end_x, obj.end_y = tail
                    cursor.x, cursor.y = tail
            objects.append(obj)
    end_beat = plan.phrases * PHRASE_BEATS
    if rng.random() < plan.spinner_end:
        start = round(ms(end_beat))
        objects.append(HitObject("spinner", start, 256, 192, round(ms(end_beat + 4)), True, 4))
        objects[-1].end_x, objects[-1].end_y = 256, 192
    timing.append(TimingPoint(float(round(ms(end_beat + 4))), -100.0, False, False, 30))
    breaks = []
    for phrase in sorted(plan.rests):
        rest_start, rest_end = ms(phrase * PHRASE_BEATS), ms((phrase + 1) * PHRASE_BEATS)
        before = next((o for o in reversed(objects) if o.time < rest_start), None)
        after = next((o for o in objects if o.time >= rest_end), None)
        if before and after:
            start, end = before.end_time + 200, after.time - 600
            if end - start >= 650:
                breaks.append((start, end))
    return GeneratedMap(objects, timing, breaks, plan.slider_multiplier, plan.tick_rate)
