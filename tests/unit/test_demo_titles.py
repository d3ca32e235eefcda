"""The demo summary's title rule (pure)."""

from __future__ import annotations

import pytest

from airflow_provider_mathpix.demo.titles import title_from_markdown


@pytest.mark.parametrize(
    ("markdown", "title"),
    [
        ("\\title{On Euler's Identity}\n\nText", "On Euler's Identity"),
        ("# The Basel Problem\n\nEuler solved it.", "The Basel Problem"),
        ("\n\n## Second level ##\nbody", "Second level"),
        ("The Gaussian Integral\nThe Gaussian integral appears...", "The Gaussian Integral"),
        ("plain first line\n# Later heading", "Later heading"),
        ("", ""),
        ("x" * 500, "x" * 200),
    ],
)
def test_title_from_markdown(markdown: str, title: str) -> None:
    assert title_from_markdown(markdown) == title
