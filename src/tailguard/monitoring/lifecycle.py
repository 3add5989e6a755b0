"""The alert lifecycle: open → acknowledged → in-progress → closed.

Why a fixed path: an alert that nobody acknowledged is one nobody has seen, and the time from
raising to acknowledging is what the queues' service levels are measured by. Work may begin
without a separate acknowledgement (starting work acknowledges), and an alert may be closed
from any state (a false positive is closed unseen-to-done by whoever spots it), but never
reopened: a new signal raises a new alert.
"""

from __future__ import annotations

from enum import StrEnum

from tailguard.errors import Refused


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in-progress"
    CLOSED = "closed"


class AlertAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    WORK = "work"
    CLOSE = "close"


class Resolution(StrEnum):
    RESOLVED = "resolved"  # the borrower paid, the car came back in province, …
    FALSE_POSITIVE = "false-positive"
    ESCALATED = "escalated"  # handed to collections or legal
    NO_ACTION = "no-action"


_NEXT: dict[tuple[AlertStatus, AlertAction], AlertStatus] = {
    (AlertStatus.OPEN, AlertAction.ACKNOWLEDGE): AlertStatus.ACKNOWLEDGED,
    (AlertStatus.OPEN, AlertAction.WORK): AlertStatus.IN_PROGRESS,
    (AlertStatus.ACKNOWLEDGED, AlertAction.WORK): AlertStatus.IN_PROGRESS,
    (AlertStatus.OPEN, AlertAction.CLOSE): AlertStatus.CLOSED,
    (AlertStatus.ACKNOWLEDGED, AlertAction.CLOSE): AlertStatus.CLOSED,
    (AlertStatus.IN_PROGRESS, AlertAction.CLOSE): AlertStatus.CLOSED,
}


def next_status(current: AlertStatus, action: AlertAction) -> AlertStatus:
    """The status after `action`, or a refusal naming the current status."""
    after = _NEXT.get((current, action))
    if after is None:
        raise Refused("alert_state", f"cannot {action.value} an alert that is {current.value}")
    return after
