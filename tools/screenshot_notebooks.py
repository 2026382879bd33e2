#!/usr/bin/env python
"""What a reader sees: each notebook rendered to HTML (nbconvert) and photographed by headless Chromium.

    python tools/screenshot_notebooks.py                    # every notebooks/*.ipynb -> build/screenshots/
    python tools/screenshot_notebooks.py --out /tmp/shots notebooks/06_chat.ipynb exercises/03_*.ipynb

For each notebook NN_x.ipynb it writes NN_x.html and NN_x-01.png, NN_x-02.png, ...: the whole page at
`--width` CSS pixels (GitHub shows a notebook about 980 px wide), cut into pages `--page-height` tall
so an image viewer shows them at full size. The HTML is opened offline, as a reader without internet
(or behind GitHub's renderer) would see it: widgets whose JavaScript comes from a CDN stay blank.

Needs Chromium (Debian: `apt-get install -y chromium`; elsewhere `--chromium PATH`). Nothing is
executed: the committed outputs are what is shown.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
Image.MAX_IMAGE_PIXELS = None  # a long notebook is a tall picture, not a decompression bomb
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")
# Chromium's headless screenshot captures the window only, so a first run reads the page's height
# (this script puts it into the title once everything has loaded), a second one photographs a window
# that tall. (A window far taller than the page costs seconds per 1,000 px.)
MEASURE = "<script>window.addEventListener('load', () => {document.title = 'HEIGHT=' + document.documentElement.scrollHeight;});</script>"


def render_html(notebook: Path, out: Path) -> Path:
    """The notebook as nbconvert's lab-template HTML (images embedded), written to out/<stem>.html."""
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    html = out / f"{notebook.stem}.html"
    html.write_text(body.replace("</head>", MEASURE + "</head>", 1), encoding="utf-8")
    return html


def _chromium(chromium: str, *args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:  # a new empty profile each time: nothing carried over
        return subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=300)


def page_height(html: Path, chromium: str, width: int) -> int:
    done = _chromium(chromium, "--dump-dom", f"--window-size={width},1000", html.resolve().as_uri())
    found = re.search(r"<title>HEIGHT=(\d+)</title>", done.stdout)
    if not found:
        raise RuntimeError(f"chromium could not lay out {html}: {done.stderr.strip().splitlines()[-1:]}")
    return int(found.group(1))


def screenshot(html: Path, png: Path, chromium: str, width: int) -> None:
    height = page_height(html, chromium, width)
    done = _chromium(chromium, f"--screenshot={png}", f"--window-size={width},{height}", html.resolve().as_uri())
    if done.returncode or not png.exists():
        raise RuntimeError(f"chromium could not photograph {html}: {done.stderr.strip().splitlines()[-1:]}")


def content_height(image: Image.Image, background: int = 250) -> int:
    """Rows down to the last one holding anything darker than the page's white."""
    grey = image.convert("L")
    mask = grey.point(lambda v: 255 if v < background else 0)
    box = mask.getbbox()
    return box[3] if box else 1


def cut_pages(full: Path, stem: str, out: Path, page_height: int) -> list[Path]:
    with Image.open(full) as image:
        image.load()
    height = min(content_height(image) + 20, image.height)
    pages = []
    for number, top in enumerate(range(0, height, page_height), 1):
        page = out / f"{stem}-{number:02d}.png"
        image.crop((0, top, image.width, min(top + page_height, height))).save(page, optimize=True)
        pages.append(page)
    full.unlink()
    return pages


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "screenshots")
    ap.add_argument("--width", type=int, default=980)
    ap.add_argument("--page-height", type=int, default=1400)
    ap.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = ap.parse_args(argv)
    if not args.chromium:
        print("screenshot_notebooks: no chromium on PATH (Debian: apt-get install -y chromium; or --chromium PATH)",
              file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for notebook in args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb")):
        html = render_html(notebook, args.out)
        full = args.out / f"{notebook.stem}-full.png"
        try:
            screenshot(html, full, args.chromium, args.width)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"screenshot_notebooks: {exc}", file=sys.stderr)
            return 1
        pages = cut_pages(full, notebook.stem, args.out, args.page_height)
        print(f"{notebook}: {len(pages)} pages -> {args.out}/{notebook.stem}-NN.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
