"""Captions for a script: cues spread over the spoken length, as SRT and as ASS.

Speech takes time in proportion to letters more than to words, so each cue of a few words
gets a share of the duration by its length. The same cues are burned into the captioned
video, so what is read and what is heard line up.
"""

from __future__ import annotations

WORDS_PER_CUE = 8

Cue = tuple[float, float, str]


def cues(text: str, duration: float) -> list[Cue]:
    """Cues of up to WORDS_PER_CUE words covering `duration` seconds of speech."""
    words = text.split()
    chunks = [" ".join(words[i : i + WORDS_PER_CUE]) for i in range(0, len(words), WORDS_PER_CUE)]
    total = sum(len(c) + 1 for c in chunks) or 1
    out: list[Cue] = []
    start = 0.0
    for chunk in chunks:
        end = start + duration * (len(chunk) + 1) / total
        out.append((round(start, 3), round(end, 3), chunk))
        start = end
    return out


def srt(items: list[Cue]) -> str:
    def stamp(t: float) -> str:
        ms = round(t * 1000)
        return f"{ms // 3_600_000:02}:{ms // 60_000 % 60:02}:{ms // 1000 % 60:02},{ms % 1000:03}"

    blocks = [
        f"{n}\n{stamp(a)} --> {stamp(b)}\n{text}\n" for n, (a, b, text) in enumerate(items, 1)
    ]
    return "\n".join(blocks)


def ass(items: list[Cue], width: int = 1280, height: int = 720) -> str:
    def stamp(t: float) -> str:
        cs = round(t * 100)
        return f"{cs // 360_000}:{cs // 6000 % 60:02}:{cs // 100 % 60:02}.{cs % 100:02}"

    head = (
        f"[Script Info]\nScriptType: v4.00+\nPlayResX: {width}\nPlayResY: {height}\n\n"
        "[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    )
    lines = [f"Dialogue: 0,{stamp(a)},{stamp(b)},Default,,0,0,0,,{text}" for a, b, text in items]
    return head + "\n".join(lines) + "\n"
