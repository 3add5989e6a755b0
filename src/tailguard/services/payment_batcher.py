"""Group commit for payments arriving one request at a time.

Each HTTP request carries one payment, but posting each in its own unit of work spends most
of the time on statements and commits, not on the loan. The batcher lets request threads hand
their payment to one posting thread and wait: that thread takes whatever has queued (waiting
at most `window_s` after the first for more to arrive, and never more than `max_batch`),
posts them with `payments.post_payments` in one unit of work per actor, and wakes each request
with its own answer. Under light load a payment waits for at most the window; under heavy load
batches grow and the commits per payment fall.

A payment is answered only after its batch committed, so a client that got 201 has a posting
on disk; if the posting thread fails on something unexpected, every payment of that batch gets
that error (nothing of the batch was committed) and later batches go on.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass

from tailguard.services.loan_books import PaymentOutcome
from tailguard.services.payments import PaymentCommand, post_payments
from tailguard.services.platform import Platform


@dataclass(frozen=True)
class _Item:
    actor: str
    command: PaymentCommand
    answer: Future[PaymentOutcome]


class PaymentBatcher:
    def __init__(self, platform: Platform, window_s: float = 0.002, max_batch: int = 200,
                 queue_max: int = 10_000) -> None:
        assert window_s >= 0 and max_batch >= 1 and queue_max >= max_batch
        self.platform = platform
        self.window_s = window_s
        self.max_batch = max_batch
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=queue_max)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.posted = 0

    def post(self, actor: str, command: PaymentCommand, timeout_s: float = 30.0
             ) -> PaymentOutcome:
        """Post one payment through the next batch; raises what `post_payment` would."""
        self._ensure_started()
        answer: Future[PaymentOutcome] = Future()
        self._queue.put(_Item(actor, command, answer), timeout=timeout_s)
        return answer.result(timeout=timeout_s)

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _ensure_started(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="payment-batcher",
                                                daemon=True)
                self._thread.start()

    def _take(self) -> list[_Item] | None:
        first = self._queue.get()
        if first is None:
            return None
        items = [first]
        deadline = time.monotonic() + self.window_s
        while len(items) < self.max_batch:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # finish this batch, then stop
                break
            items.append(item)
        return items

    def _run(self) -> None:
        while (items := self._take()) is not None:
            by_actor: dict[str, list[_Item]] = {}
            for item in items:
                by_actor.setdefault(item.actor, []).append(item)
            for actor, group in by_actor.items():
                self._post(actor, group)

    def _post(self, actor: str, group: list[_Item]) -> None:
        try:
            results = post_payments(self.platform, actor, [item.command for item in group])
        except Exception as failure:  # answered to every waiting request, never swallowed
            for item in group:
                item.answer.set_exception(failure)
            return
        self.batches += 1
        self.posted += len(group)
        for item, result in zip(group, results, strict=True):
            if isinstance(result, Exception):
                item.answer.set_exception(result)
            else:
                item.answer.set_result(result)
