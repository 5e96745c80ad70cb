"""The text of a real PDF, as the customer's reader shows it (poppler's pdftotext)."""

import subprocess
import tempfile


def pdf_to_text(pdf, layout=False):
    """The text of a real PDF (bytes), as poppler's pdftotext extracts it."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        return subprocess.run(
            ["pdftotext", *(["-layout"] if layout else []), f.name, "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
