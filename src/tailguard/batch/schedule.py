"""The daily schedule inside `tailguard serve`: yesterday's end of day, once, after midnight.

A background thread wakes every `interval_s` seconds and runs the end of day up to yesterday
(in the lender's time zone) when it has not run yet. The run is idempotent and resumable, so a
restart of the server, or a second server doing the same, costs nothing but a check.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from tailguard.batch import eod
from tailguard.services.platform import Platform

log = logging.getLogger("tailguard.schedule")


class DailyEndOfDay:
    def __init__(self, platform: Platform, interval_s: float = 60.0) -> None:
        self.platform = platform
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tailguard-eod", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def run_once(self) -> int:
        """Run the end of day up to yesterday; returns the number of days run."""
        yesterday = self.platform.today() - timedelta(days=1)
        report = eod.run(self.platform, yesterday)
        if report.days:
            log.info("end of day to %s: %d day(s), %d loan-days", yesterday, len(report.days),
                     report.loans)
        return len(report.days)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # keep serving; the next tick retries where it stopped
                log.exception("end of day failed; it will resume at the next check")
            self._stop.wait(self.interval_s)


class PeriodicCheckpoint:
    """Inside `tailguard serve`: every `interval_s` seconds, integrate the transparency log
    (journal entries and contract documents not yet logged), sign a checkpoint and anchor it
    with the notary (`services.transparency.integrate`). Nothing new, nothing signed; a failed
    round is retried at the next tick, and a notary that did not answer is retried too."""

    def __init__(self, platform: Platform, interval_s: float = 600.0) -> None:
        self.platform = platform
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tailguard-checkpoint",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def run_once(self) -> int:
        """One round; returns the number of leaves added."""
        from tailguard.services import transparency

        result = transparency.integrate(self.platform)
        if result.leaves_added:
            log.info("log: %d leaves, tree size %d, %d checkpoint(s) anchored",
                     result.leaves_added, result.tree_size, result.anchored)
        return result.leaves_added

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:  # keep serving; the next tick retries
                log.exception("log checkpoint failed; it will be retried at the next tick")
