"""The avatar's portrait card: one still frame that every video frame starts from.

A flat figure (head, hair, shoulders, eyes) on the requested background colour, with the
avatar's name and voice in a lower-third banner. It is drawn by ffmpeg itself (`geq` for
the shapes, `drawtext` with a packaged font for the words), so no imaging library is
needed. The layout is returned too: the renderer animates the mouth and blinks the eyes
at exactly these places.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .media import Processes, even

log = logging.getLogger(__name__)

DEFAULT_BACKGROUND = "#1F2A44"
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",  # Debian's fonts-dejavu-core
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
)
FONT_NAMES = ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf")
SKIN = ("#F1C7A5", "#E0AC8C", "#C68863", "#9F6B4A", "#7A4E35", "#5C3A28")
HAIR = ("#2B1D14", "#4A2F1F", "#7A5230", "#B88A4E", "#1C1C1C", "#8C8C8C")
OUTFIT = ("#3D5A9E", "#2F7D6B", "#8E3B46", "#4B4B58", "#B07A2A", "#5B4A8E", "#E6E6EA")
EYES = "#2B2B2B"
LIPS = "#3A1418"
SHAPES_LONG_SIDE = 960


@dataclass(frozen=True)
class CardSpec:
    width: int
    height: int
    background: str  # "#RRGGBB"
    avatar_id: str
    name: str
    gender: str
    caption: str  # the smaller line under the name, e.g. the voice


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class CardLayout:
    """Where the moving parts go, and the skin colour the eyelids are drawn with."""

    mouth: Box
    eyes: tuple[Box, Box]
    skin: str


@cache
def font_file() -> Path | None:
    """A TrueType font some package put on this machine, or None (then no words)."""
    for folder in FONT_DIRS:
        for name in FONT_NAMES:
            path = Path(folder) / name
            if path.is_file():
                return path
    log.warning("no DejaVu font found (apt-get install fonts-dejavu-core): cards show no names")
    return None


def draw_card(spec: CardSpec, out: Path, processes: Processes) -> CardLayout:
    """Write the card as a PNG; the text files it needs are written next to it.

    The flat shapes are drawn at most SHAPES_LONG_SIDE wide and scaled up (geq costs per
    pixel, and flat colours scale well); the words are drawn at full size.
    """
    w, h = spec.width, spec.height
    shrink = max(1, -(-max(w, h) // SHAPES_LONG_SIDE))
    pick = zlib.crc32(spec.avatar_id.encode())
    skin, hair = SKIN[pick % len(SKIN)], HAIR[(pick >> 4) % len(HAIR)]
    outfit = OUTFIT[(pick >> 8) % len(OUTFIT)]
    r = round(min(w, h) * 0.2)
    cx, cy = w // 2, round(h * 0.4)
    eye_r = max(2, round(r * 0.09))
    eye_y = cy - round(r * 0.1)
    eye_xs = (cx - round(r * 0.36), cx + round(r * 0.36))
    mouth_w, mouth_h = even(r * 0.8), even(r * 0.36)
    mouth = Box(cx - mouth_w // 2, cy + round(r * 0.3), mouth_w, mouth_h)
    k = 1 / shrink  # full-size lengths to drawn-size lengths

    def ellipse(x: float, y: float, rx: float, ry: float) -> str:
        return f"lte(pow((X-{x * k:.1f})/{rx * k:.1f},2)+pow((Y-{y * k:.1f})/{ry * k:.1f},2),1)"

    def disc(x: float, y: float, radius: float) -> str:
        return ellipse(x, y, radius, radius)

    eyes = f"({disc(eye_xs[0], eye_y, eye_r)}+{disc(eye_xs[1], eye_y, eye_r)})"
    lips = ellipse(cx, mouth.y + mouth.h / 2, mouth.w * 0.5, mouth.h * 0.42)
    head = disc(cx, cy, r)
    hair_shape = disc(cx, cy - r * 0.14, r * 1.07)
    if spec.gender == "female":
        hair_shape = f"({hair_shape}+{ellipse(cx, cy + r * 0.45, r * 1.12, r * 1.2)})"
    shoulders_y = cy + r * 2.05
    torso = f"lte(abs(X-{cx * k:.1f}),{r * 1.6 * k:.1f})*gte(Y,{shoulders_y * k:.1f})"
    body = f"({ellipse(cx, shoulders_y, r * 1.6, r * 1.25)}+{torso})"
    layers = [(eyes, EYES), (lips, LIPS), (head, skin), (body, outfit), (hair_shape, hair)]

    def channel(i: int) -> str:
        expr = str(_rgb(spec.background)[i])
        for shape, colour in reversed(layers):
            expr = f"if({shape},{_rgb(colour)[i]},{expr})"
        return expr

    small = f"{even(w / shrink)}x{even(h / shrink)}"
    filters = [
        f"geq=r='{channel(0)}':g='{channel(1)}':b='{channel(2)}'",
        f"scale={w}:{h}:flags=bicubic,gblur=sigma={0.6 * shrink:.1f}",
        *_words(spec, out.parent),
    ]
    processes.ffmpeg(
        ["-f", "lavfi", "-i", f"color=c=black:s={small}:d=1,format=rgb24",
         "-vf", ",".join(filters), "-frames:v", "1", out.name],
        cwd=out.parent,
    )  # fmt: skip
    lids = [Box(x - eye_r - 1, eye_y - eye_r - 1, 2 * eye_r + 3, 2 * eye_r + 3) for x in eye_xs]
    return CardLayout(mouth=mouth, eyes=(lids[0], lids[1]), skin=skin)


def _words(spec: CardSpec, folder: Path) -> list[str]:
    """drawtext filters for the banner. Text and font are files in `folder`, named plainly,
    and ffmpeg runs there, so no user text or path ever needs filter escaping."""
    font = font_file()
    if font is None:
        return []
    link = folder / "card-font.ttf"
    if not link.exists():
        link.symlink_to(font)
    ink = "black" if _luminance(spec.background) > 0.6 else "white"
    paper = "white@0.55" if ink == "black" else "black@0.45"
    h = spec.height
    big = _fitting(spec.name, spec.width, round(h * 0.055))
    small = _fitting(spec.caption, spec.width, round(h * 0.032))
    top = round(h * 0.74)
    (folder / "card-name.txt").write_text(spec.name, encoding="utf-8")
    (folder / "card-caption.txt").write_text(spec.caption, encoding="utf-8")
    (folder / "card-brand.txt").write_text("HeyGen sandbox", encoding="utf-8")
    common = "fontfile=card-font.ttf:expansion=none"
    return [
        f"drawtext={common}:fontcolor={ink}:textfile=card-name.txt:fontsize={big}"
        f":x=(w-text_w)/2:y={top}:box=1:boxcolor={paper}:boxborderw={big // 3}",
        f"drawtext={common}:fontcolor={ink}:textfile=card-caption.txt:fontsize={small}"
        f":x=(w-text_w)/2:y={top + round(big * 1.6)}",
        f"drawtext={common}:fontcolor={ink}@0.7:textfile=card-brand.txt:fontsize={small}"
        f":x={small}:y={small}",
    ]


def _fitting(text: str, width: int, size: int) -> int:
    """A font size at most `size` at which `text` fits in 90% of the width (DejaVu Sans
    Bold averages about 0.62 em per character)."""
    return max(10, min(size, round(width * 0.9 / (max(len(text), 1) * 0.62))))


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _luminance(colour: str) -> float:
    r, g, b = _rgb(colour)
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
