"""Benchmark: contact-policy decisions per second, against counting from the full history.

Why: every outbound contact, a dialler's included, passes the conduct guard, and the issue asks
for decisions in under a millisecond. tailguard's policy (`engagement.contact_policy.decide`)
takes a compact summary of the history (`ContactFacts`: a handful of counts the service reads
with one aggregate query over the debtor's last seven days). The baseline, written here, is
the straightforward way: keep each debtor's whole contact history as a list and count from it
on every decision. Both apply the same rules to the same requests in the same process; the
precomputed counts come from the baseline's own counting function, so the two must agree (the
script checks), and the ratio measures only where the counting happens.

The portfolio is synthetic: `--debtors` debtors (default 20,000), each with a year of history
(on average `--history` contacts, default 400: calls with outcomes, SMS, the odd third-party
call), and one request per debtor at a random local time of day, channel, party and purpose,
under the China consumer/auto-finance profile. Timings are printed, never asserted.

With `--service` it also times the whole use case (`services.contacts.check_contact`: lock,
aggregate query, decision, log row, audit row, outbox event, commit) on an embedded SQLite
database, which is what a collector's screen waits for.

Usage: uv run --frozen python benchmarks/bench_contact_policy.py [--quick] [--service]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tailguard.engagement.contact_policy import (
    ContactDecision,
    ContactFacts,
    ContactRequest,
    decide,
)
from tailguard.engagement.profiles import CHINA_CONSUMER_AUTO, JurisdictionProfile
from tailguard.engagement.vocabulary import Channel, Outcome, Party, Purpose

ZONE = "Asia/Shanghai"
TODAY = date(2026, 3, 2)


@dataclass(frozen=True, slots=True)
class Event:
    """One past contact as a naive implementation would keep it."""

    local_date: date
    channel: Channel
    party: Party
    party_ref: str | None
    method: str
    outcome: Outcome


def synthetic(debtors: int, history: int, seed: int
              ) -> tuple[list[list[Event]], list[ContactRequest], list[tuple[Party, str | None]]]:
    rng = random.Random(seed)
    histories: list[list[Event]] = []
    requests: list[ContactRequest] = []
    people: list[tuple[Party, str | None]] = []
    zone = ZoneInfo(ZONE)
    outcomes = [Outcome.CONNECTED, Outcome.NO_ANSWER, Outcome.NO_ANSWER, Outcome.INVALID_NUMBER]
    for _ in range(debtors):
        events = []
        for _ in range(rng.randint(history // 2, history * 3 // 2)):
            day = TODAY - timedelta(days=int(rng.expovariate(1 / 60)) % 365)
            channel = rng.choice((Channel.CALL, Channel.CALL, Channel.CALL, Channel.SMS))
            third = rng.random() < 0.05
            events.append(Event(
                day, channel, Party.RELATIVE if third else Party.DEBTOR,
                "mother" if third else None, "mobile-1",
                rng.choice(outcomes) if channel is Channel.CALL else Outcome.SENT))
        events.sort(key=lambda e: e.local_date)
        histories.append(events)
        third = rng.random() < 0.1
        party, ref = (Party.RELATIVE, "mother") if third else (Party.DEBTOR, None)
        moment = datetime(TODAY.year, TODAY.month, TODAY.day, rng.randint(6, 23),
                          rng.randint(0, 59), tzinfo=zone).astimezone(UTC)
        requests.append(ContactRequest(
            rng.choice((Channel.CALL, Channel.CALL, Channel.SMS)), party,
            Purpose.LOCATION if third else rng.choice((Purpose.COLLECTION, Purpose.SERVICE)),
            moment, (ZONE,)))
        people.append((party, ref))
    return histories, requests, people


def facts_from_history(events: list[Event], request: ContactRequest, party: Party,
                       ref: str | None) -> ContactFacts:
    """Count what the policy needs by walking the whole history (the baseline's way; the
    service does the same with one aggregate SQL query over seven days)."""
    today = request.local().date()
    week = today - timedelta(days=6)
    calls7 = connected = unanswered = on_channel = third_before = 0
    last_conversation: date | None = None
    failed_since_connect = 0
    invalid_since_connect = False
    for e in events:
        same_person = e.party is party and e.party_ref == ref
        if e.party is Party.DEBTOR and e.channel is Channel.CALL:
            if e.outcome is Outcome.CONNECTED:
                failed_since_connect, invalid_since_connect = 0, False
            elif e.outcome.unanswered:
                failed_since_connect += 1
                invalid_since_connect |= e.outcome is Outcome.INVALID_NUMBER
        if not same_person:
            continue
        third_before += 1
        if not week <= e.local_date <= today:
            continue
        if e.channel is Channel.CALL:
            calls7 += 1
            if e.outcome is Outcome.CONNECTED:
                last_conversation = max(last_conversation or e.local_date, e.local_date)
            if e.local_date == today:
                connected += e.outcome is Outcome.CONNECTED
                unanswered += e.outcome.unanswered
        if e.local_date == today and e.channel is request.channel:
            on_channel += 1
    return ContactFacts(
        call_attempts_last_7_days=calls7, connected_calls_today=connected,
        unanswered_today_on_method=unanswered, messages_today_on_channel=on_channel,
        last_conversation_on=last_conversation,
        consecutive_failed_attempts=failed_since_connect,
        debtor_number_invalid=invalid_since_connect,
        third_party_contacts_before=third_before if party is not Party.DEBTOR else 0,
    )


def timed(run: object, repeat: int) -> tuple[float, list[ContactDecision]]:
    best = float("inf")
    result: list[ContactDecision] = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_service(checks: int) -> tuple[float, float, float]:
    """Median and p99 latency (ms) and checks per second of `check_contact` on SQLite."""
    import tempfile
    import warnings

    from tailguard.calendar import CalendarFallbackWarning
    from tailguard.infra.clock import FixedClock
    from tailguard.infra.db.engine import make_engine
    from tailguard.infra.settings import load_settings
    from tailguard.services import contacts
    from tailguard.services.booking import book_application
    from tailguard.services.platform import Platform
    from tailguard.services.setup import initialise

    sys.path.insert(0, ".")
    from tests.service.factories import application, with_dealer

    warnings.simplefilter("ignore", CalendarFallbackWarning)
    folder = tempfile.mkdtemp(prefix="bench-contacts-")
    url = f"sqlite:///{folder}/bench.db"
    settings = load_settings({"TAILGUARD_DATABASE_URL": url, "TAILGUARD_MODE": "test",
                              "TAILGUARD_DOCUMENT_ROOT": f"{folder}/documents",
                              "TAILGUARD_NOTARY": "none"})
    clock = FixedClock.at(date(2026, 1, 10))
    plat = Platform(settings, make_engine(url), clock)
    initialise(plat)
    with_dealer(plat)
    loans = [book_application(plat, "officer", application(i)) for i in range(1, 21)]
    actor = contacts.Actor("bench.collector", "collector")
    zone = ZoneInfo(ZONE)
    latencies = []
    start = time.perf_counter()
    for i in range(checks):
        moment = datetime(2026, 3, 2, 9 + (i % 12), i % 60, tzinfo=zone)
        command = contacts.ContactCommand(Channel.CALL, Purpose.COLLECTION,
                                          loan_id=loans[i % len(loans)], at=moment,
                                          contact_method="mobile-1")
        began = time.perf_counter()
        contacts.check_contact(plat, actor, command)
        latencies.append((time.perf_counter() - began) * 1000)
    total = time.perf_counter() - start
    plat.engine.dispose()
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1], checks / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=20_000)
    parser.add_argument("--history", type=int, default=400,
                        help="average contacts per debtor over the year")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is kept")
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--service", action="store_true",
                        help="also time check_contact end to end on SQLite")
    parser.add_argument("--service-checks", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="2,000 debtors, 100 contacts each")
    args = parser.parse_args()
    if args.quick:
        args.debtors, args.history, args.repeat, args.service_checks = 2_000, 100, 1, 200
    profile: JurisdictionProfile = CHINA_CONSUMER_AUTO
    histories, requests, people = synthetic(args.debtors, args.history, args.seed)
    facts = [facts_from_history(h, r, p, ref)
             for h, r, (p, ref) in zip(histories, requests, people, strict=True)]

    def policy() -> list[ContactDecision]:
        return [decide(profile, r, f) for r, f in zip(requests, facts, strict=True)]

    def naive() -> list[ContactDecision]:
        return [decide(profile, r, facts_from_history(h, r, p, ref))
                for h, r, (p, ref) in zip(histories, requests, people, strict=True)]

    policy_seconds, decided = timed(policy, args.repeat)
    naive_seconds, baseline = timed(naive, args.repeat)
    single = []
    for r, f in zip(requests[:2000], facts[:2000], strict=True):
        began = time.perf_counter()
        decide(profile, r, f)
        single.append((time.perf_counter() - began) * 1e6)
    single.sort()
    n = len(requests)
    events = sum(len(h) for h in histories)
    disagree = sum(a != b for a, b in zip(decided, baseline, strict=True))
    blocked = sum(not d.allowed for d in decided)
    print(f"bench_contact_policy: {n:,} decisions, profile {profile.code}, "
          f"{events:,} past contacts (Python {platform.python_version()})")
    print(f"  policy on counts    {policy_seconds:8.3f} s  {n / policy_seconds:12,.0f} "
          f"decisions/s  (p50 {statistics.median(single):.1f} µs, "
          f"p99 {single[int(len(single) * 0.99) - 1]:.1f} µs per decision)")
    print(f"  count from history  {naive_seconds:8.3f} s  {n / naive_seconds:12,.0f} "
          f"decisions/s  (baseline)")
    print(f"  ratio               {naive_seconds / policy_seconds:8.1f}x faster on counts")
    print(f"  agreement           {n - disagree:,} of {n:,} decisions equal "
          f"({blocked:,} blocked); the counts are the baseline's own, computed ahead")
    if args.service:
        p50, p99, rate = bench_service(args.service_checks)
        print(f"  service on SQLite   {args.service_checks:,} check_contact calls: "
              f"{rate:,.0f}/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms (query, log, audit, commit)")


if __name__ == "__main__":
    main()
