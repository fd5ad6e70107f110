"""Every outcome of a turn of the article's flow: one enum, stored in the `step` slot by its value."""
from __future__ import annotations

from enum import Enum


class Outcome(str, Enum):
    # The diagnosis of one session (bot.domain.diagnosis).
    NOT_ACTIVE = "not_active"  # not ACTIVE any more: nothing is stuck
    CHECK_KWH = "check_kwh"  # step 2, data cannot tell: ask the driver whether kWh still increases
    STILL_CHARGING = "still_charging"  # step 2, kWh still increasing: the session really is ongoing
    WAIT = "wait"  # step 1: kWh flat, inside the auto-close window: closes by itself, card usable
    OWN_STATION_PERSON = "own_station_person"  # step 3: own station, overdue or blocking: a person
    OTHER_PROVIDER = "other_provider"  # step 4: other provider, overdue or blocking: contact them
    # Before or instead of a diagnosis.
    ANONYMOUS = "anonymous"  # nobody proven: the article's general guidance, nobody's data
    UNKNOWN_SESSION = "unknown_session"  # the named session is not on the driver's account
    CHOOSE_SESSION = "choose_session"  # several active sessions: the driver picks one
    NO_SESSION = "no_session"  # no active session on the account
    PROVIDER_COMPLETED = "provider_completed"  # the station's provider says it has ended

    @classmethod
    def parse(cls, value: object) -> "Outcome | None":
        """The outcome a slot holds, or None for anything else (slots can be typed by a driver)."""
        try:
            return cls(value)
        except ValueError:
            return None


# The article's four steps, the outcomes a diagnosis of one session can reach.
DIAGNOSED = frozenset({Outcome.NOT_ACTIVE, Outcome.CHECK_KWH, Outcome.STILL_CHARGING, Outcome.WAIT,
                       Outcome.OWN_STATION_PERSON, Outcome.OTHER_PROVIDER})


class ProviderOutcome(str, Enum):
    """What the station's provider (CPO, over OCPI) said about a session when asked."""

    ACTIVE = "active"  # still open on their side; its newest kWh value joins the meter history
    COMPLETED = "completed"  # they have ended it; the app will follow
    NOT_FOUND = "not_found"  # they don't list it
    UNAVAILABLE = "unavailable"  # no usable answer in time: we carry on from our own data
