"""The sample PDFs the demo and the real-deployment test feed to Mathpix."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf

from airflow_provider_mathpix.demo.samples import SAMPLES, iter_sample_pdfs, render_pdf, write_samples


def test_samples_are_real_pdfs_with_title_pages_text_and_formulas() -> None:
    assert len(SAMPLES) >= 5
    for doc, data in iter_sample_pdfs():
        reader = pypdf.PdfReader(io.BytesIO(data))
        assert len(reader.pages) == len(doc.pages)
        assert reader.metadata is not None and reader.metadata.title == doc.title
        first = reader.pages[0].extract_text()
        assert first.startswith(doc.title)
        text = "\n".join(page.extract_text() for page in reader.pages)
        assert "\\" in text or "^" in text, f"{doc.name} carries no formula"
    assert sum(len(doc.pages) for doc in SAMPLES) > len(SAMPLES), "some samples must be multi-page"


def test_samples_are_deterministic() -> None:
    for doc in SAMPLES:
        assert render_pdf(doc) == render_pdf(doc)


def test_more_samples_than_templates_get_unique_names(tmp_path: Path) -> None:
    paths = write_samples(tmp_path, count=12)
    assert len({p.name for p in paths}) == 12
    assert all(p.read_bytes().startswith(b"%PDF-") for p in paths)
