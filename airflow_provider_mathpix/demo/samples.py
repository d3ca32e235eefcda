"""Sample PDFs made by the project, so the demo and the tests need no downloaded data.

Each document is a real, multi-page PDF with a title, prose and displayed formulas,
drawn with reportlab. Output is byte-for-byte deterministic (``invariant=1`` pins the
creation date and document id), so the same sample always yields the same bytes, the
same content hash and therefore the same ``custom_id`` and Mathpix de-duplication.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas


@dataclass(frozen=True)
class SampleDocument:
    """One sample: its file name, its title and the body of each page."""

    name: str
    title: str
    pages: tuple[tuple[str, ...], ...]

    @property
    def filename(self) -> str:
        return f"{self.name}.pdf"


SAMPLES: tuple[SampleDocument, ...] = (
    SampleDocument(
        name="euler-identity",
        title="On Euler's Identity",
        pages=(
            (
                "Euler's identity links the five most important constants of analysis.",
                "FORMULA: e^{i\\pi} + 1 = 0",
                "It follows from the exponential form of complex numbers:",
                "FORMULA: e^{i\\theta} = \\cos\\theta + i\\sin\\theta",
            ),
            (
                "Setting theta to pi gives cos(pi) = -1 and sin(pi) = 0.",
                "FORMULA: e^{i\\pi} = -1",
                "Hence the identity, which holds exactly in the complex field.",
            ),
        ),
    ),
    SampleDocument(
        name="gaussian-integral",
        title="The Gaussian Integral",
        pages=(
            (
                "The Gaussian integral appears throughout probability and physics.",
                "FORMULA: \\int_{-\\infty}^{\\infty} e^{-x^2} \\, dx = \\sqrt{\\pi}",
            ),
            (
                "Squaring the integral and changing to polar coordinates:",
                "FORMULA: I^2 = \\int_0^{2\\pi} \\int_0^{\\infty} e^{-r^2} r \\, dr \\, d\\theta = \\pi",
            ),
            (
                "The normal density integrates to one as a consequence:",
                "FORMULA: \\frac{1}{\\sigma\\sqrt{2\\pi}} \\int e^{-(x-\\mu)^2 / 2\\sigma^2} dx = 1",
            ),
        ),
    ),
    SampleDocument(
        name="quadratic-formula",
        title="Solving Quadratic Equations",
        pages=(
            (
                "Every quadratic equation with real coefficients can be solved in closed form.",
                "FORMULA: a x^2 + b x + c = 0",
                "Completing the square yields the familiar formula:",
                "FORMULA: x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}",
            ),
        ),
    ),
    SampleDocument(
        name="basel-problem",
        title="The Basel Problem",
        pages=(
            (
                "Euler solved the Basel problem in 1734, summing the reciprocal squares.",
                "FORMULA: \\sum_{n=1}^{\\infty} \\frac{1}{n^2} = \\frac{\\pi^2}{6}",
            ),
            (
                "The same method gives the even values of the zeta function:",
                "FORMULA: \\zeta(4) = \\sum_{n=1}^{\\infty} \\frac{1}{n^4} = \\frac{\\pi^4}{90}",
            ),
        ),
    ),
    SampleDocument(
        name="pythagorean-theorem",
        title="The Pythagorean Theorem",
        pages=(
            (
                "In a right triangle the square on the hypotenuse equals the sum of the others.",
                "FORMULA: a^2 + b^2 = c^2",
            ),
            (
                "In n dimensions the Euclidean norm generalises the theorem:",
                "FORMULA: \\lVert x \\rVert = \\sqrt{x_1^2 + x_2^2 + \\cdots + x_n^2}",
            ),
            (
                "And the law of cosines extends it to any triangle:",
                "FORMULA: c^2 = a^2 + b^2 - 2ab\\cos\\gamma",
            ),
        ),
    ),
)


def render_pdf(doc: SampleDocument) -> bytes:
    """Draw ``doc`` as a PDF: title on page one, one line of text or formula per row.

    Formula lines are set in a monospaced face and indented, as a typeset display
    equation would be; the LaTeX source is the text, so OCR of it is meaningful.
    """
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, invariant=1, pageCompression=0)
    canvas.setTitle(doc.title)
    canvas.setAuthor("airflow-provider-mathpix samples")
    canvas.setSubject("Sample document with text and formulas")
    width, height = A4
    for number, lines in enumerate(doc.pages, start=1):
        y = height - 72
        if number == 1:
            canvas.setFont("Helvetica-Bold", 20)
            canvas.drawString(72, y, doc.title)
            y -= 40
        for line in lines:
            if line.startswith("FORMULA: "):
                canvas.setFont("Courier", 12)
                canvas.drawString(108, y, line.removeprefix("FORMULA: "))
                y -= 30
            else:
                canvas.setFont("Helvetica", 12)
                canvas.drawString(72, y, line)
                y -= 22
        canvas.setFont("Helvetica", 9)
        canvas.drawString(width / 2 - 20, 40, f"Page {number} of {len(doc.pages)}")
        canvas.showPage()
    canvas.save()
    return buf.getvalue()


def iter_sample_pdfs(count: int | None = None) -> Iterator[tuple[SampleDocument, bytes]]:
    """Yield ``(sample, pdf_bytes)``; ``count`` cycles through the samples with numbered names."""
    total = len(SAMPLES) if count is None else count
    for index in range(total):
        base = SAMPLES[index % len(SAMPLES)]
        doc = (
            base
            if index < len(SAMPLES)
            else SampleDocument(name=f"{base.name}-{index:04d}", title=base.title, pages=base.pages)
        )
        yield doc, render_pdf(doc)


def write_samples(directory: str | Path, count: int | None = None) -> list[Path]:
    """Write the sample PDFs into ``directory`` and return their paths."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for doc, data in iter_sample_pdfs(count):
        path = out / doc.filename
        path.write_bytes(data)
        paths.append(path)
    return paths
