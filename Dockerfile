# The bot in a container: `docker build -t heygen-slack-bot .`, then see compose.yaml.
FROM python:3.11-slim

# espeak-ng gives the embedded HeyGen sandbox's videos a spoken voice (else a tone).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY pyproject.toml README.md /src/
COPY bot /src/bot
RUN pip install /src && rm -rf /src

# A user of its own; the database (and the sandbox's state) live on the /data volume.
RUN useradd --system --uid 10001 --user-group --no-create-home bot \
    && mkdir /data \
    && chown bot:bot /data
USER 10001:10001
WORKDIR /data
VOLUME /data

# HTTP mode listens on PORT; Socket Mode serves /healthz and /metrics on METRICS_PORT.
ENV DATABASE_PATH=/data/heygen_bot.db \
    PORT=3000 \
    METRICS_PORT=3000
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot.healthcheck"]

CMD ["python", "-m", "bot"]
