"""Find and open the images a data file refers to by id, failing loudly with the id and the path."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

EXTENSIONS: tuple[str, ...] = (".jpg", ".png", ".jpeg")


def default_image_root(data: str | Path) -> Path:
    """Where a data file's (or folder's) images are when no folder is given: the official download
    keeps `annotations/` beside `images/`, so `ROOT/annotations/x.json` -> `ROOT/images`; anything
    else -> `images/` beside the file (inside a folder given as the data)."""
    data = Path(data)
    folder = data if data.is_dir() else data.parent
    return folder.parent / "images" if folder.name == "annotations" else folder / "images"


class ImageLoadError(ValueError):
    """An image is missing or cannot be decoded; the message names the id and the path(s)."""


class ImageFolder:
    """Images stored flat as `<root>/<image_id>.jpg` (or .png / .jpeg), as in the Sparkles downloads.

    When an item gives an explicit `image_filename` (BISON does), that file is used instead.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise ImageLoadError(f"image folder {self.root} does not exist")

    def path(self, image_id: str, image_filename: str | None = None) -> Path:
        """The file for an id; raises ImageLoadError listing every path tried."""
        candidates = ([self.root / image_filename] if image_filename
                      else [self.root / f"{image_id}{ext}" for ext in EXTENSIONS])
        for p in candidates:
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
        try:
            with Image.open(p) as im:
                im.load()
                return im.convert("RGB")
        except (OSError, SyntaxError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as e:
            raise ImageLoadError(f"image {image_id!r} at {p} cannot be decoded: {e}") from e
