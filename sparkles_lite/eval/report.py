"""One self-contained HTML page per evaluation run, to read what the model and judge said
(`data.pages`: thumbnails embedded, every text escaped)."""

from __future__ import annotations

import json
from pathlib import Path

from sparkles_lite.data.pages import ImageLookup, Thumbnails, escape, page, write_page
from sparkles_lite.data.schema import strip_placeholders
from sparkles_lite.eval import choice_tasks, sparkles_eval
from sparkles_lite.eval.judge import SCORE_KEYS

REPORT = "report.html"  # what `report_run` writes into a run folder

def render_sparkles_report(records: list[dict], out_path: str | Path, *, image_lookup: ImageLookup | None = None,
                           summary: dict | None = None, title: str = "SparklesEval") -> Path:
    """Each dialogue: images, questions, model answers, reference answers, judge scores and
    explanations (or why judging failed)."""
    images = Thumbnails(image_lookup)
    body = []
    for r in records:
        for image_id, caption in r["images"]:
            images.captions[image_id] = caption
        parts = [f"<div class='item'><h3>Dialogue {escape(r['id'])}</h3>",
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
    return write_page(out_path, page(title, summary, body, images))


def _judgments_table(judgments: list[dict], images: Thumbnails) -> str:
    rows = []
    for j in judgments:
        if not j["ok"]:
            rows.append(f"<tr><td>repeat {j['repeat']}</td><td colspan='2' class='bad'>judging failed: "
                        f"{escape(j['error'])}<pre>{escape(j['reply'] or '')}</pre></td></tr>")
            continue
        for k in SCORE_KEYS:
            rows.append(f"<tr><td>repeat {j['repeat']}</td><td>{escape(k)}: <b>{escape(format(j['scores'][k], 'g'))}</b></td>"
                        f"<td>{images.text(j['explanations'].get(k, ''))}</td></tr>")
    return "<table><tr><th>judge</th><th>score</th><th>explanation</th></tr>" + "".join(rows) + "</table>"


def render_choice_report(records: list[dict], out_path: str | Path, *, image_lookup: ImageLookup | None = None,
                         summary: dict | None = None, title: str = "BISON / NLVR2") -> Path:
    """Each item: its two images (when logged by id and a lookup is given), prompt, response,
    extracted answer and why, gold, and whether it needed retries."""
    images = Thumbnails(image_lookup)
    body = []
    for r in records:
        ids = [i for i in r.get("image_ids") or [] if i is not None]
        thumbs = "".join(images.figure(i, f"IMAGE#{k + 1} ({i})") for k, i in enumerate(ids))
        verdict = "ok" if r["correct"] else "bad"
        retried = f" after {r['attempts']} attempts" if r["attempts"] > 1 else ""
        body.append(
            f"<div class='item'><h3 class='{verdict}'>{escape(r['id'])}: {'correct' if r['correct'] else 'wrong'}</h3>"
            f"<div class='thumbs'>{thumbs}</div>"
            f"<p><span class='role'>Prompt:</span> {escape(strip_placeholders(r['prompt']))}</p>"
            f"<p><span class='role'>Response:</span> {escape(r['response'])}</p>"
            f"<p>extracted <b>{escape(r['extracted'])}</b> ({escape(r.get('reason', ''))}){escape(retried)}; "
            f"gold <b>{escape(r['gold'])}</b></p></div>")
    return write_page(out_path, page(title, summary, body, images))


def report_run(out_dir: str | Path, image_lookup: ImageLookup | None = None) -> Path:
    """Write out_dir/report.html for a finished (or partial) SparklesEval or choice-task run."""
    out_dir = Path(out_dir)
    summary_path = out_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    if (out_dir / sparkles_eval.RESULTS).exists():
        records = _read(out_dir / sparkles_eval.RESULTS)
        return render_sparkles_report(records, out_dir / REPORT, image_lookup=image_lookup, summary=summary)
    if (out_dir / choice_tasks.PREDICTIONS).exists():
        records = _read(out_dir / choice_tasks.PREDICTIONS)
        title = (summary or {}).get("task", "choice task").upper()
        return render_choice_report(records, out_dir / REPORT, image_lookup=image_lookup,
                                    summary=summary, title=title)
    raise FileNotFoundError(f"{out_dir} holds neither {sparkles_eval.RESULTS} nor {choice_tasks.PREDICTIONS}")


def _read(path: Path) -> list[dict]:
    """Records of a log, one per item (a later line replaces an earlier one: a judgment retried after
    a failure), tolerating the cut-off last line of a run still going or killed."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records: dict[str, dict] = {}
    for k, line in enumerate(lines):
        try:
            record = json.loads(line)
        except ValueError:
            if k != len(lines) - 1:
                raise
            continue
        records[str(record.get("id", k))] = record
    return list(records.values())
