"""The server's child processes (live lane status, summaries) come from one fork server
started with their modules already imported, so a child starts in milliseconds and never
inherits the server's threads or locks."""

from __future__ import annotations

import multiprocessing
import os
import threading

CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(["bot.lanes.worker", "bot.summarize.child"])


def die_with_parent() -> None:
    """Called first in a child: it exits the moment the server that started it is gone. A
    server killed with -9 must not leave behind a summary process that would commit its
    summary after the restarted server began the same one again (the fork server itself
    stays up as long as any child holds its pipe, so only the child can notice)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # returns when the parent's end of the start pipe closes: it died
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
