"""The PDF report (workbook_tools/report/): exported for real and checked with poppler.

Every notebook in EXPORTED is printed once (module fixture); the checks then read
the PDF back: pages render (pdftoppm), headings are in the text (pdftotext), no
formula is left as raw TeX, the raster images match the notebook's figures
(pdfimages), long lines stay on the page. The fixture notebooks are always
exported; the first two course notebooks in notebooks/ are added when they exist.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import nbformat
import pytest

from workbook_tools.report import ReportError, ReportExporter, export_pdf

from _pdf_tools import needs

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DEMO = FIXTURES / "report_demo.ipynb"
SECOND = FIXTURES / "report_second.ipynb"
COURSE = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))[:2]
EXPORTED = [DEMO, SECOND, *COURSE]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# The order in which nbconvert's HTML exporter picks a representation.
PRIORITY = ["application/javascript", "text/html", "text/markdown", "image/svg+xml",
            "text/vnd.mermaid", "text/latex", "image/png", "image/jpeg", "text/plain"]
RASTER = {"image/png", "image/jpeg", "image/gif"}

pytestmark = needs("pdftoppm", "pdftotext", "pdfimages", "pdfinfo")


# --------------------------------------------------------------------------- helpers


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def norm(text: str) -> str:
    """NFKC (ligatures such as 'ﬁ' become 'fi') and every run of whitespace one space."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def pdf_text(pdf: Path) -> str:
    return norm(run("pdftotext", "-enc", "UTF-8", str(pdf), "-"))


