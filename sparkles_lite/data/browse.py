"""`python -m sparkles_lite data show FILE --out page.html`: a data file as one HTML page to read.

Each item (the first `first` of them) with its images as thumbnails and captions, then its
messages with every image inline where its placeholder stands; any layout (dialogues, SparklesEval,
per-turn items, BISON, NLVR2). The official repository's `visualize_data_in_html.py` does the same
for its dialogue files; here the page is self-contained (images embedded) and every text escaped.
"""

from __future__ import annotations

from pathlib import Path

from sparkles_lite.data.images import ImageFolder, default_image_root
from sparkles_lite.data.io import LAYOUTS, BisonItem, Nlvr2Item, file_layout, load_items, read_item
from sparkles_lite.data.pages import Thumbnails, escape, page, write_page
from sparkles_lite.data.schema import ANY_PLACEHOLDER_RE, ASSISTANT, Dialogue, ImageRef, Message, TurnExample

ROLE_NAMES = {"user": "User", "assistant": "Assistant"}


def _message_html(m: Message, thumbs: Thumbnails, role: str | None = None) -> str:
    """Escaped text; each placeholder replaced by its image (the message's k-th)."""
    parts, last, k = [], 0, 0
    for block in ANY_PLACEHOLDER_RE.finditer(m.content):
        parts.append(thumbs.text(m.content[last:block.start()] + (f"IMAGE#{block.group(1)}" if block.group(1) else "")))
        if k < len(m.images):
            uri = thumbs.uri(m.images[k].image_id)
            parts.append(f"<img class='inline' src='{uri}' alt='IMAGE#{escape(m.images[k].image_id)}'>" if uri
                         else f"<span class='bad'>[IMAGE#{escape(m.images[k].image_id)}: not shown]</span>")
        k += 1
        last = block.end()
    parts.append(thumbs.text(m.content[last:]))
    label = role or ROLE_NAMES.get(m.role, m.role)
    return f"<p><span class='role'>{escape(label)}:</span> {''.join(parts)}</p>"


def _conversation(messages: list[Message], refs: list[ImageRef], thumbs: Thumbnails,
                  last_label: str | None = None) -> str:
    for ref in refs:
        thumbs.captions.setdefault(ref.image_id, ref.caption)
    out = ["<div class='thumbs'>" + "".join(thumbs.figure(r.image_id) for r in refs) + "</div>"]
    for j, m in enumerate(messages):
        out.append(_message_html(m, thumbs, last_label if j == len(messages) - 1 else None))
    return "".join(out)


def item_html(obj: object, title: str, thumbs: Thumbnails) -> str:
    """One item of any layout as a block of the page."""
    if isinstance(obj, Dialogue):
        body = _conversation(obj.messages, obj.images, thumbs)
    elif isinstance(obj, TurnExample):
        body = _conversation(obj.history + [Message(ASSISTANT, obj.answer)], obj.images, thumbs,
                             "Assistant (the answer trained on)")
    elif isinstance(obj, BisonItem):
        figures = "".join(thumbs.figure(i, f"IMAGE#{k + 1} ({i})" + (" - the caption's image" if i == obj.true_image_id
                                                                       else "")) for k, i in enumerate(obj.image_ids))
        body = f"<div class='thumbs'>{figures}</div><p><span class='role'>Caption:</span> {escape(obj.caption)}</p>"
    elif isinstance(obj, Nlvr2Item):
        figures = "".join(thumbs.figure(i, f"{side} ({i})") for side, i in zip(("left", "right"), obj.image_ids))
        body = (f"<div class='thumbs'>{figures}</div><p><span class='role'>Statement:</span> {escape(obj.sentence)}"
                f" <b>{'TRUE' if obj.label else 'FALSE'}</b></p>")
    else:
        raise TypeError(f"cannot show a {type(obj).__name__}")
    return f"<div class='item'><h3>{escape(title)}</h3>{body}</div>"


def dataset_page(path: str | Path, images: str | Path | None = None, first: int = 20, summary: bool = True) -> str:
    """The HTML of `data show`: the file's first `first` items with their images (from `images`, else
    `default_image_root`); a missing image shows as the reason, the page is still written. `summary`:
    head the page with the file, layout and counts (off for a page shown inside a notebook)."""
    path = Path(path)
    raw = load_items(path)
    layout = file_layout(path, raw) if raw else "dialogue"
    unit = LAYOUTS[layout].unit
    objs = [read_item(layout, r, f"{path}: {unit} {i}") for i, r in enumerate(raw[:first])]
    root = Path(images) if images is not None else default_image_root(path)
    folder = ImageFolder(root) if root.is_dir() else None
    filenames = {u.image_id: u.filename for o in objs for u in LAYOUTS[layout].images(o) if u.filename}

    def lookup(image_id: str):
        if folder is None:
            raise FileNotFoundError(f"no image folder {root}")
        return folder.load(image_id, filenames.get(image_id))

    thumbs = Thumbnails(lookup)
    body = []
    for i, obj in enumerate(objs):
        eid = getattr(obj, "evaluation_id", None) if not isinstance(obj, Dialogue) else obj.meta.get("evaluation_id")
        body.append(item_html(obj, f"{unit} {i}" + (f" (evaluation_id {eid})" if eid is not None else ""), thumbs))
    facts = {"file": str(path), "layout": layout, "items": len(raw), "shown": len(objs), "images": str(root)}
    return page(f"{path.name}: {LAYOUTS[layout].description}", facts if summary else None, body, thumbs)


def write_dataset_page(path: str | Path, out: str | Path, images: str | Path | None = None, first: int = 20) -> Path:
    return write_page(out, dataset_page(path, images, first))
