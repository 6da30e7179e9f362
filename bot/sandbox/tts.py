"""The avatar's voice: the script spoken by espeak-ng, or a tone track where it is missing.

espeak-ng is Debian's packaged speech engine (`.ci/run` installs it); nothing is downloaded
at run time. A catalog voice maps to an espeak-ng voice by its locale and gender, and its
id picks one of several variants, so two voices of the same language sound different.
Without espeak-ng every video still gets audio of about the right length, with a level that
rises and falls like speech, so the avatar's mouth moves; one log line says why.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .media import Processes
from .videos import estimate_duration

log = logging.getLogger(__name__)

ESPEAK = "espeak-ng"
DEFAULT_WPM = 175
SAMPLE_RATE = 22050
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m6", "m7")
# Locales whose espeak-ng voice is not simply the lowercased locale or its language.
SPECIAL_VOICES = {"es-mx": "es-419", "zh-cn": "cmn", "zh": "cmn", "en-au": "en-gb"}


@dataclass(frozen=True)
class SpeechVoice:
    """What the renderer needs to know about the requested voice."""

    voice_id: str
    locale: str  # e.g. "en-US"
    gender: str  # "female" | "male"
    speed: float = 1.0  # HeyGen's 0.5-1.5
    pitch: float = 0.0  # HeyGen's -50..50
    volume: float = 1.0  # HeyGen's 0..1


@dataclass(frozen=True)
class Speech:
    path: Path
    engine: str  # "espeak-ng" | "tone" | "silence"


@cache
def espeak_path() -> str | None:
    return shutil.which(ESPEAK)


@cache
def espeak_languages() -> frozenset[str]:
    """The language codes this machine's espeak-ng has voices for."""
    exe = espeak_path()
    if exe is None:
        return frozenset()
    done = subprocess.run([exe, "--voices"], capture_output=True, text=True, check=False)
    rows = done.stdout.splitlines()[1:]
    return frozenset(row.split()[1] for row in rows if len(row.split()) > 1)


def espeak_voice(voice: SpeechVoice, available: frozenset[str]) -> str:
    """e.g. `en-us+f3`: the closest language espeak-ng has, and a variant of the gender."""
    locale = voice.locale.lower()
    language = locale.split("-")[0]
    candidates = (SPECIAL_VOICES.get(locale), locale, SPECIAL_VOICES.get(language), language)
    base = next((c for c in candidates if c and c in available), "en")
    variants = FEMALE_VARIANTS if voice.gender == "female" else MALE_VARIANTS
    variant = variants[zlib.crc32(voice.voice_id.encode()) % len(variants)]
    return f"{base}+{variant}"


def speak(text: str, voice: SpeechVoice, out: Path, processes: Processes) -> Speech:
    """Write the spoken script to `out` (a mono WAV) and say which engine made it."""
    if not text.strip():
        _silence(out, 1.0, processes)
        return Speech(out, "silence")
    exe = espeak_path()
    if exe is None:
        _warn_once()
        _tone(out, estimate_duration(text, voice.speed), processes)
        return Speech(out, "tone")
    script = out.with_suffix(".txt")
    script.write_text(text, encoding="utf-8")
    processes.run(
        [
            exe,
            "-b", "1",  # the text file is UTF-8
            "-v", espeak_voice(voice, espeak_languages()),
            "-s", str(round(DEFAULT_WPM * min(max(voice.speed, 0.5), 1.5))),
            "-p", str(round(min(max(50 + voice.pitch, 0), 99))),
            "-a", str(round(min(max(voice.volume, 0.0), 1.0) * 100)),
            "-w", str(out),
            "-f", str(script),
        ]
    )  # fmt: skip
    return Speech(out, "espeak-ng")


@cache
def _warn_once() -> None:
    log.warning(
        "espeak-ng is not installed: sandbox videos get a tone track instead of speech "
        "(apt-get install espeak-ng)"
    )


def _tone(out: Path, seconds: float, processes: Processes) -> None:
    """A voice-like tone: a 180 Hz hum whose level moves at syllable pace, with pauses."""
    level = "(0.55+0.45*sin(2*PI*3.3*t))*gt(sin(2*PI*0.4*t)+0.85\\,0)"
    expr = f"0.35*sin(2*PI*180*t)*{level}"
    processes.ffmpeg(
        ["-f", "lavfi", "-i", f"aevalsrc={expr}:s={SAMPLE_RATE}:d={seconds:.3f}",
         "-ac", "1", "-c:a", "pcm_s16le", str(out)]
    )  # fmt: skip


def _silence(out: Path, seconds: float, processes: Processes) -> None:
    processes.ffmpeg(
        ["-f", "lavfi", "-i", f"anullsrc=r={SAMPLE_RATE}:cl=mono", "-t", f"{seconds:.3f}",
         "-c:a", "pcm_s16le", str(out)]
    )  # fmt: skip
