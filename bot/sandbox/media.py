"""Running the ffmpeg that imageio-ffmpeg ships, and reading facts back from media files.

imageio-ffmpeg brings a static ffmpeg but no ffprobe, so `probe` parses what `ffmpeg -i`
prints: container duration, codecs and frame size are all on its stderr. Every process
started here is registered with a `Processes`, so a stopping sandbox can end its renders
at once instead of waiting for them.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import imageio_ffmpeg

DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
VIDEO = re.compile(r"Stream #\S+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})")
AUDIO = re.compile(r"Stream #\S+.*?: Audio: (\w+)(?:.*?, (\d+) Hz)?")


class MediaError(RuntimeError):
    """A media tool failed; the message ends with the tail of what it printed."""


class Cancelled(MediaError):
    """The sandbox is stopping; the render was abandoned on purpose."""


@cache
def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


class Processes:
    """The media processes running now, so `stop` can end them all at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self.stopped = False

    def run(self, argv: Sequence[str], cwd: Path | None = None, timeout: float = 600) -> str:
        """Run one command to the end; return its stderr, or raise MediaError/Cancelled."""
        with self._lock:
            if self.stopped:
                raise Cancelled("the sandbox is stopping")
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            self._running.add(proc)
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise MediaError(f"{Path(argv[0]).name} took longer than {timeout:g} s") from None
        finally:
            with self._lock:
                self._running.discard(proc)
        text = err.decode(errors="replace")
        if self.stopped:
            raise Cancelled("the sandbox is stopping")
        if proc.returncode != 0:
            tail = " | ".join(text.strip().splitlines()[-3:])
            raise MediaError(f"{Path(argv[0]).name} exited {proc.returncode}: {tail}")
        return text

    def ffmpeg(self, args: Sequence[str], cwd: Path | None = None, timeout: float = 600) -> str:
        argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *args]
        return self.run(argv, cwd=cwd, timeout=timeout)

    def stop(self) -> None:
        """Refuse new processes and kill the running ones."""
        with self._lock:
            self.stopped = True
            running = list(self._running)
        for proc in running:
            proc.kill()


def even(value: float) -> int:
    """The nearest even size of at least 2: H.264 in yuv420p needs even sides."""
    return max(2, round(value / 2) * 2)


@dataclass(frozen=True)
class MediaFacts:
    """What `ffmpeg -i` says about a file: enough to check a render like ffprobe would."""

    duration: float | None
    video_codec: str | None
    width: int | None
    height: int | None
    audio_codec: str | None
    sample_rate: int | None


def probe(path: str | Path) -> MediaFacts:
    """Facts about one media file (ffmpeg exits 1 with no output file; that is expected)."""
    done = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return parse_facts(done.stderr.decode(errors="replace"))


def parse_facts(text: str) -> MediaFacts:
    duration = None
    if match := DURATION.search(text):
        hours, minutes, seconds = match.groups()
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    video = VIDEO.search(text)
    audio = AUDIO.search(text)
    return MediaFacts(
        duration=duration,
        video_codec=video.group(1) if video else None,
        width=int(video.group(2)) if video else None,
        height=int(video.group(3)) if video else None,
        audio_codec=audio.group(1) if audio else None,
        sample_rate=int(audio.group(2)) if audio and audio.group(2) else None,
    )
