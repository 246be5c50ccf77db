"""Terminations in flight: one task per terminating pod, keyed by the pod's uid, so a pod that
takes its whole grace period to stop holds none of the node's pod workers (upstream's pod
workers give each pod a goroutine of its own). Tracks each task until it ends, answers whether a
pod's termination is running, and on `stop` cancels and awaits them all (a restarted kubelet
starts them again from what the runtime still holds).

Must not decide when a pod terminates or what terminating means (PodSyncer does), retry, or
queue work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Terminations:
    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopped = False

    def __len__(self) -> int:
        return len(self._tasks)

    def running(self, uid: str) -> bool:
        return uid in self._tasks

    def start(self, uid: str, work: Coroutine[Any, Any, None], name: str) -> bool:
        """Run `work` as pod `uid`'s termination; False (and `work` discarded) when one already
        runs for the uid or the terminations were stopped."""
        if self._stopped or uid in self._tasks:
            work.close()
            return False
        self._tasks[uid] = asyncio.create_task(self._run(uid, work), name=name)
        return True

    async def _run(self, uid: str, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:  # the work retries what can fail: anything escaping it is a bug worth a trace
            log.exception("terminating pod %s failed", uid)
        finally:
            if self._tasks.get(uid) is asyncio.current_task():
                del self._tasks[uid]

    async def stop(self) -> None:
        """Cancel every termination in flight and wait for them to end; none start afterwards."""
        self._stopped = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
