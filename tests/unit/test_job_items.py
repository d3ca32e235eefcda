"""A job's items are built once (contract.items) and the hook's plan sends built items as they are."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from airflow_provider_mathpix.contract.errors import InvalidInput
from airflow_provider_mathpix.contract.ids import custom_id_from_uri
from airflow_provider_mathpix.contract.items import (
    BuiltItems,
    build_item_list,
    build_items,
    destination_of,
    destination_overrides,
    entry_overrides,
)
from airflow_provider_mathpix.contract.uris import classify_uri
from airflow_provider_mathpix.hooks._jobs import JobPlan


def test_list_entries_become_items_with_custom_id_and_the_destination_rule() -> None:
    items = list(
        build_item_list(
            [
                "s3://in/a.pdf",
                {"source_uri": "s3://in/b.pdf", "custom_id": "b", "destination_uri": "s3://own/b/"},
            ],
            destination_prefix="s3://out/run/",
        )
    )
    a_id = custom_id_from_uri("s3://in/a.pdf")
    assert items == [
        {
            "source_uri": "s3://in/a.pdf",
            "custom_id": a_id,
            "destination_uri": f"s3://out/run/{a_id}/",
            "destination_basename": a_id,
        },
        {"source_uri": "s3://in/b.pdf", "custom_id": "b", "destination_uri": "s3://own/b/"},
    ]
    assert destination_of("s3://out/run", "c") == ("s3://out/run/c/", "c")


def test_walk_entries_stream_through_the_same_builder() -> None:
    walked = ({"source_uri": f"s3://in/{i}.pdf", "custom_id": f"{i}.pdf"} for i in range(3))
    built = build_items(walked, destination_prefix="s3://out/")
    assert next(built) == {
        "source_uri": "s3://in/0.pdf",
        "custom_id": "0.pdf",
        "destination_uri": "s3://out/0.pdf/",
        "destination_basename": "0.pdf",
    }
    assert len(list(built)) == 2


@pytest.mark.parametrize(
    ("entries", "kwargs", "message"),
    [
        (["s3://b/a.pdf", "not a uri"], {}, r"files\[1\].source_uri"),
        ([{"custom_id": "x"}], {}, r"files\[0\].source_uri is required"),
        (["s3://b/a.pdf", "s3://b/a.pdf"], {}, r"files\[1\].*appears more than once"),
        ([3], {}, r"files\[0\] must be a source URI string or an item dict"),
        (["s3://b/a.pdf"], {"needs_destination": True}, r"image_output_mode='local' needs a destination_uri"),
    ],
)
def test_bad_entries_are_named(entries: list[Any], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_item_list(entries, **kwargs)


def test_overrides_name_only_the_items_the_rule_does_not_describe() -> None:
    items = build_item_list(
        ["s3://in/a.pdf", {"source_uri": "s3://in/b.pdf", "custom_id": "b", "destination_basename": "B"}],
        destination_prefix="s3://out/",
    )
    expected = {"b": ("s3://out/b/", "B")}
    assert destination_overrides(items, "s3://out/") == expected
    # On resume the raw entries give the same, without building the list again.
    entries = [
        "s3://in/a.pdf",
        {"source_uri": "s3://in/b.pdf", "custom_id": "b", "destination_basename": "B"},
    ]
    assert entry_overrides(entries, "s3://out/") == expected


def counting_classify(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = classify_uri

    def counting(uri: Any, *args: Any, **kwargs: Any) -> str:
        seen.append(str(uri))
        return original(uri, *args, **kwargs)

    for name, module in list(sys.modules.items()):
        if name.startswith("airflow_provider_mathpix") and getattr(module, "classify_uri", None) is original:
            monkeypatch.setattr(module, "classify_uri", counting)
    return seen


def test_the_plan_sends_built_items_without_checking_them_again(monkeypatch: pytest.MonkeyPatch) -> None:
    items = build_item_list(["s3://in/a.pdf", "s3://in/b.pdf"])
    seen = counting_classify(monkeypatch)
    plan = JobPlan(items, "job-1", None, {})
    [request] = list(plan.requests())
    assert seen == []
    assert request.payload()["files"] == list(items)
    assert plan.result()["file_count"] == 2


def test_the_plan_still_checks_raw_items_from_a_direct_hook_call(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = counting_classify(monkeypatch)
    plan = JobPlan([{"source_uri": "s3://in/a.pdf"}], "job-1", None, {})
    list(plan.requests())
    assert seen == ["s3://in/a.pdf"]
    # JobPlan is internal: the hook's public methods raise this as MathpixValidationError
    with pytest.raises(InvalidInput, match="source_uri"):
        JobPlan([{"source_uri": "ftp://x/a.pdf"}], "job-1", None, {})
    assert isinstance(build_item_list(["s3://in/a.pdf"]), BuiltItems)
