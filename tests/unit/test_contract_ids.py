"""custom_id_from_key: stable, valid, collision-resistant ids derived from object keys."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.ids import custom_id_from_key, validate_id

VALID = re.compile(r"[A-Za-z0-9_\-.:]{1,256}")


def test_valid_key_is_unchanged() -> None:
    assert custom_id_from_key("reports-2024_a.pdf") == "reports-2024_a.pdf"


def test_changed_key_keeps_a_readable_prefix_and_a_hash() -> None:
    cid = custom_id_from_key("reports/2024/a b.pdf")
    assert cid.startswith("reports_2024_a_b.pdf-")
    assert len(cid) == len("reports_2024_a_b.pdf-") + 16


def test_keys_that_sanitise_alike_do_not_collide() -> None:
    assert custom_id_from_key("a/b") != custom_id_from_key("a b")
    assert custom_id_from_key("a/b") != custom_id_from_key("a_b")


def test_long_keys_are_truncated_but_distinct() -> None:
    a, b = "x" * 300 + "1", "x" * 300 + "2"
    assert len(custom_id_from_key(a)) <= 256
    assert custom_id_from_key(a) != custom_id_from_key(b)


@pytest.mark.parametrize("bad", ["", None, 3])
def test_empty_or_non_string_key_is_rejected(bad: object) -> None:
    with pytest.raises(InvalidInput, match="key"):
        custom_id_from_key(bad)  # type: ignore[arg-type]


@given(st.text(min_size=1, max_size=600))
def test_any_key_gives_a_valid_stable_id(key: str) -> None:
    cid = custom_id_from_key(key)
    assert VALID.fullmatch(cid)
    assert validate_id(cid, "custom_id") == cid
    assert custom_id_from_key(key) == cid
