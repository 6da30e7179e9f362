"""Prometheus metrics of one bot, served at `/metrics` (and on METRICS_PORT in Socket Mode).

Counters and histograms count what this process did since it started; the gauges that
describe the database (jobs by status, the outbox backlog) are read from it at scrape
time, so they are right after a restart too. Every bot has its own registry, so several
bots in one process (the tests) never share a number.

Names (all prefixed `heygen_bot_`):
  jobs{status}                          gauge: jobs in the database in each status
  videos_finished_total                 counter: videos HeyGen rendered
  videos_failed_total{status}           counter: videos that failed or timed out
  heygen_requests_total{method,endpoint,status}  counter: every HeyGen request sent;
                                        endpoint is the route (`/v3/videos/{id}`), status
                                        the HTTP status, `unreachable` or `no_answer`
  slack_calls_total{method,error}       counter: every Slack Web API request; error is
                                        `ok` or Slack's error code (or the network error);
                                        a video's bytes, streamed to the URL Slack gives for
                                        them, are no Web API call: see uploads_total
  outbox_backlog                        gauge: Slack messages recorded but not yet sent
  outbox_oldest_unsent_seconds          gauge: how long the oldest of them has waited
  render_seconds                        histogram: submitted to HeyGen → finished
  notify_lag_seconds                    histogram: finished → result posted in Slack
  uploads_total{outcome}                counter: uploaded, too_large, download_failed,
                                        refused, failed, skipped
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from .heygen import HeyGenClient
from .jobs import (
    COMPLETED,
    FAILED,
    FINISHED,
    RESULT,
    TIMED_OUT,
    UNFINISHED,
    UPLOAD,
    Job,
    OutboxItem,
)
from .store import STORE_ERRORS, Store, StoreEvents

log = logging.getLogger(__name__)

PREFIX = "heygen_bot_"
CONTENT_TYPE = CONTENT_TYPE_LATEST
UPLOAD_OUTCOMES = ("uploaded", "too_large", "download_failed", "refused", "failed", "skipped")
# A render takes minutes (HeyGen) or about a second (the sandbox).
RENDER_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
NOTIFY_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


class Metrics(StoreEvents):
    """Every metric of one bot; observes its store, its HeyGen client and its Slack clients."""

    def __init__(self, store: Store, slack_api_url: str) -> None:
        self.registry = CollectorRegistry()
        self._store = store
        self.videos_finished = self._counter("videos_finished", "Videos HeyGen rendered")
        self.videos_failed = self._counter(
            "videos_failed", "Videos that failed or timed out", ["status"]
        )
        self.heygen_requests = self._counter(
            "heygen_requests", "HeyGen requests sent", ["method", "endpoint", "status"]
        )
        self.slack_calls = self._counter(
            "slack_calls", "Slack Web API requests, by Slack's answer", ["method", "error"]
        )
        self.uploads = self._counter("uploads", "Finished videos' uploads by outcome", ["outcome"])
        self.render_seconds = Histogram(
            PREFIX + "render_seconds",
            "Seconds from submitting a video to HeyGen to its completion",
            buckets=RENDER_BUCKETS,
            registry=self.registry,
        )
        self.notify_lag_seconds = Histogram(
            PREFIX + "notify_lag_seconds",
            "Seconds from a video's completion being recorded to its result posted in Slack",
            buckets=NOTIFY_BUCKETS,
            registry=self.registry,
        )
        for status in (FAILED, TIMED_OUT):
            self.videos_failed.labels(status=status)
        for outcome in UPLOAD_OUTCOMES:
            self.uploads.labels(outcome=outcome)
        self.database = DatabaseCollector(store)
        self.registry.register(self.database)
        self.slack_observer = SlackCallCounter(self.slack_calls, slack_api_url)
        store.events = self

    def _counter(self, name: str, documentation: str, labels: list[str] | None = None) -> Counter:
        return Counter(PREFIX + name, documentation, labels or [], registry=self.registry)

    def watch_heygen(self, client: HeyGenClient) -> None:
        """Count every request `client` sends (each retry is a request of its own)."""
        client.on_request = self._heygen_request

    def _heygen_request(self, method: str, route: str, status: str) -> None:
        self.heygen_requests.labels(method=method, endpoint=route, status=status).inc()

    async def exposition(self) -> bytes:
        """The Prometheus text format of every metric, read now."""
        await self.database.read()
        return generate_latest(self.registry)

    # StoreEvents: what the store recorded.
    def status_recorded(self, before: Job, status: str, at: float) -> None:
        if status == COMPLETED:
            self.videos_finished.inc()
            if before.submitted_at:
                self.render_seconds.observe(max(0.0, at - before.submitted_at))
        elif status in (FAILED, TIMED_OUT):
            self.videos_failed.labels(status=status).inc()

    def message_sent(
        self,
        item: OutboxItem,
        outcome: str | None,
        changes: dict[str, Any],
        job: Job | None,
    ) -> None:
        if item.kind == RESULT:
            if job is not None and job.finished_at:
                self.notify_lag_seconds.observe(max(0.0, time.time() - job.finished_at))
        elif item.kind == UPLOAD:
            if outcome is None:
                outcome = "uploaded" if changes.get("video_file_id") else "skipped"
            self.uploads.labels(outcome=outcome).inc()

    def message_dropped(self, item: OutboxItem, error: str) -> None:
        if item.kind == UPLOAD:
            self.uploads.labels(outcome="failed").inc()


class DatabaseCollector(Collector):
    """Gauges read from the database when scraped: cheap counts over indexed columns."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._read: tuple[dict[str, int], int, float | None] | None = None

    async def read(self) -> None:
        """Read the counts off the event loop; `collect` (synchronous) reports them."""
        try:
            by_status = await self._store.jobs_by_status()
            backlog, oldest = await self._store.outbox_backlog()
        except STORE_ERRORS as error:  # stopping, or locked
            log.warning("metrics: cannot read the database: %s", error)
            self._read = None
            return
        self._read = (by_status, backlog, oldest)

    def collect(self) -> Iterator[Metric]:
        if self._read is None:
            return
        by_status, backlog, oldest = self._read
        jobs = GaugeMetricFamily(
            PREFIX + "jobs", "Jobs in the database by status", labels=["status"]
        )
        for status in (*UNFINISHED, *FINISHED):
            jobs.add_metric([status], by_status.get(status, 0))
        yield jobs
        yield GaugeMetricFamily(
            PREFIX + "outbox_backlog", "Slack messages recorded but not yet sent", value=backlog
        )
        yield GaugeMetricFamily(
            PREFIX + "outbox_oldest_unsent_seconds",
            "Age of the oldest Slack message not yet sent (0 when none waits)",
            value=max(0.0, time.time() - oldest) if oldest else 0.0,
        )


class SlackCallCounter(AsyncRetryHandler):
    """Counts each Slack Web API request by method and answer; never asks for a retry.

    slack_sdk offers every response and every network error to a client's retry handlers
    in turn, so this one, placed first, sees each request: also those of the clients Bolt
    makes per request, which copy the bot client's handlers.
    """

    def __init__(self, counter: Counter, api_url: str) -> None:
        super().__init__(max_retry_count=0)
        self._counter = counter
        self._api_url = api_url

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        self._counter.labels(method=self._method(request.url), error=_answer(response, error)).inc()
        return False

    def _method(self, url: str) -> str:
        """`chat.postMessage`; a file's bytes go to an upload URL of their own."""
        if not url.startswith(self._api_url):
            return "file_upload"
        return url[len(self._api_url) :].split("?", 1)[0] or "unknown"


def _answer(response: HttpResponse | None, error: Exception | None) -> str:
    if response is None:
        return type(error).__name__ if error is not None else "unknown"
    body = response.body
    if isinstance(body, dict):
        return "ok" if body.get("ok") else str(body.get("error") or f"http_{response.status_code}")
    return "ok" if response.status_code == 200 else f"http_{response.status_code}"
