import pytest
from PIL import Image

from sparkles_lite.data.images import ImageFolder, ImageLoadError


def test_resolves_jpg_png_and_explicit_filename(tmp_path):
    Image.new("L", (4, 4)).save(tmp_path / "a.jpg")
    Image.new("RGBA", (4, 4)).save(tmp_path / "b.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "COCO_val_1.jpg")
    folder = ImageFolder(tmp_path)
    assert folder.load("a").mode == "RGB" and folder.load("b").mode == "RGB"
    assert folder.path("1", "COCO_val_1.jpg").name == "COCO_val_1.jpg"
    assert "a" in folder and "zzz" not in folder


def test_missing_image_names_id_and_paths(tmp_path):
    with pytest.raises(ImageLoadError, match=r"image 'x' not found: tried .*x\.jpg, .*x\.png"):
        ImageFolder(tmp_path).load("x")


def test_corrupt_image_names_id_and_path(tmp_path):
    (tmp_path / "c.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ImageLoadError, match=r"image 'c' at .*c\.jpg cannot be decoded"):
        ImageFolder(tmp_path).load("c")


def test_missing_folder(tmp_path):
    with pytest.raises(ImageLoadError, match="does not exist"):
        ImageFolder(tmp_path / "nope")
