"""A workspace leaves (`app_uninstalled`, `tokens_revoked`): nothing more goes there.

Its unfinished videos end (HeyGen's copies deleted where HeyGen allows, with its key, so
that key is deleted only after them, together with the installation) and its unsent
messages are dropped; a reinstall then starts with nothing of the old one.
"""

from __future__ import annotations

import logging
from typing import Any

from .heygen import HeyGenError
from .workspaces import WorkspaceRef

log = logging.getLogger(__name__)


async def leave_workspace(services: Any, ref: WorkspaceRef, why: str) -> None:
    key = ref.key
    if not key:
        return
    ended = await services.store.end_workspace(key)
    deleted = 0
    for job in ended:
        if job.video_id:
            try:
                heygen = await services.heygen_for(job)
                await heygen.delete_video(job.video_id)
                deleted += 1
            except HeyGenError as error:  # HeyGen keeps it; the bot follows it no more
                log.info("job %s: HeyGen kept video %s: %s", job.id, job.video_id, error)
    # The key goes last: until then any replica can still reach the account to delete.
    if services.accounts is not None:  # its key, and its HeyGen webhook endpoint
        await services.accounts.remove(key)
    if services.installations is not None:
        await services.installations.async_delete_installation(
            enterprise_id=ref.enterprise_id, team_id=key
        )
    services.forget_workspace(key)
    log.info(
        "%s: %s %s removed; %d unfinished video%s stopped (%d deleted at HeyGen)",
        why,
        "org" if ref.is_enterprise_install else "workspace",
        key,
        len(ended),
        "s"[: len(ended) != 1],
        deleted,
    )
