"""One self-contained HTML page per evaluation run, to read what the model and judge said.

Images are embedded as base64 PNG thumbnails; hovering an `IMAGE#id` in any text pops the image
up (pure CSS). All model, judge and data text is HTML-escaped, so a reply containing markup
shows as text and cannot run in the reader's browser.
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

from sparkles_lite.data.schema import strip_placeholders
from sparkles_lite.eval import choice_tasks, sparkles_eval
from sparkles_lite.eval.judge import SCORE_KEYS

ImageLookup = Callable[[str], Image.Image]
_REF = re.compile(r"IMAGE#([A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*)")
_CSS = """
body{font-family:system-ui,sans-serif;max-width:70em;margin:1em auto;color:#222}
.item{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:1em 0}
.thumbs img{height:96px;image-rendering:pixelated;margin-right:.5em;border:1px solid #aaa}
figure{display:inline-block;margin:0 .8em 0 0;text-align:center;font-size:.8em}
.ref{position:relative;color:#0645ad;border-bottom:1px dotted #0645ad;cursor:help}
.ref .pop{display:none;position:absolute;left:0;top:1.4em;width:128px;height:128px;z-index:9;
 background-size:contain;background-repeat:no-repeat;border:1px solid #555;background-color:#fff}
.ref:hover .pop{display:block}
.role{font-weight:bold;color:#555}.ref-answer{color:#575}.ok{color:#070}.bad{color:#b00}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
pre{white-space:pre-wrap}
"""


class _Images:
    """Thumbnails by image id, each embedded once as a CSS class."""

    def __init__(self, lookup: ImageLookup | None):
        self.lookup = lookup
        self.uris: dict[str, str | None] = {}
        self.captions: dict[str, str] = {}

    def uri(self, image_id: str) -> str | None:
        if image_id not in self.uris:
            self.uris[image_id] = _data_uri(self.lookup(image_id)) if self.lookup else None
        return self.uris[image_id]

    def css(self) -> str:
        return "\n".join(f".im-{k}{{background-image:url({u})}}" for k, u in enumerate(self.uris.values()) if u)

    def klass(self, image_id: str) -> str | None:
        return f"im-{list(self.uris).index(image_id)}" if self.uri(image_id) else None

    def figure(self, image_id: str, label: str | None = None) -> str:
        uri = self.uri(image_id)
        caption = self.captions.get(image_id, "")
        img = f'<img src="{uri}" alt="{_e(caption)}" title="{_e(caption)}">' if uri else ""
        text = _e(label or f"IMAGE#{image_id}") + (f"<br>{_e(caption)}" if caption else "")
        return f"<figure>{img}<figcaption>{text}</figcaption></figure>"

    def text(self, s: str | None) -> str:
        """Escaped text with every known IMAGE#id made hoverable."""
        escaped = _e(strip_placeholders(s or "")).replace("\n", "<br>")

        def link(m: re.Match) -> str:
            image_id = m.group(1)
            if image_id not in self.captions:  # not an image of this dialogue
                return m.group(0)
            klass = self.klass(image_id)
            pop = f'<span class="pop {klass}"></span>' if klass else ""
            return f'<span class="ref" title="{_e(self.captions.get(image_id, ""))}">{m.group(0)}{pop}</span>'

        return _REF.sub(link, escaped)


def _e(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _data_uri(img: Image.Image, size: int = 128) -> str:
    thumb = img.convert("RGB")
    thumb.thumbnail((size, size))
    buf = io.BytesIO()
    thumb.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _page(title: str, summary: dict | None, body: list[str], images: _Images) -> str:
    head = f"<h1>{_e(title)}</h1>"
    if summary is not None:
        head += f"<h2>Summary</h2><pre>{_e(json.dumps(summary, indent=2))}</pre>"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<style>{_CSS}\n{images.css()}</style></head><body>{head}{''.join(body)}</body></html>\n")


def render_sparkles_report(records: list[dict], out_path: str | Path, *, image_lookup: ImageLookup | None = None,
                           summary: dict | None = None, title: str = "SparklesEval") -> Path:
    """Each dialogue: images, questions, model answers, reference answers, judge scores and
    explanations (or why judging failed)."""
    images = _Images(image_lookup)
    body = []
    for r in records:
        for image_id, caption in r["images"]:
            images.captions[image_id] = caption
        parts = [f"<div class='item'><h3>Dialogue {_e(r['id'])}</h3>",
                 "<div class='thumbs'>" + "".join(images.figure(i) for i, _ in r["images"]) + "</div>"]
        for t, question in enumerate(r["questions"]):
            parts.append(f"<p><span class='role'>User:</span> {images.text(question)}</p>")
            parts.append(f"<p><span class='role'>Model (A{t + 1}):</span> {images.text(r['answers'][t])}</p>")
            if r["references"][t] is not None:
                parts.append(f"<p class='ref-answer'><span class='role'>Reference:</span> "
                             f"{images.text(r['references'][t])}</p>")
        parts.append(_judgments_table(r["judgments"], images))
        parts.append("</div>")
        body.append("".join(parts))
    return _write(out_path, _page(title, summary, body, images))


def _judgments_table(judgments: list[dict], images: _Images) -> str:
    rows = []
    for j in judgments:
        if not j["ok"]:
            rows.append(f"<tr><td>repeat {j['repeat']}</td><td colspan='2' class='bad'>judging failed: "
                        f"{_e(j['error'])}<pre>{_e(j['reply'] or '')}</pre></td></tr>")
            continue
        for k in SCORE_KEYS:
            rows.append(f"<tr><td>repeat {j['repeat']}</td><td>{_e(k)}: <b>{_e(j['scores'][k])}</b></td>"
                        f"<td>{images.text(j['explanations'].get(k, ''))}</td></tr>")
    return "<table><tr><th>judge</th><th>score</th><th>explanation</th></tr>" + "".join(rows) + "</table>"


def render_choice_report(records: list[dict], out_path: str | Path, *, image_lookup: ImageLookup | None = None,
                         summary: dict | None = None, title: str = "BISON / NLVR2") -> Path:
    """Each item: its two images (when logged by id and a lookup is given), prompt, response,
    extracted answer and why, gold, and whether it needed retries."""
    images = _Images(image_lookup)
    body = []
    for r in records:
        ids = [i for i in r.get("image_ids") or [] if i is not None]
        thumbs = "".join(images.figure(i, f"IMAGE#{k + 1} ({i})") for k, i in enumerate(ids))
        verdict = "ok" if r["correct"] else "bad"
        retried = f" after {r['attempts']} attempts" if r["attempts"] > 1 else ""
        body.append(
            f"<div class='item'><h3 class='{verdict}'>{_e(r['id'])}: {'correct' if r['correct'] else 'wrong'}</h3>"
            f"<div class='thumbs'>{thumbs}</div>"
            f"<p><span class='role'>Prompt:</span> {_e(strip_placeholders(r['prompt']))}</p>"
            f"<p><span class='role'>Response:</span> {_e(r['response'])}</p>"
            f"<p>extracted <b>{_e(r['extracted'])}</b> ({_e(r.get('reason', ''))}){_e(retried)}; "
            f"gold <b>{_e(r['gold'])}</b></p></div>")
    return _write(out_path, _page(title, summary, body, images))


def report_run(out_dir: str | Path, image_lookup: ImageLookup | None = None) -> Path:
    """Write out_dir/report.html for a finished (or partial) SparklesEval or choice-task run."""
    out_dir = Path(out_dir)
    summary_path = out_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    if (out_dir / sparkles_eval.RESULTS).exists():
        records = _read(out_dir / sparkles_eval.RESULTS)
        return render_sparkles_report(records, out_dir / "report.html", image_lookup=image_lookup, summary=summary)
    if (out_dir / choice_tasks.PREDICTIONS).exists():
        records = _read(out_dir / choice_tasks.PREDICTIONS)
        title = (summary or {}).get("task", "choice task").upper()
        return render_choice_report(records, out_dir / "report.html", image_lookup=image_lookup,
                                    summary=summary, title=title)
    raise FileNotFoundError(f"{out_dir} holds neither {sparkles_eval.RESULTS} nor {choice_tasks.PREDICTIONS}")


def _read(path: Path) -> list[dict]:
    """Records of a log, tolerating the cut-off last line of a run still going or killed."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = []
    for k, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except ValueError:
            if k != len(lines) - 1:
                raise
    return records


def _write(path: str | Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
