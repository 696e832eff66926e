"""OCR of a page image, offline: the `tesseract` binary (Debian's `tesseract-ocr` with
`tesseract-ocr-chi-sim`, which scripts/lib.sh installs) run as a subprocess, its TSV output
read into words with their boxes (rules.blind_review.Word) in the image's pixels.

    words = await read_words(image)          # PIL image -> [Word(text, left, top, ...)]

About 0.5–1 s for a small scan, 3–5 s for an A4 page at 150 dpi on 2 cores (measured with
tesseract 5.3): the masked-copy check (activities/masked_copy.py) runs it as background work
on its own task queue, never on a request's path. The image goes in on stdin and the TSV
comes out on stdout: nothing is written to disk. Its text is never logged (personal data).
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil

from PIL import Image

from rules.blind_review import Word

TESSERACT = "tesseract"
LANGUAGES = "chi_sim"  # its model reads Latin letters and digits too
PAGE_SEGMENTATION = "3"  # fully automatic layout, as a scanned page needs
TIMEOUT_SECONDS = 120.0  # a page; one that takes longer is a failure (retried)
OCR_THREADS = {"OMP_THREAD_LIMIT": "1"}  # one core: the other serves the round


class OcrUnavailable(RuntimeError):
    """tesseract or its Chinese model is not installed, or it failed on a page."""


def tesseract_path() -> str:
    found = shutil.which(TESSERACT)
    if found is None:
        raise OcrUnavailable(
            "tesseract is not installed (Debian: tesseract-ocr tesseract-ocr-chi-sim; "
            "scripts/run.sh installs them as root)"
        )
    return found


async def read_words(image: Image.Image) -> list[Word]:
    """The words tesseract reads on `image`, each with its box (pixels of `image`)."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    process = await asyncio.create_subprocess_exec(
        tesseract_path(),
        "stdin",
        "stdout",
        "-l",
        LANGUAGES,
        "--psm",
        PAGE_SEGMENTATION,
        "tsv",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **OCR_THREADS},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(buffer.getvalue()), TIMEOUT_SECONDS)
    except (TimeoutError, asyncio.CancelledError):
        process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        # its stderr says what is missing (a language, a library); it never holds page text
        reason = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise OcrUnavailable(f"tesseract failed ({process.returncode}): {reason[0][:200]}")
    return words_of_tsv(out.decode("utf-8", "replace"))


def words_of_tsv(tsv: str) -> list[Word]:
    """tesseract's TSV (level, page, block, paragraph, line, word, left, top, width, height,
    confidence, text) as its words (level 5) that hold any text."""
    rows = csv.reader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(rows, None)
    if header is None:
        return []
    words = []
    for row in rows:
        if len(row) < 12 or row[0] != "5" or not row[11].strip():
            continue
        left, top, width, height = (int(value) for value in row[6:10])
        words.append(Word(row[11].strip(), left, top, width, height))
    return words
