"""Find and open the images a data file refers to by id, failing loudly with the id and the path.

Every image the package reads (data files, the chat, the notebook window) goes through `open_image`:
it refuses images over `MAX_PIXELS` before decoding them (a 20000x20000 PNG is a few KB on disk and
1.2 GB in memory), decodes fully (a truncated file fails here, naming itself, not mid-training), and
turns every mode into 8-bit RGB by scaling: 16-bit and float images keep their gradations instead
of saturating to white as Pillow's own `convert("RGB")` would. Paths a data file names stay inside
the image folder: an absolute path, `..` or a symbolic link leading out is an error.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image

EXTENSIONS: tuple[str, ...] = (".jpg", ".png", ".jpeg")
# The largest image read, in pixels: 64 megapixels (8000 x 8000) is more than any camera here needs
# (the models read 64-224 px) and 200 MB decoded; a larger header is refused before decoding.
MAX_PIXELS = 64_000_000
LIMIT = f"pixel limit of {MAX_PIXELS // 1_000_000} megapixels (sparkles_lite.data.images.MAX_PIXELS)"


def default_image_root(data: str | Path) -> Path:
    """Where a data file's (or folder's) images are when no folder is given: the official download
    keeps `annotations/` beside `images/`, so `ROOT/annotations/x.json` -> `ROOT/images`; anything
    else -> `images/` beside the file (inside a folder given as the data)."""
    data = Path(data)
    folder = data if data.is_dir() else data.parent
    return folder.parent / "images" if folder.name == "annotations" else folder / "images"


class ImageLoadError(ValueError):
    """An image is missing or cannot be decoded; the message names the id and the path(s)."""


def open_image(source: str | Path | IO[bytes], what: str) -> Image.Image:
    """Decode an image file (a path or an open binary file) into RGB; ImageLoadError, starting with
    `what` (e.g. "image '7' at /data/7.png"), when it is too large or not an image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS is stricter
            with Image.open(source) as im:
                check_size(im.width, im.height, what)
                im.load()
                return to_rgb(im)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as e:  # Pillow's own limit (2.8x ours), met before the size is known
        raise ImageLoadError(f"{what} is over the {LIMIT} ({e})") from None
    except Exception as e:  # noqa: BLE001 - Pillow raises many kinds for broken or unknown files
        raise ImageLoadError(f"{what} cannot be decoded: not an image Pillow can read "
                             f"({type(e).__name__}: {e})") from None


def check_size(width: int, height: int, what: str) -> None:
    """ImageLoadError when an image has more than MAX_PIXELS pixels."""
    if width * height > MAX_PIXELS:
        raise ImageLoadError(f"{what} is {width}x{height} pixels, over the {LIMIT}")


def to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB. Integer images wider than 8 bits are scaled from their type's range (16-bit: /257),
    float images from [0, 1] (or from their own min-max when they leave it): never clipped."""
    if im.mode.startswith("I;16"):
        values, top = np.asarray(im, dtype=np.float64), 65535.0
    elif im.mode == "I":
        values = np.asarray(im, dtype=np.float64)
        top = 255.0 if values.max(initial=0) <= 255 else 65535.0 if values.max() <= 65535 else float(values.max())
    elif im.mode == "F":
        values = np.asarray(im, dtype=np.float64)
        low, high = float(values.min(initial=0)), float(values.max(initial=0))
        if low < 0 or high > 1:
            values = (values - low) / (high - low) if high > low else values * 0
        top = 1.0
    else:
        return im.convert("RGB")
    gray = np.clip(np.rint(values / top * 255), 0, 255).astype(np.uint8)
    return Image.fromarray(gray, "L").convert("RGB")


class ImageFolder:
    """Images stored flat as `<root>/<image_id>.jpg` (or .png / .jpeg), as in the Sparkles downloads.

    When an item gives an explicit `image_filename` (BISON does), that file is used instead; ids and
    file names must name files inside the folder.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ImageLoadError(f"image folder {self.root} does not exist")
        self._resolved_root = self.root.resolve()

    def path(self, image_id: str, image_filename: str | None = None) -> Path:
        """The file for an id; raises ImageLoadError listing every path tried, or naming a path that
        leads outside the folder."""
        candidates = ([self.root / image_filename] if image_filename
                      else [self.root / f"{image_id}{ext}" for ext in EXTENSIONS])
        for p in candidates:
            if not p.resolve().is_relative_to(self._resolved_root):
                raise ImageLoadError(f"image {image_id!r}: {image_filename or p.name} leads outside the image "
                                     f"folder {self.root} (to {p.resolve()}); data files name images inside it")
            if p.is_file():
                return p
        tried = ", ".join(str(p) for p in candidates)
        raise ImageLoadError(f"image {image_id!r} not found: tried {tried}")

    def __contains__(self, image_id: object) -> bool:
        try:
            self.path(str(image_id))
        except ImageLoadError:
            return False
        return True

    def load(self, image_id: str, image_filename: str | None = None) -> Image.Image:
        """Decode fully now (not lazily), so a truncated file fails here rather than mid-training."""
        p = self.path(image_id, image_filename)
        return open_image(p, f"image {image_id!r} at {p}")
