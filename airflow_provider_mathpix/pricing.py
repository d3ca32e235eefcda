"""What a job cost: pages converted x the Files API tier price (pure, no I/O).

Mathpix bills the Files API per page: $1.50 per 1,000 pages below 30M pages a month,
$1.00 per 1,000 above. Which side of 30M a job falls on depends on the account's whole
month, which only the account knows, so the tier is the DAG author's parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_mathpix.exceptions import MathpixValidationError

#: USD per 1,000 pages, by tier.
PRICE_PER_1000_PAGES: Mapping[str, float] = {"standard": 1.50, "volume": 1.00}
TIER_NOTES: Mapping[str, str] = {
    "standard": "below 30M pages/month",
    "volume": "above 30M pages/month",
}


def validate_tier(tier: str) -> str:
    if tier not in PRICE_PER_1000_PAGES:
        raise MathpixValidationError(
            f"pricing_tier must be one of {sorted(PRICE_PER_1000_PAGES)} "
            f"(standard: $1.50/1,000 pages below 30M pages a month; volume: $1.00 above), got {tier!r}"
        )
    return tier


@dataclass(frozen=True)
class JobCost:
    """The cost of one job's converted pages at one tier."""

    job_id: str
    pages: int
    tier: str

    @property
    def price_per_1000_pages(self) -> float:
        return PRICE_PER_1000_PAGES[self.tier]

    @property
    def usd(self) -> float:
        return round(self.pages * self.price_per_1000_pages / 1000, 4)

    @property
    def line(self) -> str:
        total = f"${self.usd:,.2f}" if self.usd >= 1 else f"${self.usd:.4f}"  # cents hide small jobs
        return (
            f"Mathpix cost of job {self.job_id}: {self.pages:,} pages x "
            f"${self.price_per_1000_pages:.2f}/1,000 pages ({self.tier} tier, {TIER_NOTES[self.tier]}) "
            f"= {total}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "pricing_tier": self.tier,
            "price_per_1000_pages": self.price_per_1000_pages,
            "cost_usd": self.usd,
            "cost_line": self.line,
        }
