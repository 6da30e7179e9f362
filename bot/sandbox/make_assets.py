"""Regenerate the tiny media files the sandbox serves (`python -m bot.sandbox.make_assets`).

The files are committed, so this runs only when someone wants different ones. It uses the
ffmpeg binary that imageio-ffmpeg ships, so no system ffmpeg is needed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

ASSETS = Path(__file__).with_name("assets")

# Output name -> ffmpeg arguments between the inputs and the output path.
RECIPES: dict[str, list[str]] = {
    "video.mp4": [
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=12:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
        "-c:v", "libx264", "-preset", "veryslow", "-crf", "38", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "24k", "-ac", "1", "-movflags", "+faststart", "-shortest",
    ],
    "preview.gif": [
        "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=5:duration=1",
        "-vf", "split[a][b];[a]palettegen=max_colors=32[p];[b][p]paletteuse", "-loop", "0",
    ],
    "thumbnail.jpg": [
        "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=1:duration=1",
        "-frames:v", "1", "-q:v", "8",
    ],
    "voice_preview.wav": [
        "-f", "lavfi", "-i", "sine=frequency=330:duration=0.8",
        "-ar", "8000", "-ac", "1", "-c:a", "pcm_s16le",
    ],
}  # fmt: skip


def build(name: str, args: list[str]) -> Path:
    """Render one asset, overwriting the committed copy."""
    out = ASSETS / name
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run([*cmd, *args, str(out)], check=True)
    return out


def main() -> None:
    ASSETS.mkdir(exist_ok=True)
    for name, args in RECIPES.items():
        out = build(name, args)
        print(f"{out.name}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
