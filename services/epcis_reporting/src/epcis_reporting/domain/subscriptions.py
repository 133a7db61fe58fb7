"""Query subscriptions (EPCIS 2.0 REST binding `/queries/{name}/subscriptions`): a named query's
new results delivered by webhook, as they settle (`stream`) or on a schedule (EPCIS 1.2 §8.2.5.3,
cron-like). Each is its subscriber's; its deliveries are read with the subscriber's scope as it
stood when it subscribed. Pure: the schedule's next run, the destination's check, the decisions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from serialtrail_contracts.base import EventContract
from serialtrail_contracts.epcis import Schedule, SubscriptionCancelled, SubscriptionCreated
from serialtrail_kit.errors import Conflict, InvalidInput, NotFound, Rule

STREAM_OR_SCHEDULE = Rule(
    "stream-or-schedule",
    "a subscription either streams (`stream: true`) or runs on a `schedule`, never both, never neither",
    "stream",
    "neither stream nor schedule: the server would not know when to notify",
)
SCHEDULE = Rule(
    "schedule",
    "a schedule field is a comma-separated list of numbers and [a-b] ranges within its bounds "
    "(second and minute 0-59, hour 0-23, dayOfMonth 1-31, month 1-12, dayOfWeek 1-7, Monday 1), "
    "and some time matches them all",
    "schedule.hour",
    "'25' is not within 0-23",
)
DESTINATION = Rule(
    "webhook-destination",
    "dest is an absolute https URL (http only where the server allows it) of a host that is not this "
    "server's own network (loopback, private, link-local) unless the server allows private webhooks",
    "dest",
    "'http://169.254.169.254/latest' is a link-local address",
)
# Each subscription in force costs a query per delivery (a stream's: whenever events settle).
MOST_PER_SUBSCRIBER = 100
HELD = Rule(
    "subscriptions-per-subscriber",
    f"a subscriber (an API key, a token's subject) holds at most {MOST_PER_SUBSCRIBER} subscriptions in force: "
    "unsubscribe one before subscribing again",
    "dest",
    f"a subscriber holding {MOST_PER_SUBSCRIBER} subscriptions subscribes again",
)
SUBSCRIBED = Rule("subscribed", "the subscription exists (and is the caller's)", "subscriptionID", "no subscription")

# Each field of a schedule: (its name in the binding, lowest, highest)
FIELDS = {
    "second": ("second", 0, 59),
    "minute": ("minute", 0, 59),
    "hour": ("hour", 0, 23),
    "day_of_month": ("dayOfMonth", 1, 31),
    "month": ("month", 1, 12),
    "day_of_week": ("dayOfWeek", 1, 7),
}
_PART = re.compile(r"^(?:(\d{1,2})|\[(\d{1,2})-(\d{1,2})\])$")
_HORIZON = timedelta(days=4 * 366 + 1)  # every schedule that matches at all matches within 4 years (29 Feb)


def stream_id(subscription_id: object) -> str:
    return f"subscription-{subscription_id}"


def allowed(schedule: Schedule) -> dict[str, frozenset[int]]:
    """Each field's allowed values; raises InvalidInput naming the field (`schedule.hour`)."""
    found: dict[str, frozenset[int]] = {}
    for name, (binding, low, high) in FIELDS.items():
        text = getattr(schedule, name)
        if text is None:
            found[name] = frozenset({0}) if name == "second" else frozenset(range(low, high + 1))
            continue
        found[name] = _values(text, binding, low, high)
    return found


def _values(text: str, binding: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        match = _PART.match(part.strip())
        first, last = (int(match[1]), int(match[1])) if match and match[1] else (0, -1)
        if match and match[2]:
            first, last = int(match[2]), int(match[3])
        if match is None or not low <= first <= last <= high:
            message = f"{part.strip()[:20]!r} is not a number or [a-b] range within {low}-{high}"
            raise InvalidInput(message, [SCHEDULE.at(f"schedule.{binding}", message)])
        values.update(range(first, last + 1))
    return frozenset(values)


def next_run(schedule: Schedule, after: datetime) -> datetime:
    """The first time after `after` (UTC, whole seconds) that the schedule matches."""
    ok = allowed(schedule)
    at = after.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
    limit = at + _HORIZON
    while at < limit:
        if at.month not in ok["month"]:
            at = (at.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0)
        elif at.day not in ok["day_of_month"] or at.isoweekday() not in ok["day_of_week"]:
            at = (at + timedelta(days=1)).replace(hour=0, minute=0, second=0)
        elif at.hour not in ok["hour"]:
            at = (at + timedelta(hours=1)).replace(minute=0, second=0)
        elif at.minute not in ok["minute"]:
            at = (at + timedelta(minutes=1)).replace(second=0)
        elif at.second not in ok["second"]:
            at += timedelta(seconds=1)
        else:
            return at
    message = "no time matches every field of the schedule (a 31st of a month that has none?)"
    raise InvalidInput(message, [SCHEDULE.at("schedule", message)])


def room_for_one_more(held: int) -> None:
    """Refuses a subscription beyond the subscriber's limit (`held`: its subscriptions in force)."""
    if held >= MOST_PER_SUBSCRIBER:
        message = f"this subscriber already holds {held} subscriptions, the most one may hold"
        raise Conflict(message, [HELD.at("dest", message)])


def subscribed(history: Sequence[EventContract]) -> SubscriptionCreated | None:
    created = next((e for e in history if isinstance(e, SubscriptionCreated)), None)
    cancelled = any(isinstance(e, SubscriptionCancelled) for e in history)
    return None if cancelled else created


def cancel(history: Sequence[EventContract], principal_id: str, query_name: str) -> SubscriptionCancelled:
    created = subscribed(history)
    if created is None or created.principal_id != principal_id or created.query_name != query_name:
        raise unknown()
    return SubscriptionCancelled(
        subscription_id=created.subscription_id, query_name=query_name, principal_id=principal_id
    )


def unknown() -> NotFound:
    return NotFound("no such subscription", [SUBSCRIBED.at("subscriptionID", "no such subscription of this query")])
