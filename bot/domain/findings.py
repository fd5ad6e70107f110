"""What the assistant found out about a driver's session: the agent reads it in the handoff record."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Dict, Optional

from bot.domain.outcomes import Outcome, ProviderOutcome


def _iso(moment: Optional[datetime]) -> Optional[str]:
    return moment.isoformat() if moment else None


@dataclass(frozen=True)
class ProviderFindings:
    """The station provider's answer when it was asked (OCPI)."""

    outcome: ProviderOutcome
    status: Optional[str] = None  # the provider's OCPI session status
    kwh: Optional[float] = None
    reason: Optional[str] = None  # why unavailable
    last_updated: Optional[datetime] = None


@dataclass(frozen=True)
class MeterFindings:
    """The diagnosis of one session (bot.domain.diagnosis.Verdict), as the agent needs it."""

    kwh_trend: str  # rising | flat | unknown
    kwh_trend_source: str  # meter | driver
    hours_open: float
    auto_close_due: datetime
    overdue: bool
    own_station: bool
    operator_name: str
    operator_party_id: str
    operator_website: Optional[str]
    operator_phone: Optional[str]
    location_name: str
    city: str
    evse_id: str
    last_reading_at: Optional[datetime]
    last_kwh: Optional[float]
    meter_reset: bool
    ignored_future_readings: int


@dataclass(frozen=True)
class Findings:
    outcome: Outcome
    identified: bool  # the driver proved who they are (verified token)
    kwh_reported_by_driver: Optional[str] = None  # rising | flat: the driver's own word
    driver_cannot_start: bool = False
    meter: Optional[MeterFindings] = None  # None: no session of theirs was diagnosed
    provider: Optional[ProviderFindings] = None  # None: the provider was not asked

    def to_json(self) -> Dict[str, Any]:
        """Flat and JSON-safe, as the record stores it and the helpdesk receives it."""
        out: Dict[str, Any] = {"step": self.outcome.value, "identified": self.identified,
                               "kwh_reported_by_driver": self.kwh_reported_by_driver,
                               "driver_cannot_start": self.driver_cannot_start}
        if self.meter is not None:
            meter = asdict(self.meter)
            meter["hours_open"] = round(self.meter.hours_open, 1)
            meter["auto_close_due"] = _iso(self.meter.auto_close_due)
            meter["last_reading_at"] = _iso(self.meter.last_reading_at)
            meter["last_kwh"] = round(self.meter.last_kwh, 3) if self.meter.last_kwh is not None else None
            out.update(meter)
        if self.provider is not None:
            out["provider"] = {"outcome": self.provider.outcome.value, "status": self.provider.status,
                               "kwh": self.provider.kwh, "reason": self.provider.reason,
                               "last_updated": _iso(self.provider.last_updated)}
        return out
