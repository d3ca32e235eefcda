"""The cost line: pages x the Files API tier price."""

from __future__ import annotations

import pytest

from airflow_provider_mathpix.exceptions import MathpixValidationError
from airflow_provider_mathpix.pricing import JobCost, validate_tier


def test_standard_and_volume_tiers() -> None:
    standard = JobCost("j", 2_000_000, "standard")
    volume = JobCost("j", 2_000_000, "volume")
    assert (standard.usd, volume.usd) == (3000.0, 2000.0)
    assert standard.line == (
        "Mathpix cost of job j: 2,000,000 pages x $1.50/1,000 pages "
        "(standard tier, below 30M pages/month) = $3,000.00"
    )
    assert volume.line.endswith("(volume tier, above 30M pages/month) = $2,000.00")


def test_small_jobs_keep_their_fraction_of_a_cent() -> None:
    assert JobCost("j", 3, "standard").line.endswith("= $0.0045")
    assert JobCost("j", 0, "volume").as_dict()["cost_usd"] == 0


def test_unknown_tier_is_refused() -> None:
    with pytest.raises(MathpixValidationError, match="pricing_tier must be one of"):
        validate_tier("enterprise")
