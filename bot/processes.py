"""The server's child processes (live lane status, summaries) come from one fork server
started with their modules already imported, so a child starts in milliseconds and never
inherits the server's threads or locks."""

from __future__ import annotations

import multiprocessing

CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(["bot.lanes.worker", "bot.summarize.child"])
