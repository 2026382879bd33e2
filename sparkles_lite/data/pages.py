"""Self-contained HTML pages that show data with its images: evaluation reports (`eval.report`) and
`data show`. Images are embedded as base64 PNG thumbnails; hovering an `IMAGE#id` in any text pops
the image up (pure CSS). Every text is HTML-escaped, so a caption or reply containing markup shows as
text and cannot run in the reader's browser. An image that cannot be opened shows as the reason.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from sparkles_lite.data.schema import IMAGE_MENTION, strip_placeholders

ImageLookup = Callable[[str], Image.Image]
_CSS = """
body{font-family:system-ui,sans-serif;max-width:70em;margin:1em auto;color:#222}
.item{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:1em 0}
.thumbs img{height:96px;image-rendering:pixelated;margin-right:.5em;border:1px solid #aaa}
img.inline{height:40px;vertical-align:middle;image-rendering:pixelated;border:1px solid #aaa;margin:0 .2em}
figure{display:inline-block;margin:0 .8em 0 0;text-align:center;font-size:.8em}
.ref{position:relative;color:#0645ad;border-bottom:1px dotted #0645ad;cursor:help}
.ref .pop{display:none;position:absolute;left:0;top:1.4em;width:128px;height:128px;z-index:9;
 background-size:contain;background-repeat:no-repeat;border:1px solid #555;background-color:#fff}
.ref:hover .pop{display:block}
.role{font-weight:bold;color:#555}.ref-answer{color:#575}.ok{color:#070}.bad{color:#b00}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
pre{white-space:pre-wrap}
"""


class Thumbnails:
    """Thumbnails by image id, each embedded once as a CSS class."""

    def __init__(self, lookup: ImageLookup | None):
        self.lookup = lookup
        self.uris: dict[str, str | None] = {}
        self.captions: dict[str, str] = {}
        self.errors: dict[str, str] = {}

    def uri(self, image_id: str) -> str | None:
        if image_id not in self.uris:
            try:
                self.uris[image_id] = data_uri(self.lookup(image_id)) if self.lookup else None
            except (OSError, ValueError) as e:  # ImageLoadError included: show why, keep the page
                self.uris[image_id], self.errors[image_id] = None, str(e)
        return self.uris[image_id]

    def css(self) -> str:
        return "\n".join(f".im-{k}{{background-image:url({u})}}" for k, u in enumerate(self.uris.values()) if u)

    def klass(self, image_id: str) -> str | None:
        return f"im-{list(self.uris).index(image_id)}" if self.uri(image_id) else None

    def figure(self, image_id: str, label: str | None = None) -> str:
        uri = self.uri(image_id)
        caption = self.captions.get(image_id, "")
        img = f'<img src="{uri}" alt="{escape(caption)}" title="{escape(caption)}">' if uri else ""
        if image_id in self.errors:
            img = f"<span class='bad'>{escape(self.errors[image_id])}</span><br>"
        text = escape(label or f"IMAGE#{image_id}") + (f"<br>{escape(caption)}" if caption else "")
        return f"<figure>{img}<figcaption>{text}</figcaption></figure>"

    def text(self, s: str | None) -> str:
        """Escaped text with every known IMAGE#id made hoverable."""
        escaped = escape(strip_placeholders(s or "")).replace("\n", "<br>")

        def link(m: re.Match) -> str:
            image_id = m.group(1)
            if image_id not in self.captions:  # not an image of this dialogue
                return m.group(0)
            klass = self.klass(image_id)
            pop = f'<span class="pop {klass}"></span>' if klass else ""
            return f'<span class="ref" title="{escape(self.captions.get(image_id, ""))}">{m.group(0)}{pop}</span>'

        return IMAGE_MENTION.sub(link, escaped)


def escape(s: Any) -> str:
    return html.escape(str(s), quote=True)


def data_uri(img: Image.Image, size: int = 128) -> str:
    thumb = img.convert("RGB")
    thumb.thumbnail((size, size))
    buf = io.BytesIO()
    thumb.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def page(title: str, summary: dict | None, body: list[str], images: Thumbnails) -> str:
    """The whole document: a title, the summary as JSON (when given), the body's items."""
    head = f"<h1>{escape(title)}</h1>"
    if summary is not None:
        head += f"<h2>Summary</h2><pre>{escape(json.dumps(summary, indent=2))}</pre>"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{_CSS}\n{images.css()}</style></head><body>{head}{''.join(body)}</body></html>\n")




def write_page(path: str | Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
