"""Memory of the masking tool (portal/masking.py): how much a portal process grows while it
makes one masked copy, for the two uploads that used to cost the most, side by side with the
reference way (every page rendered and held, then written at once, as the tool did before)
and the target. Figures, not a test: the machine is shared, so nothing here is asserted.

    .venv/bin/python -m bench.masking

Each measurement runs in a fresh Python process (one `--measure` child per case) that
samples its own resident memory every 5 ms while the copy is made; growth = peak minus the
resident size just before. The uploads are made here:
- "50 pages of 1440 pt": a small vector PDF (a few KB) of 50 pages, each 1440 × 1440 points,
  which renders at the largest page size the tool allows (MAX_RENDER_SIDE);
- "20-page scan": 20 A4 pages, each a 300 dpi photo-like JPEG (2480 × 3508 pixels).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable

TARGET_MB = 300.0  # growth of the portal for one mask request
CASES = ("50 pages of 1440 pt", "20-page scan")


def vector_pdf(pages: int = 50, side: float = 1440.0) -> bytes:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(side, side).close()
    out = io.BytesIO()
    document.save(out)
    document.close()
    return out.getvalue()


def scanned_pdf(pages: int = 20, size: tuple[int, int] = (2480, 3508)) -> bytes:
    from PIL import Image

    images = []
    for number in range(pages):
        noise = Image.effect_noise(size, 40 + number).convert("RGB")  # a scan's grain
        images.append(noise)
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=300.0)
    return out.getvalue()


def upload(case: str) -> bytes:
    return vector_pdf() if case == CASES[0] else scanned_pdf()


def reference_copy(data: bytes, boxes: str) -> bytes:
    """The way the tool worked before: every page rendered and held, burned, then one save."""
    from portal.masking import burn_boxes, parse_boxes
    from portal.uploads import PDF, page_images

    images, dpi = page_images(data, PDF)
    found = parse_boxes(boxes, [image.size for image in images])
    burned = [burn_boxes(i, [b for b in found if b.page == n]) for n, i in enumerate(images)]
    out = io.BytesIO()
    burned[0].save(out, "PDF", save_all=True, append_images=burned[1:], resolution=dpi)
    return out.getvalue()


def peak_growth_mb(work: Callable[[], object]) -> tuple[float, float]:
    """(growth of the resident size in MB at its peak during `work`, seconds taken)."""
    import psutil

    process = psutil.Process()
    before = process.memory_info().rss
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    work()
    took = time.perf_counter() - started
    done.set()
    sampler.join()
    peak = max(peak, process.memory_info().rss)
    return (peak - before) / 2**20, took


def measure(case: str, way: str) -> dict[str, float]:
    from portal.masking import masked_copy
    from portal.uploads import PDF

    data = upload(case)
    boxes = json.dumps([{"page": 0, "x": 10, "y": 10, "w": 200, "h": 40}])
    if way == "now":
        growth, took = peak_growth_mb(lambda: masked_copy(data, PDF, boxes))
    else:
        growth, took = peak_growth_mb(lambda: reference_copy(data, boxes))
    return {"growth_mb": growth, "seconds": took, "upload_kb": len(data) / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", nargs=2, metavar=("CASE", "WAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return 0
    rows = []
    for case in CASES:
        figures = {}
        for way in ("now", "reference"):
            run = subprocess.run(
                [sys.executable, "-m", "bench.masking", "--measure", case, way],
                capture_output=True,
                text=True,
                check=True,
            )
            figures[way] = json.loads(run.stdout)
        rows.append((case, figures))
    print(f"{'upload':<22} {'size':>9} {'now':>10} {'reference':>11} {'target':>8}  time now/ref")
    for case, figures in rows:
        now, ref = figures["now"], figures["reference"]
        print(
            f"{case:<22} {now['upload_kb']:>7.0f}KB {now['growth_mb']:>8.0f}MB "
            f"{ref['growth_mb']:>9.0f}MB {TARGET_MB:>6.0f}MB  "
            f"{now['seconds']:.1f}s/{ref['seconds']:.1f}s"
            f"  {'met' if now['growth_mb'] < TARGET_MB else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
