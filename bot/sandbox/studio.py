"""Real renders, off the request path: a queue that runs as many at once as there are cores.

A create answers at once and hands the video here. Each render runs on a worker thread
(speech and ffmpeg are separate processes, so threads are enough), reports its stage back
to the event loop, and on success records the real duration and when the video turns
`completed` (never before its files exist; later if a minimum render time is set). A render
that breaks ends the video `failed` with RENDER_FAILED, as HeyGen's own renderer would.

Files live in one folder per video, next to the state file (`<state>-videos/`), or in a
temporary folder that goes away with an in-memory sandbox. Renders a stopped sandbox left
unfinished start again when a sandbox opens the same state file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .catalog import Catalog
from .clock import Clock
from .media import Cancelled, Processes
from .render import render
from .render_spec import job_for
from .store import Store
from .tts import espeak_path
from .videos import Video, failure_for

log = logging.getLogger(__name__)


def render_workers() -> int:
    """One render per core: each is mostly one busy ffmpeg."""
    return max(1, os.cpu_count() or 1)


class Studio:
    """Owns the render workers, the media processes and the folder of rendered files."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        catalog_of: Callable[[str], Catalog],
        state_path: str | None,
        on_finish: Callable[[], None],
    ) -> None:
        self.store = store
        self.clock = clock
        self.catalog_of = catalog_of  # account name -> what its videos may show and say
        self.on_finish = on_finish
        self.workers = render_workers()
        self._state_path = state_path
        self._root: Path | None = None
        self._temporary = False
        self._processes = Processes()
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def speech_engine(self) -> str:
        return "espeak-ng" if espeak_path() else "tone"

    @property
    def root(self) -> Path:
        """The folder of rendered files (made by `start`)."""
        assert self._root is not None, "Studio.start() was not called"
        return self._root

    async def start(self) -> None:
        """Take render requests; resume those a previous run left unfinished."""
        if self._state_path:
            state = Path(self._state_path)
            self._root = state.parent / f"{state.stem}-videos"
            self._root.mkdir(parents=True, exist_ok=True)
        else:
            self._root = Path(tempfile.mkdtemp(prefix="heygen-sandbox-videos-"))
            self._temporary = True
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="sandbox-render")
        for video in self.store.unrendered():
            self.submit(video)

    async def stop(self) -> None:
        """End running renders at once; an in-memory sandbox's files go with it."""
        self._processes.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._temporary and self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)

    def submit(self, video: Video) -> None:
        """Queue the render of one video (called on the event loop)."""
        assert self._loop is not None, "Studio.start() was not called"
        task = self._loop.create_task(self._render(video), name=f"render-{video.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def file(self, video_id: str, name: str) -> Path | None:
        """A rendered file of this video, or None when it has none (yet)."""
        path = self.root / video_id / name
        return path if path.is_file() else None

    def discard(self, video_id: str) -> None:
        """Remove a deleted video's files."""
        shutil.rmtree(self.root / video_id, ignore_errors=True)

    async def _render(self, video: Video) -> None:
        assert self._loop is not None and self._executor is not None
        loop = self._loop
        job = job_for(video, self.catalog_of(video.account), self.root / video.id)
        job.folder.mkdir(parents=True, exist_ok=True)

        def on_stage(stage: str) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: the sandbox stopped
                loop.call_soon_threadsafe(self._record_stage, video.id, stage)

        try:
            result = await loop.run_in_executor(
                self._executor, render, job, self._processes, on_stage
            )
        except Cancelled:
            return
        except Exception as exc:
            log.warning("sandbox render of video %s failed: %s", video.id, exc)
            self._fail(video.id)
            return
        current = self.store.video(video.id)
        if current is None or current.deleted_at is not None:
            self.discard(video.id)
            return
        finish_at = None
        if current.finish_at is None:
            finish_at = max(self.clock.now(), current.created_at + current.render_seconds)
        self.store.rendered(video.id, result.duration, finish_at)
        self.on_finish()

    def _record_stage(self, video_id: str, stage: str) -> None:
        self.store.set_stage(video_id, stage)

    def _fail(self, video_id: str) -> None:
        current = self.store.video(video_id)
        if current is not None and current.finish_at is None:
            self.store.finish(video_id, self.clock.now(), failure_for("RENDER_FAILED"))
            self.on_finish()
