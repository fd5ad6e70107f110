"""The handoff record, typed once: what a human agent receives so the driver never repeats themselves.

The stored row (bot.store.models.Handoff), the helpdesk's webhook payload, the agent view and the CLI
all derive their fields from this dataclass; the labels agents read are in each field's metadata.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Tuple

_LABEL = "label"


def _f(label: str, **kwargs: Any) -> Any:
    return field(metadata={_LABEL: label}, **kwargs)


@dataclass(frozen=True)
class HandoffRecord:
    conversation_id: str = _f("Conversation ID")
    channel: str = _f("Channel")
    reason: str = _f("Reason")  # the outcome that needed a person, or that the driver asked for one
    account_id: Optional[str] = _f("Account", default=None)  # verified account; None: anonymous
    card_number: Optional[str] = _f("Charge card", default=None)  # a contract ID, or an account e-mail
    location: Optional[str] = _f("Location", default=None)
    session_time: Optional[str] = _f("Session time", default=None)  # ISO 8601 when it could be read
    session_id: Optional[str] = _f("Session ID", default=None)
    language: str = _f("Language", default="en")  # the conversation's (en, nl): answer in it
    findings: Mapping[str, Any] = _f("What the assistant found", default_factory=dict)  # Findings.to_json()
    transcript: List[Mapping[str, str]] = _f("Transcript", default_factory=list)  # {timestamp, sender, text}
    # Set when stored.
    reference: Optional[str] = _f("Reference", default=None)
    created_at: Optional[datetime] = _f("Created", default=None)

    def stored(self, reference: str, created_at: datetime) -> "HandoffRecord":
        return replace(self, reference=reference, created_at=created_at)

    def to_json(self) -> Dict[str, Any]:
        """JSON-ready, every field: the helpdesk payload."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["created_at"] = self.created_at.isoformat() if self.created_at else None
        out["findings"] = dict(self.findings or {})
        out["transcript"] = [dict(line) for line in self.transcript or []]
        return out

    @classmethod
    def from_row(cls, row: Any) -> "HandoffRecord":
        """From any object with the same attribute names (the stored row)."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


# The short fields agents scan, in order, with their labels (everything but findings and transcript).
SUMMARY_FIELDS: Tuple[Tuple[str, str], ...] = tuple(
    (f.name, f.metadata[_LABEL]) for f in fields(HandoffRecord) if f.name not in ("findings", "transcript")
)
FIELD_NAMES: Tuple[str, ...] = tuple(f.name for f in fields(HandoffRecord))
