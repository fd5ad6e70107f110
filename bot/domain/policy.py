"""The help article's policy as numbers: one object, read by the diagnosis and by the replies alike."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import FrozenSet, Optional


@dataclass(frozen=True)
class ArticlePolicy:
    # Step 1: a stale session closes by itself this long after its start.
    auto_close_hours: float = 72.0
    # Step 2: kWh counts as "still increasing" only if it rose by more than this ...
    kwh_tolerance: float = 0.05
    # ... within this many minutes before the newest reading, and that reading is recent.
    kwh_window_minutes: float = 30.0
    # Steps 3 and 4: the OCPI party IDs of the brand's own stations; any other party is "another provider".
    own_party_ids: FrozenSet[str] = field(default_factory=lambda: frozenset({"EFL"}))

    def is_own_party(self, party_id: Optional[str]) -> bool:
        return bool(party_id) and party_id.upper() in self.own_party_ids

    @property
    def auto_close_hours_text(self) -> str:
        """The window as drivers read it: "72", or "1.5" for a fractional setting."""
        return f"{self.auto_close_hours:g}"
