"""The schedules inside `tailguard serve`: yesterday's end of day, once, after midnight, with
the day's reminders queued after it; message delivery every few seconds; log checkpoints.

A background thread wakes every `interval_s` seconds and runs the end of day up to yesterday
(in the lender's time zone) when it has not run yet, then queues today's reminders (due dates,
balloon milestones, overdue notices: `services.notifications.queue_due_reminders`). Both are
idempotent, so a restart of the server, or a second server doing the same, costs nothing but a
check.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from tailguard.batch import eod
from tailguard.engagement.channels import MessageChannel
from tailguard.engagement.vocabulary import Channel
from tailguard.services import behavioural_scores, notifications, recovery_cases
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
        if report.days:  # behavioural scores first: the strategies band them, rules read them
            try:
                behavioural_scores.refresh_scores(self.platform, yesterday)
            except Exception:  # collections still run, on the scores of the day before
                log.exception("behavioural scores for %s failed", yesterday)
        if report.days:  # collections for the day just aged: promises, cases, strategies, queues
            recovery_cases.recovery_eod(self.platform, yesterday)
        if report.days:  # treatments: offers lapse or follow their approval; incentives earned
            from tailguard.services import incentives, offers

            offers.offers_end_of_day(self.platform, yesterday)
            awarded = incentives.evaluate_incentives(self.platform, yesterday)
            if awarded.awarded:
                log.info("incentives: %d award(s), %d fen, for %s", awarded.awarded,
                         awarded.amount_fen, yesterday)
        # Reminders read the books the end of day just aged; a rerun for the day queues nothing.
        queued = notifications.queue_due_reminders(self.platform, self.platform.today())
        if queued.new:
            log.info("reminders: %d message(s) queued for %s", queued.new,
                     self.platform.today())
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


class MessageDelivery:
    """Inside `tailguard serve`: every `interval_s` seconds, send the queued messages whose
    time has come through the configured channels (`services.notifications.deliver_due`: the
    contact policy first, retries with backoff, per-channel rate limits). The token buckets
    live as long as the thread, so the rate limit holds across rounds."""

    def __init__(self, platform: Platform, channels: dict[Channel, MessageChannel],
                 interval_s: float = 10.0) -> None:
        self.platform = platform
        self.channels = channels
        self.interval_s = interval_s
        self.limits = notifications.rate_limits(platform)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tailguard-messages",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def run_once(self) -> notifications.DeliveryReport:
        report = notifications.deliver_due(self.platform, self.channels, limits=self.limits)
        if report.sent or report.failed or report.blocked:
            log.info("messages: %d sent, %d failed, %d blocked, %d retrying", report.sent,
                     report.failed, report.blocked, report.retrying)
        return report

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:  # keep serving; the next tick retries
                log.exception("message delivery failed; it will be retried at the next tick")
