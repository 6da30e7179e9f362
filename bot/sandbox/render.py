"""One render: the script spoken, the avatar's card animated, and every file HeyGen serves.

`render` is blocking and self-contained (speech, card, one ffmpeg run with four outputs),
so it can run on any worker thread. It works in a scratch folder and moves the finished
files into place only at the end: whoever sees `video.mp4` in the folder sees all of them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import captions
from .card import CardLayout, CardSpec, draw_card, font_file
from .media import MediaError, Processes, even, probe
from .tts import SpeechVoice, speak

FPS = 25
TAIL_SECONDS = 0.4  # a breath of silence after the last word, as HeyGen's videos have
GIF_SECONDS = 3
GIF_FPS = 10
GIF_LONG_SIDE = 320
THUMB_LONG_SIDE = 640
THUMB_AT = 0.6  # seconds in: the first words are on the lips
MOUTH_COLOUR = "0xF2A7B5"
OUTPUTS = (
    "video.mp4", "captioned.mp4", "preview.gif", "thumbnail.jpg", "caption.srt", "caption.ass"
)  # fmt: skip


@dataclass(frozen=True)
class RenderJob:
    """Everything one render needs, already resolved from the request and the catalog."""

    video_id: str
    text: str  # what is spoken (markers removed)
    card: CardSpec
    voice: SpeechVoice
    caption: bool  # burn captions into `captioned.mp4`
    folder: Path  # where the finished files go


@dataclass(frozen=True)
class Rendered:
    duration: float  # seconds, read back from the mp4
    speech: str  # which engine spoke: "espeak-ng" | "tone" | "silence"
    files: tuple[str, ...]


Stage = Callable[[str], None]


def render(job: RenderJob, processes: Processes, on_stage: Stage | None = None) -> Rendered:
    """Make the video, preview GIF, thumbnail and captions of one job (blocking)."""
    stage = on_stage or (lambda _: None)
    work = job.folder / ".work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        stage("speech")
        speech = speak(job.text, job.voice, work / "speech.wav", processes)
        spoken = probe(speech.path).duration
        if not spoken:
            raise MediaError("the speech track has no duration")
        stage("picture")
        layout = draw_card(job.card, work / "card.png", processes)
        cues = captions.cues(job.text, spoken)
        (work / "caption.srt").write_text(captions.srt(cues), encoding="utf-8")
        ass = captions.ass(cues, job.card.width, job.card.height)
        (work / "caption.ass").write_text(ass, encoding="utf-8")
        stage("encoding")
        processes.ffmpeg(_encode_args(job, layout, cues, work), cwd=work)
        duration = probe(work / "video.mp4").duration
        if not duration:
            raise MediaError("the rendered video has no duration")
        files = tuple(name for name in OUTPUTS if (work / name).is_file())
        for name in files:
            os.replace(work / name, job.folder / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Rendered(duration=round(duration, 3), speech=speech.engine, files=files)


def _encode_args(
    job: RenderJob, layout: CardLayout, cues: list[captions.Cue], work: Path
) -> list[str]:
    """One ffmpeg run: the talking card, and from the same frames the GIF and thumbnail."""
    w, h = job.card.width, job.card.height
    mouth = layout.mouth
    skin = layout.skin.replace("#", "0x")
    blinks = ",".join(
        f"drawbox=x={e.x}:y={e.y}:w={e.w}:h={e.h}:color={skin}:t=fill"
        f":enable='lt(mod(t+{i * 0.05},3.7),0.14)'"
        for i, e in enumerate(layout.eyes)
    )
    copies = 4 if job.caption else 3
    gif_w, gif_h = _fit(w, h, GIF_LONG_SIDE)
    thumb_w, thumb_h = _fit(w, h, THUMB_LONG_SIDE)
    tracks = 2 if job.caption else 1
    audio_copies = "".join(f"[a{i}]" for i in range(tracks))
    graph = [
        f"[1:a]apad=pad_dur={TAIL_SECONDS},asplit={tracks + 1}{audio_copies}[aw]",
        f"[aw]showwaves=s={mouth.w}x{mouth.h}:mode=cline:rate={FPS}"
        f":colors={MOUTH_COLOUR}:scale=sqrt:draw=full[mouth]",
        "[0:v]format=yuv420p,loop=loop=-1:size=1[card]",
        f"[card][mouth]overlay=x={mouth.x}:y={mouth.y}:shortest=1,{blinks},"
        f"split={copies}[main][gif][thumb]{'[cap]' if job.caption else ''}",
        f"[gif]trim=duration={GIF_SECONDS},fps={GIF_FPS},scale={gif_w}:{gif_h},split[g1][g2]",
        "[g1]palettegen=max_colors=64[palette]",
        "[g2][palette]paletteuse[gifout]",
        f"[thumb]trim=start={THUMB_AT},setpts=PTS-STARTPTS,scale={thumb_w}:{thumb_h}[thumbout]",
    ]
    if job.caption:
        graph.append(f"[cap]{_caption_filters(cues, w, h, work)}[capout]")
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage", "-crf", "30",
            "-pix_fmt", "yuv420p", "-r", str(FPS)]  # fmt: skip
    aac = ["-c:a", "aac", "-b:a", "64k"]
    args = [
        "-loglevel", "error",
        "-framerate", str(FPS), "-i", "card.png",
        "-i", "speech.wav",
        "-filter_complex", ";".join(graph),
        "-map", "[main]", "-map", "[a0]", *x264, *aac, "-movflags", "+faststart", "-shortest",
        "video.mp4",
    ]  # fmt: skip
    if job.caption:
        args += ["-map", "[capout]", "-map", "[a1]", *x264, *aac, "-movflags", "+faststart",
                 "-shortest", "captioned.mp4"]  # fmt: skip
    args += ["-map", "[gifout]", "-loop", "0", "preview.gif"]
    args += ["-map", "[thumbout]", "-frames:v", "1", "-q:v", "5", "thumbnail.jpg"]
    return args


def _caption_filters(cues: list[captions.Cue], w: int, h: int, work: Path) -> str:
    """drawtext per cue, each shown between its start and end; text goes through files."""
    if font_file() is None or not cues:
        return "null"
    base = max(12, round(h * 0.045))
    parts = []
    for n, (start, end, text) in enumerate(cues):
        (work / f"cue-{n}.txt").write_text(text, encoding="utf-8")
        size = min(base, max(10, round(w * 0.92 / (max(len(text), 1) * 0.56))))
        parts.append(
            f"drawtext=fontfile=card-font.ttf:expansion=none:textfile=cue-{n}.txt"
            f":fontsize={size}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw={size // 3}"
            f":x=(w-text_w)/2:y=h-text_h-{round(h * 0.05)}:enable='between(t,{start},{end})'"
        )
    return ",".join(parts)


def _fit(w: int, h: int, long_side: int) -> tuple[int, int]:
    """A smaller size with the same shape (even sides), never larger than the video."""
    scale = min(1.0, long_side / max(w, h))
    return even(w * scale), even(h * scale)