def pdf_pages(pdf: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", run("pdfinfo", str(pdf)), re.M).group(1))


def pdf_raster_images(pdf: Path) -> int:
    rows = run("pdfimages", "-list", str(pdf)).splitlines()[2:]
    return sum(1 for row in rows if row.split()[2] == "image")  # not the "smask" alpha channels


_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$|\\\[.+?\\\]|\\\(.+?\\\)|\\begin\{(\w+\*?)\}.+?\\end\{\1\}", re.S)


def markdown_math_and_prose(nb) -> tuple[str, str]:
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    md = re.sub(r"```.*?```|`[^`\n]*`", " ", md, flags=re.S)  # code in markdown is neither
    math = " ".join(m.group(0) for m in _MATH.finditer(md))
    return math, _MATH.sub(" ", md)


def code_and_output_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        parts.append(cell.source)
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") if isinstance(out.get("text"), str) else "")
            parts += [v for k, v in out.get("data", {}).items() if k.startswith("text/") and isinstance(v, str)]
            parts += out.get("traceback", [])
    return "\n".join(parts)


def headings(nb) -> list[str]:
    found = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            source = re.sub(r"^```.*?^```", "", cell.source, flags=re.S | re.M)  # '#' in fenced code
            found += [m.group(1) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", source, re.M)]
    return found


def heading_words(heading: str) -> list[str]:
    text = _MATH.sub(" ", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [label](url) -> label
    text = re.sub(r"<[^>]+>", " ", text)
    return re.findall(r"\w+", unicodedata.normalize("NFKC", text))


def expected_raster_images(nb) -> int:
    """Raster images the report should show: figure outputs (not widgets) and markdown pictures."""
    count = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            count += len(re.findall(r"!\[[^\]]*\]\([^)\s]+\.(?:png|jpe?g|gif)\b", cell.source, re.I))
            count += len(re.findall(r"<img\s[^>]*src=[\"'][^\"']+\.(?:png|jpe?g|gif)[\"']", cell.source, re.I))
            count += sum(1 for att in cell.get("attachments", {}).values() if RASTER & set(att))
            continue
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            data = {k: v for k, v in out.get("data", {}).items() if k != WIDGET_VIEW}
            if WIDGET_VIEW in out.get("data", {}) and not any(k.startswith("image/") for k in data):
                continue  # a widget panel: dropped from the report
            shown = next((m for m in PRIORITY if m in data), None)
            if shown in RASTER:
                count += 1
            elif shown == "text/html":
                count += len(re.findall(r"<img\s", data["text/html"]))
    return count


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


# --------------------------------------------------------------------------- the exports


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each notebook in EXPORTED printed once, with its code."""
    out = tmp_path_factory.mktemp("reports")
    results = {}
    for nb_path in EXPORTED:
        before = snapshot(nb_path)
        pdf = export_pdf(nb_path, out)
        assert snapshot(nb_path) == before, f"exporting changed {nb_path.name}"
        results[nb_path] = pdf
    return results


def test_there_are_always_at_least_two_notebooks_to_export():
    assert len(EXPORTED) >= 2 and DEMO.exists() and SECOND.exists()


@pytest.mark.parametrize("nb_path", EXPORTED, ids=lambda p: p.name)
def test_every_page_renders(exported, nb_path):
    pdf = exported[nb_path]
    assert pdf == pdf.parent / (nb_path.stem + ".pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    pages = pdf_pages(pdf)
    assert pages >= 1
    outdir = pdf.parent / f"{nb_path.stem}-png"
    outdir.mkdir(exist_ok=True)
    run("pdftoppm", "-r", "30", "-png", str(pdf), str(outdir / "page"))
    pngs = sorted(outdir.glob("page*.png"))
    assert len(pngs) == pages
    import matplotlib.image as mpimg

    first = mpimg.imread(pngs[0])
    assert first.std() > 0.01, "the first page is blank"
    assert not list(pdf.parent.glob("*.part")), "a temporary file was left behind"


@pytest.mark.parametrize("nb_path", EXPORTED, ids=lambda p: p.name)
def test_headings_are_in_the_text(exported, nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    text = pdf_text(exported[nb_path])
    words = set(re.findall(r"\w+", text))
    hs = headings(nb)
    assert hs, f"{nb_path.name} has no headings"
    for h in hs:
        missing = [w for w in heading_words(h) if w not in words]
        assert not missing, f"heading {h!r}: {missing} not in the PDF"


@pytest.mark.parametrize("nb_path", EXPORTED, ids=lambda p: p.name)
def test_math_is_typeset_not_left_as_tex(exported, nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    math, prose = markdown_math_and_prose(nb)
    text = pdf_text(exported[nb_path])
    code = code_and_output_text(nb)
    if math:
        commands = set(re.findall(r"\\[A-Za-z]+", math)) - set(re.findall(r"\\[A-Za-z]+", code))
        left = sorted(c for c in commands if c in text)
        assert not left, f"TeX source in the PDF: {left}"
        if "$" not in code and "$" not in prose:
            assert "$" not in text, "a formula was printed with its $ delimiters"
    # Greek letters written as Unicode in the Markdown prose come out as themselves.
    greek = set(re.findall(r"[\u0370-\u03ff]", prose))
    assert greek <= set(text), f"Greek letters lost: {sorted(greek - set(text))}"


@pytest.mark.parametrize("nb_path", EXPORTED, ids=lambda p: p.name)
def test_embedded_images_match_the_figures(exported, nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    assert pdf_raster_images(exported[nb_path]) == expected_raster_images(nb)


# --------------------------------------------------------------------------- the demo notebook in detail


def test_demo_fixture_has_what_the_checks_need():
    nb = nbformat.read(DEMO, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    widget = [i for i, o in enumerate(outputs) if WIDGET_VIEW in o.get("data", {})]
    assert widget and "VBox(children" in outputs[widget[0]].data["text/plain"]
    assert "image/png" in outputs[widget[0] + 1].get("data", {}), "the panel's static figure follows it"
    assert "widgets" in nb.metadata
    assert expected_raster_images(nb) == 2
    assert max(len(line) for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines()) > 200


def test_demo_unicode_title_author_and_no_widget(exported):
    text = pdf_text(exported[DEMO])
    for s in ("Report demo: gradients by hand", "Ada Lovelace", "α, β, γ, δ, λ, σ, Δ, Ω", "→ ⇒",
              "≤ ≥ ≠ ≈", "café, naïve, Ångström"):
        assert s in text
    assert text.count("Report demo: gradients by hand") == 1, "title printed twice (header and heading)"
    assert "VBox(children" not in text, "the widget's text fallback was printed"
    assert run("pdfinfo", str(exported[DEMO])).count("Title:           Report demo: gradients by hand") == 1


def test_demo_math_is_typeset(exported):
    """MathJax's output is text in its STIX fonts: mathematical italic letters, ∑, ∂."""
    raw = run("pdftotext", "-enc", "UTF-8", str(exported[DEMO]), "-")
    text = norm(raw)
    assert "softmax" in text and "∑" in text and "∂" in text
    assert re.search(r"[\U0001D434-\U0001D467\U0001D6FC-\U0001D71B]", raw), "no math italic letters: not typeset?"
    for tex in ("\\frac", "\\alpha", "\\sigma", "\\sum", "\\begin{align}", "$"):
        assert tex not in text


def test_long_code_lines_wrap_inside_the_page(exported):
    pdf = exported[DEMO]
    bbox = run("pdftotext", "-bbox", str(pdf), "-")
    width = float(re.search(r'<page width="([\d.]+)"', bbox).group(1))
    words = re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', bbox)
    assert words
    assert max(float(x1) for _, x1, _ in words) <= width - 20, "text runs into the right margin"
    # the end of the 260-character line is printed, on the page
    assert any("we_tried))" in w for _, _, w in words)


def test_second_fixture_title_and_authors_from_metadata(exported):
    text = pdf_text(exported[SECOND])
    assert "Second fixture: losses compared" in text
    assert "Alan Turing, Grace Hopper" in text
    assert "Losses compared" in text  # its own heading stays, the title is not the heading


def test_the_page_needs_no_network():
    nb = nbformat.read(DEMO, as_version=4)
    page, res = ReportExporter().to_html(nb, {"metadata": {"name": DEMO.stem}})
    # https://report.invalid/ is the page's own made-up origin, answered from this machine.
    web = r"(?!https://report\.invalid/)https?:"
    assert not re.search(rf"<script[^>]+src=[\"']{web}", page)
    assert not re.search(rf"<link[^>]+href=[\"']{web}", page)
    assert not re.search(rf"@import\s+(url\()?[\"']?{web}", page)
    assert "https://report.invalid/_mathjax/MathJax.js" in page and "file://" not in page
    pdf, res = ReportExporter().from_notebook_node(nb, {"metadata": {"name": DEMO.stem}})
    assert res["report"]["blocked_requests"] == []
    assert res["report"]["math"]["total"] == 7 and res["report"]["math"]["failed"] == 0
    assert pdf.startswith(b"%PDF")


def test_network_resources_are_refused_and_left_out(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "# Remote\n\nA picture from the web: ![x](https://example.invalid/x.png) and $\\beta$.")])
    pdf, res = ReportExporter().from_notebook_node(nb, {"metadata": {"name": "remote"}})
    assert res["report"]["blocked_requests"] == ["https://example.invalid/x.png"]
    assert any("network" in w for w in res["report"]["warnings"])
    assert pdf.startswith(b"%PDF")


# --------------------------------------------------------------------------- options


def test_no_code_hides_inputs_keeps_outputs(tmp_path):
    pdf = export_pdf(DEMO, tmp_path, code=False, title="Custom title", author="Someone Else")
    text = pdf_text(pdf)
    assert "losses_per_epoch_for_every_learning_rate_we_tried = {lr" not in text
    assert "import numpy" not in text and "In [" not in text
    assert "WRAPMARKER_END_OF_LONG_LINE" in text  # the output stays
    assert "Custom title" in text and "Someone Else" in text and "Ada Lovelace" not in text
    assert pdf_raster_images(pdf) == 2


def test_execute_runs_a_copy_and_never_touches_the_notebook(tmp_path):
    nb = nbformat.read(SECOND, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    src = tmp_path / "unexecuted.ipynb"
    nbformat.write(nb, src)
    before = snapshot(src)
    pdf = export_pdf(src, tmp_path / "out", execute=True, timeout=120)
    assert snapshot(src) == before
    assert pdf_raster_images(pdf) == 2
    assert "mean of the cross-entropy curve:" in pdf_text(pdf)


# --------------------------------------------------------------------------- failures


def _failing_notebook(path: Path, source: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Fails"),
                                         nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _assert_nothing_written(out: Path, keep: dict[str, bytes] | None = None):
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert left == sorted(keep or {}), f"left behind: {left}"
    for name, data in (keep or {}).items():
        assert (out / name).read_bytes() == data


def test_failed_execution_names_the_cell_and_writes_nothing(tmp_path):
    src = _failing_notebook(tmp_path / "fails.ipynb", "import math\nraise ValueError('boom in cell three')")
    out = tmp_path / "out"
    out.mkdir()
    (out / "fails.pdf").write_bytes(b"an earlier report")
    before = snapshot(src)
    with pytest.raises(ReportError) as err:
        export_pdf(src, out, execute=True, timeout=60)
    msg = str(err.value)
    assert "cell 3" in msg and "ValueError: boom in cell three" in msg
    assert snapshot(src) == before
    _assert_nothing_written(out, keep={"fails.pdf": b"an earlier report"})


def test_timeout_is_reported(tmp_path):
    src = _failing_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)")
    with pytest.raises(ReportError, match=r"timed out: cell 3 .* longer than 2 s"):
        export_pdf(src, tmp_path / "out", execute=True, timeout=2)
    _assert_nothing_written(tmp_path / "out")


def test_missing_browser_is_reported(tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("WORKBOOK_CHROMIUM", str(tmp_path / "no-such-chromium"))
    before = snapshot(SECOND)
    with pytest.raises(ReportError, match="Chromium not found at .*apt-get install chromium"):
        export_pdf(SECOND, out)
    not_a_browser = tmp_path / "not-a-browser"
    not_a_browser.write_text("#!/bin/sh\nexit 1\n")
    not_a_browser.chmod(0o755)
    monkeypatch.setenv("WORKBOOK_CHROMIUM", str(not_a_browser))
    with pytest.raises(ReportError, match="Chromium could not start"):
        export_pdf(SECOND, out)
    assert snapshot(SECOND) == before
    _assert_nothing_written(out)


def test_missing_mathjax_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_MATHJAX", str(tmp_path / "nowhere" / "MathJax.js"))
    with pytest.raises(ReportError, match="MathJax not found"):
        export_pdf(SECOND, tmp_path / "out")
    _assert_nothing_written(tmp_path / "out")


def test_bad_notebooks_are_reported(tmp_path):
    with pytest.raises(ReportError, match="notebook not found"):
        export_pdf(tmp_path / "nope.ipynb", tmp_path)
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{ not json")
    with pytest.raises(ReportError, match="not a valid notebook"):
        export_pdf(bad, tmp_path / "out")
    _assert_nothing_written(tmp_path / "out")


# --------------------------------------------------------------------------- command line and nbconvert


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbook_tools.report", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_cli_writes_the_pdf(tmp_path):
    res = _cli(str(SECOND), "--no-code", "-o", str(tmp_path / "out"), "--title", "Handed in", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    pdf = tmp_path / "out" / "report_second.pdf"
    assert str(pdf) in res.stdout
    text = pdf_text(pdf)
    assert "Handed in" in text and "np.linspace" not in text


def test_cli_failures_are_one_clear_line(tmp_path):
    res = _cli("missing.ipynb", cwd=tmp_path)
    assert res.returncode == 1
    assert "notebook not found: missing.ipynb" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "reports").exists()
    src = _failing_notebook(tmp_path / "fails.ipynb", "1 / 0")
    res = _cli(str(src), "--execute", "--timeout", "60", cwd=tmp_path)
    assert res.returncode == 1
    assert "ZeroDivisionError" in res.stderr and "cell 3" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*.pdf*"))


def test_registered_as_nbconvert_exporter(tmp_path):
    """The entry point that puts 'Report' in JupyterLab's Save and Export Notebook As menu."""
    from nbconvert.exporters.base import get_export_names, get_exporter

    assert "report" in get_export_names()
    assert get_exporter("report") is ReportExporter
    shutil.copy(SECOND, tmp_path / "second.ipynb")
    res = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "report", "second.ipynb"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "second.pdf").read_bytes().startswith(b"%PDF")
    assert json.loads((tmp_path / "second.ipynb").read_text()) == json.loads(SECOND.read_text())


def test_an_export_clears_stale_parts_of_killed_exports(tmp_path):
    """A killed export leaves a hidden .part file; the next export into the folder removes it."""
    out = tmp_path / "out"
    out.mkdir()
    stale, fresh = out / ".lab.pdf.abc123.part", out / ".lab.pdf.def456.part"
    stale.write_bytes(b"%PDF half")
    fresh.write_bytes(b"%PDF being written by another export")
    os.utime(stale, (1, 1))
    with pytest.raises(ReportError, match="notebook not found"):
        export_pdf(tmp_path / "missing.ipynb", out)
    assert not stale.exists() and fresh.exists()


def test_a_panels_output_exports_as_its_figure_alone():
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from workbook_tools.report.render import DropWidgetsPreprocessor

    view = {"model_id": "abc", "version_major": 2, "version_minor": 0}
    panel = new_output("display_data", data={"application/vnd.jupyter.widget-view+json": view,
                                             "image/png": "iVBORw0KGgo=", "text/plain": "[training panel: lr]"})
    bare = new_output("display_data", data={"application/vnd.jupyter.widget-view+json": view,
                                            "text/plain": "VBox(children=(...))"})
    nb = new_notebook(cells=[new_code_cell("panel.show()", outputs=[panel, bare])], metadata={"widgets": {}})
    nb, _ = DropWidgetsPreprocessor().preprocess(nb, {})
    assert [o["data"] for o in nb.cells[0].outputs] == [{"image/png": "iVBORw0KGgo="}]
    assert "widgets" not in nb.metadata
