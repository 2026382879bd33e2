"""The exercise notebooks (exercises/NN_*.ipynb) and their solutions (exercises/solutions/), and the
`sparkles_lite.exercises` checks behind them.

* Every solution notebook runs under papermill (``SMOKE=True`` injected, as tests/test_notebooks.py
  does, kernel from ``tools/run_notebooks.py:pick_kernel``) and every check cell prints ✅ and
  shows no value (no `Out: True`); the summary says all pass. The ten runs happen in two worker processes at once (a
  session fixture), which halves the wall time on 2 cores: ~3 s of kernel and torch start-up each.
* Every unsolved notebook completes and every check reports "not yet solved" (⬜) and shows no value.
  These run in-process (exec of the code cells, each check cell's value read with eval): no kernel
  start-up, ~1 s in all; 00_tour additionally runs under papermill to prove the kernel path.
* A check never passes an empty answer (`return None`, `pass`, `raise NotImplementedError`, echoing
  an input, a non-function) nor the typical wrong answers listed in WRONG below.
* Every task is an explanation, a code cell tagged `solution` and a check cell; each notebook ends
  with `summary()`. That the student notebooks are what tools/make_exercises.py derives from the
  solution scripts is tests/test_notebook_sync.py's job.
* The references the checks carry themselves agree with the package code they stand for.

The papermill tests are marked `notebooks` (`pytest -m "not notebooks"` skips them, ~15 s remain).
Measured on the 2-core CPU machine: 29 s of CPU for the whole file; 1 min 44 s of wall time while a
training job and other test runs kept the load average at 8.5, so well under 2 minutes when idle.
"""

from __future__ import annotations

import contextlib
import io
import math
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_exercises as mx  # noqa: E402
import run_notebooks as rn  # noqa: E402

from sparkles_lite import exercises as ex  # noqa: E402
from sparkles_lite.exercises import _runner  # noqa: E402

STUBS = sorted((ROOT / "exercises").glob("[0-9]*.ipynb"))
SOLUTIONS = sorted((ROOT / "exercises" / "solutions").glob("[0-9]*.ipynb"))
CHECKS = [n for n in ex.__all__ if n.startswith("check_")]
PAPERMILL_STUBS = ["00_tour.ipynb"]  # one unsolved notebook through a real kernel too
CELL_TIMEOUT_S = 240


def _source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def _check_cells(nb) -> list[tuple[str, object]]:
    """(check name, cell) for every check cell: a code cell whose source is `check_x(f)`."""
    out = []
    for cell in nb.cells:
        src = _source(cell).strip()
        if cell.cell_type == "code" and src.startswith("check_") and "\n" not in src:
            out.append((src.split("(")[0], cell))
    return out


def _text(cell) -> tuple[str, str | None]:
    """(stdout text, text/plain of the execute_result or None)."""
    stdout, value = "", None
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            stdout += o.get("text", "")
        elif o.get("output_type") == "execute_result":
            value = o.get("data", {}).get("text/plain")
    return stdout, value


# ---------------------------------------------------------------- the notebooks' shape

def _tasks(nb) -> list[tuple[int, str, str]]:
    """(index of the task's code cell, check name, function name) for every `check_x(f)` cell."""
    out = []
    for i, cell in enumerate(nb.cells):
        src = _source(cell).strip()
        if cell.cell_type == "code" and src.startswith("check_") and "\n" not in src:
            out.append((i - 1, src.split("(")[0], src[src.index("(") + 1:-1]))
    return out


def test_every_lesson_has_an_exercise_notebook_and_a_solution():
    stems = [p.stem for p in SOLUTIONS]
    assert [s[:2] for s in stems] == [f"{i:02d}" for i in range(10)]
    assert [p.stem for p in STUBS] == stems
    assert [p.stem for p in mx.solution_scripts()] == stems, "every solution notebook has its script"
    used = []
    for path in SOLUTIONS:
        nb = nbformat.read(path, as_version=4)
        tasks = _tasks(nb)
        assert 2 <= len(tasks) <= 4, path.name
        for number, (i, check, _) in enumerate(tasks, 1):
            assert nb.cells[i - 1].cell_type == "markdown" and _source(nb.cells[i - 1]).startswith(
                f"## Task {number} · "), f"{path.name}: task {number} starts with its explanation"
            assert "solution" in nb.cells[i].metadata.get("tags", []), f"{path.name}: task {number}'s code cell"
            used.append(check)
        assert [c.cell_type for c in nb.cells[-2:]] == ["markdown", "code"], path.name
        assert (_source(nb.cells[-2]), _source(nb.cells[-1])) == ("## Summary", "summary()"), path.name
    assert sorted(used) == sorted(CHECKS), "every check is used by exactly one task, and every task has one"


@pytest.mark.parametrize("solved", [False, True], ids=["stubs", "solutions"])
def test_committed_exercise_notebooks(solved: bool):
    """Their inputs are checked against their scripts and make_exercises in tests/test_notebook_sync.py."""
    for path in SOLUTIONS if solved else STUBS:
        committed = nbformat.read(path, as_version=4)
        nbformat.validate(committed)
        assert "SMOKE" in rn.parameter_names(committed), f"{path.name}: no parameters cell defining SMOKE"
        if not solved:
            assert not any(c.get("outputs") for c in committed.cells if c.cell_type == "code"), (
                f"{path.name}: student notebooks are committed without outputs")
        else:
            errors = [o for c in committed.cells if c.cell_type == "code"
                      for o in c.get("outputs", []) if o.get("output_type") == "error"]
            assert not errors, f"{path.name} is committed with an error output"


def test_stubs_raise_not_implemented_and_solutions_do_not():
    for solution_path, stub_path in zip(SOLUTIONS, STUBS):
        solution, stub = (nbformat.read(p, as_version=4) for p in (solution_path, stub_path))
        for i, _, function in _tasks(solution):
            where = f"{stub_path.name} cell {i + 1}"
            assert "raise NotImplementedError  # your code here" in _source(stub.cells[i]), where
            assert "NotImplementedError" not in _source(solution.cells[i]), where
            assert f"def {function}(" in _source(stub.cells[i]) and f"def {function}(" in _source(solution.cells[i])


# ---------------------------------------------------------------- solutions run as notebooks

@pytest.fixture(scope="session")
def executed(tmp_path_factory) -> dict[str, Path]:
    """Run every solution notebook (and PAPERMILL_STUBS) with papermill, two worker processes at once."""
    out = tmp_path_factory.mktemp("exercises")
    jobs = [(p, out / "solutions" / p.name) for p in SOLUTIONS]
    jobs += [(p, out / "stubs" / p.name) for p in STUBS if p.name in PAPERMILL_STUBS]
    code = ("import sys; sys.path.insert(0, {tools!r}); import run_notebooks as rn\n"
            "from pathlib import Path\n"
            "kernel = rn.pick_kernel()\n"
            "for src, dst in {pairs!r}:\n"
            "    Path(dst).parent.mkdir(parents=True, exist_ok=True)\n"
            "    try:\n"
            "        rn.execute(Path(src), Path(dst), {{'SMOKE': True}}, kernel, cwd=Path(dst).parent, timeout={t})\n"
            "    except Exception as exc:\n"
            "        print('FAILED', src, type(exc).__name__, str(exc)[:300], flush=True)\n")
    procs = []
    for worker in range(2):
        pairs = [(str(s), str(d)) for s, d in jobs[worker::2]]
        procs.append(subprocess.Popen(
            [sys.executable, "-c", code.format(tools=str(ROOT / "tools"), pairs=pairs, t=CELL_TIMEOUT_S)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=out))
    logs = [p.communicate(timeout=900) for p in procs]
    failures = "".join(o for o, _ in logs if "FAILED" in o)
    result = {str(s.relative_to(ROOT)): d for s, d in jobs}
    result["_failures"] = failures  # type: ignore[assignment]
    return result


@pytest.mark.notebooks
@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.name for p in SOLUTIONS])
def test_solution_notebook_passes_every_check(path: Path, executed):
    dst = executed[str(path.relative_to(ROOT))]
    assert dst.exists(), f"{path.name} was not executed: {executed['_failures']}"
    nb = nbformat.read(dst, as_version=4)
    errors = [(c.get("execution_count"), o.get("ename"), o.get("evalue")) for c in nb.cells
              if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: a cell raised {errors[0]}"
    checks = _check_cells(nb)
    assert checks, f"{path.name} has no check cells"
    for name, cell in checks:
        stdout, value = _text(cell)
        assert f"{_runner.PASS} {name}: all " in stdout, f"{path.name}: {name} did not pass: {stdout.strip()}"
        assert value is None, f"{path.name}: {name} shows a value under its line: {value!r}"
    summary_out, summary_value = _text(nb.cells[-1])
    assert f"{len(checks)} of {len(checks)} checks pass:" in summary_out and summary_value is None, summary_out


@pytest.mark.notebooks
@pytest.mark.parametrize("name", PAPERMILL_STUBS)
def test_unsolved_notebook_runs_in_a_kernel(name: str, executed):
    dst = executed[f"exercises/{name}"]
    assert dst.exists(), executed["_failures"]
    nb = nbformat.read(dst, as_version=4)
    for check, cell in _check_cells(nb):
        stdout, value = _text(cell)
        assert f"{_runner.TODO} {check}: {_runner.NOT_SOLVED}" in stdout and value is None, stdout


# ---------------------------------------------------------------- unsolved notebooks, in-process

def _run_in_process(path: Path) -> list[tuple[str, str, object]]:
    """Exec a notebook's code cells in one namespace; (check, printed, returned) per check cell."""
    nb = nbformat.read(path, as_version=4)
    _runner.RESULTS.clear()
    namespace: dict = {"__name__": "__main__"}
    results = []
    check_cells = {id(c) for _, c in _check_cells(nb)}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        src = _source(cell)
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            if id(cell) in check_cells:
                value = eval(compile(src.strip(), str(path), "eval"), namespace)
            else:
                exec(compile(src, str(path), "exec"), namespace)
        if id(cell) in check_cells:
            results.append((src.split("(")[0].strip(), buf.getvalue(), value))
    return results


@pytest.mark.parametrize("path", STUBS, ids=[p.name for p in STUBS])
def test_unsolved_notebook_reports_not_yet_solved(path: Path):
    results = _run_in_process(path)
    assert results, f"{path.name} has no check cells"
    for name, printed, value in results:
        assert printed.startswith(f"{_runner.TODO} {name}: {_runner.NOT_SOLVED}"), printed
        assert value is None  # nothing shown under the check cell
        assert _runner.RESULTS[name] == _runner.TODO


# ---------------------------------------------------------------- empty and wrong answers never pass

def _passes_check(check: str, candidate) -> bool:
    """Run a check (it prints its line and returns nothing) and read its verdict from RESULTS."""
    assert getattr(ex, check)(candidate) is None
    return _runner.RESULTS[check] == _runner.PASS


def _returns_none(*args, **kwargs):
    return None


def _passes(*args, **kwargs):
    pass


def _not_implemented(*args, **kwargs):
    raise NotImplementedError  # your code here


def _echo(*args, **kwargs):
    return args[0] if args else None


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("empty", [_returns_none, _passes, _not_implemented, _echo, None, "describe"],
                         ids=["return-None", "pass", "NotImplementedError", "echo-input", "None", "a-string"])
def test_empty_answer_never_passes(check: str, empty, capsys):
    assert not _passes_check(check, empty)
    printed = capsys.readouterr().out
    assert _runner.PASS not in printed and printed.startswith((_runner.FAIL, _runner.TODO)), printed
    if empty is _not_implemented:
        assert f"{_runner.TODO} {check}: {_runner.NOT_SOLVED}: your function raised NotImplementedError" in printed


def _wrong_answers() -> dict[str, list]:
    """Typical mistakes, per check: each must fail."""
    import re

    import torch
    import torch.nn.functional as F

    from sparkles_lite.data.schema import IMAGE_BLOCK
    from sparkles_lite.eval import stats
    from sparkles_lite.lite import world
    from sparkles_lite.train.common import cosine_lr

    def describe_ungrouped(scene):
        return world.join_phrases([t.phrase() for t in scene.things])

    def describe_sorted(scene):
        c = scene.counts()
        return world.join_phrases([t.phrase(c[t]) for t in sorted(c)])

    def patch_wrong_inner(x, p):  # (row, col, channel) inside a patch: HWC order
        b, c, h, w = x.shape
        if h % p or w % p:
            raise ValueError
        return x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, -1, c * p * p)

    def patch_plain_reshape(x, p):
        b, c, h, w = x.shape
        if h % p or w % p:
            raise ValueError
        return x.reshape(b, (h // p) * (w // p), c * p * p)

    def patch_no_error(x, p):
        b, c, h, w = x.shape
        return x[:, :, : h // p * p, : w // p * p].unfold(2, p, p).unfold(3, p, p).permute(
            0, 2, 3, 1, 4, 5).reshape(b, -1, c * p * p)

    def attn_unscaled(q, k):
        return (q @ k.T).softmax(-1)

    def attn_naive(q, k):
        e = (q @ k.T / q.shape[-1] ** 0.5).exp()
        return e / e.sum(-1, keepdim=True)

    def attn_column(q, k):
        return (q @ k.T / q.shape[-1] ** 0.5).softmax(0)

    def nearest_dot(v, e, vocab, k=3):
        return [vocab[i] for i in (e @ v).argsort(descending=True)[:k].tolist()]

    def nearest_ascending(v, e, vocab, k=3):
        return [vocab[i] for i in F.cosine_similarity(e, v[None], dim=-1).argsort()[:k].tolist()]

    def insert_replace(text, ids):
        for i in ids:
            if f"IMAGE#{i}" not in text:
                raise ValueError(i)
            text = text.replace(f"IMAGE#{i}", f"IMAGE#{i}{IMAGE_BLOCK}", 1)
        return text

    def insert_every(text, ids):
        for i in ids:
            if not re.search(rf"IMAGE#{re.escape(i)}(?![\w-])", text):
                raise ValueError(i)
            text = re.sub(rf"IMAGE#{re.escape(i)}(?![\w-])(?!<Img>)", lambda m: m.group(0) + IMAGE_BLOCK, text)
        return text

    def render_without_end(messages):
        text, spans = "", []
        for m in messages:
            if m.role == "user":
                text += "###Human: " + m.content
            elif m.role == "assistant":
                text += "###Assistant: "
                spans.append((len(text), len(text) + len(m.content)))
                text += m.content + "###"
            else:
                raise ValueError(m.role)
        return text, spans

    def render_whole_message(messages):
        text, spans = "", []
        for m in messages:
            if m.role == "user":
                text += "###Human: " + m.content
            elif m.role == "assistant":
                start = len(text)
                text += "###Assistant: " + m.content + "###"
                spans.append((start, len(text)))
            else:
                raise ValueError(m.role)
        return text, spans

    def splice_detached(e, mask, tokens):
        if int(mask.sum()) != tokens.shape[0] * tokens.shape[1]:
            raise ValueError
        out = e.clone()
        out[mask] = tokens.reshape(-1, tokens.shape[-1]).detach()
        return out

    def splice_in_place(e, mask, tokens):
        if int(mask.sum()) != tokens.shape[0] * tokens.shape[1]:
            raise ValueError
        e[mask] = tokens.reshape(-1, tokens.shape[-1])
        return e

    def splice_column_major(e, mask, tokens):
        if int(mask.sum()) != tokens.shape[0] * tokens.shape[1]:
            raise ValueError
        out = e.clone().transpose(0, 1)
        out[mask.T] = tokens.reshape(-1, tokens.shape[-1])
        return out.transpose(0, 1)

    def splice_no_check(e, mask, tokens):
        out = e.clone()
        flat = tokens.reshape(-1, tokens.shape[-1])
        out[mask] = flat[: int(mask.sum())]
        return out

    def errors_users_only(messages):
        return [i for i, m in enumerate(messages) if m.content.count("<ImageHere>") != len(m.images)]

    def errors_block_count(messages):  # counts IMAGE# mentions, not placeholders
        return [i for i, m in enumerate(messages) if m.content.count("IMAGE#") != len(m.images)
                or (m.role == "assistant" and "<ImageHere>" in m.content)]

    def turns_no_validation(messages):
        return [(messages[:k], messages[k].content) for k in range(1, len(messages), 2)]

    def turns_last_only(messages):
        if not messages or len(messages) % 2:
            raise ValueError
        for j, m in enumerate(messages):
            if m.role != ("user" if j % 2 == 0 else "assistant"):
                raise ValueError
        return [(messages[k - 1:k], messages[k].content) for k in range(1, len(messages), 2)]

    def lr_zero_start(p, base, warmup=0.05):
        return base * p / warmup if p < warmup else cosine_lr(p, base, warmup)

    def lr_to_zero(p, base, warmup=0.05):
        if p < warmup:
            return base * (p + 1e-3) / warmup
        t = min(1.0, (p - warmup) / (1 - warmup))
        return base * 0.5 * (1 + math.cos(math.pi * t))

    def lr_unclamped(p, base, warmup=0.05):
        if p < warmup:
            return base * (p + 1e-3) / warmup
        t = (p - warmup) / (1 - warmup)
        return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))

    def loss_unshifted(logits, labels):
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)

    def loss_row_means(logits, labels):
        rows = [F.cross_entropy(lg[:-1], lb[1:], ignore_index=-100) for lg, lb in zip(logits, labels)]
        return torch.stack([r for r in rows if not r.isnan()]).mean()

    def loss_naive_log(logits, labels):
        lg, lb = logits[:, :-1], labels[:, 1:]
        keep = lb != -100
        return -lg.softmax(-1)[keep].gather(-1, lb[keep][:, None]).log().mean()

    def resolve_ignores_introduced(text, uploaded, introduced=()):
        ids = list(dict.fromkeys(re.findall(r"IMAGE#([A-Za-z0-9_\-]+)", text)))
        for i in ids:
            if i not in uploaded:
                raise ValueError(i)
        from sparkles_lite.data.schema import insert_placeholders
        return insert_placeholders(text, ids), [uploaded[i] for i in ids]

    def resolve_upload_order(text, uploaded, introduced=()):
        from sparkles_lite.data.schema import insert_placeholders
        ids = [i for i in uploaded if re.search(rf"IMAGE#{i}(?![\w-])", text) and i not in introduced]
        mentioned = re.findall(r"IMAGE#([A-Za-z0-9_\-]+)", text)
        if any(m not in uploaded and m not in introduced for m in mentioned):
            raise ValueError
        return insert_placeholders(text, ids), [uploaded[i] for i in ids]

    def resolve_silent_unknown(text, uploaded, introduced=()):
        from sparkles_lite.data.schema import insert_placeholders
        ids = [i for i in dict.fromkeys(re.findall(r"IMAGE#([A-Za-z0-9_\-]+)", text))
               if i in uploaded and i not in introduced]
        return insert_placeholders(text, ids), [uploaded[i] for i in ids]

    def ratings_lenient(reply):
        found = re.findall(r"A([12]) C([123]) Rating:\W*(\d+)", reply)
        return {f"A{a} C{c}": int(n) for a, c, n in found} or None

    def ratings_no_range(reply):
        scores = {}
        for a, c, n in re.findall(r"A([12])\s*C([123])\W*Rating[\s:*]*\[\[(\d+)\]\]", reply, re.I):
            scores[f"A{a} C{c}"] = int(n)
        return scores if len(scores) == 6 else None

    def mean_ci_population_sd(values):
        n = len(values)
        if not n:
            raise ValueError
        m = sum(values) / n
        if n == 1:
            return m, m, m
        sd = math.sqrt(sum((v - m) ** 2 for v in values) / n)
        half = ex.t95(n - 1) * sd / math.sqrt(n)
        return m, m - half, m + half

    def mean_ci_z(values):
        n = len(values)
        if not n:
            raise ValueError
        m = sum(values) / n
        if n == 1:
            return m, m, m
        sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
        return m, m - 1.96 * sd / math.sqrt(n), m + 1.96 * sd / math.sqrt(n)

    def bison_first_mention(response):
        m = re.search(r"image\s*#?\s*([12])", response.lower())
        return f"IMAGE#{m.group(1)}" if m else None

    def bison_last_mention(response):
        found = re.findall(r"image\s*#?\s*([12])\b", response.lower())
        return f"IMAGE#{found[-1]}" if found else None

    def nlvr2_keyword(response):
        r = response.lower()
        if "false" in r or "no" in r:
            return "FALSE"
        if "true" in r or "yes" in r:
            return "TRUE"
        return None

    def nlvr2_first_word(response):
        m = re.search(r"\b(true|false|yes|no|correct|incorrect)\b", response.lower())
        if not m:
            return None
        return "TRUE" if m.group(1) in ("true", "yes", "correct") else "FALSE"

    def wilson_normal(k, n, z=stats.Z95):
        if n <= 0 or not 0 <= k <= n:
            raise ValueError
        p = k / n
        half = z * math.sqrt(p * (1 - p) / n)
        return max(0.0, p - half), min(1.0, p + half)

    def wilson_no_validation(k, n, z=stats.Z95):
        return stats.wilson_ci(min(max(k, 0), n), n, z) if n > 0 else (0.0, 1.0)

    def per_image_with_generated(row, index):
        n = max(index, default=-1) + 1
        out = torch.zeros(n)
        idx = list(index) + [-1] * (len(row) - len(index))
        for p, i in enumerate(idx):
            if i >= 0:
                out[i] += row[p]
        return out / out.sum() if n else out  # normalised: a share, not a mass

    def per_image_mean(row, index):
        n = max(index, default=-1) + 1
        out = torch.zeros(n)
        for i in range(n):
            out[i] = row[: len(index)][torch.tensor(index) == i].mean()
        return out

    def by_layer_sum_heads(att, index):
        n = max(index, default=-1) + 1
        oh = torch.zeros(len(index), n)
        for p, i in enumerate(index):
            if i >= 0:
                oh[p, i] = 1
        return (att[..., : len(index)] @ oh).sum(1)

    def by_layer_mean_layers(att, index):
        n = max(index, default=-1) + 1
        oh = torch.zeros(len(index), n)
        for p, i in enumerate(index):
            if i >= 0:
                oh[p, i] = 1
        return (att[..., : len(index)] @ oh).mean(0)

    def count_any_attribute(scenes, shape=None, colour=None, size=None):
        wanted = {shape, colour, size} - {None}
        return sum(1 for s in scenes for t in s.things
                   if not wanted or wanted & {t.shape, t.colour, t.size})

    def params_no_bias(vision_dim, lm_dim, hidden=None):
        return vision_dim * lm_dim if hidden is None else vision_dim * hidden + hidden * lm_dim

    def params_ignores_hidden(vision_dim, lm_dim, hidden=None):
        return vision_dim * lm_dim + lm_dim

    return {
        "check_describe": [describe_ungrouped, describe_sorted],
        "check_count_objects": [count_any_attribute, lambda scenes, **kw: len(scenes)],
        "check_patchify": [patch_wrong_inner, patch_plain_reshape, patch_no_error],
        "check_attention_weights": [attn_unscaled, attn_naive, attn_column],
        "check_projection_params": [params_no_bias, params_ignores_hidden],
        "check_nearest_words": [nearest_dot, nearest_ascending],
        "check_insert_placeholders": [insert_replace, insert_every],
        "check_render_conversation": [render_without_end, render_whole_message],
        "check_splice": [splice_detached, splice_in_place, splice_column_major, splice_no_check],
        "check_placeholder_errors": [errors_users_only, errors_block_count],
        "check_split_turns": [turns_no_validation, turns_last_only],
        "check_cosine_lr": [lr_zero_start, lr_to_zero, lr_unclamped],
        "check_masked_loss": [loss_unshifted, loss_row_means, loss_naive_log],
        "check_resolve_images": [resolve_ignores_introduced, resolve_upload_order, resolve_silent_unknown],
        "check_cut_answer": [lambda raw: raw.split("###")[0], lambda raw: raw.split("###")[-1].strip(),
                             lambda raw: raw.replace("###", "").strip()],
        "check_parse_ratings": [ratings_lenient, ratings_no_range],
        "check_mean_ci": [mean_ci_population_sd, mean_ci_z],
        "check_extract_bison": [bison_first_mention, bison_last_mention],
        "check_extract_nlvr2": [nlvr2_keyword, nlvr2_first_word],
        "check_wilson_ci": [wilson_normal, wilson_no_validation],
        "check_attention_per_image": [per_image_with_generated, per_image_mean],
        "check_image_attention_by_layer": [by_layer_sum_heads, by_layer_mean_layers],
    }


def test_every_check_has_wrong_answers():
    assert sorted(_wrong_answers()) == sorted(CHECKS)


@pytest.mark.parametrize("check", CHECKS)
def test_wrong_answers_fail(check: str, capsys):
    for i, wrong in enumerate(_wrong_answers()[check]):
        assert not _passes_check(check, wrong), f"{check} passed wrong answer #{i}"
        printed = capsys.readouterr().out
        assert printed.startswith(f"{_runner.FAIL} {check}: "), printed
        assert "for input" in printed or "gradients" in printed, printed


def test_failure_message_names_input_expected_and_got(capsys):
    ex.check_cut_answer(lambda raw: raw.split("###")[-1].strip())
    line = capsys.readouterr().out
    assert line.startswith("❌ check_cut_answer: for input ") and " expected 'IMAGE#1 has a red circle.', got " in line
    ex.check_insert_placeholders(lambda text, ids: text)
    line = capsys.readouterr().out
    assert "expected ValueError" not in line and "got 'What is in IMAGE#1" in line


def test_a_missing_error_is_reported(capsys):
    import torch

    def patchify_crops(x, p):
        b, c, h, w = x.shape
        x = x[:, :, : h // p * p, : w // p * p]
        return x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5).reshape(b, -1, c * p * p)

    assert not _passes_check("check_patchify", patchify_crops)
    line = capsys.readouterr().out
    assert "expected ValueError" in line and "not divisible" in line
    assert torch  # imported for the check


def test_summary_counts_the_checks_run(capsys):
    _runner.RESULTS.clear()
    assert ex.summary() is None
    assert "no checks run yet" in capsys.readouterr().out
    ex.check_cut_answer(lambda raw: raw.split("###", 1)[0].strip())
    ex.check_cut_answer(_returns_none)
    capsys.readouterr()
    ex.summary()
    assert "0 of 1 checks pass: ❌ check_cut_answer" in capsys.readouterr().out  # the last run counts
    ex.check_cut_answer(lambda raw: raw.split("###", 1)[0].strip())
    capsys.readouterr()
    ex.summary()
    assert capsys.readouterr().out == "1 of 1 checks pass: ✅ check_cut_answer\n"


def test_summary_marks_unattempted_tasks_not_yet_attempted(capsys):
    _runner.RESULTS.clear()
    ex.check_cut_answer(lambda raw: raw.split("###", 1)[0].strip())
    ex.check_parse_ratings(_not_implemented)   # a stub as committed
    ex.check_mean_ci(lambda values: (0.0, 0.0, 0.0))
    capsys.readouterr()
    ex.summary()
    assert capsys.readouterr().out == ("1 of 3 checks pass, 1 not yet attempted: ✅ check_cut_answer, "
                                       "⬜ check_parse_ratings, ❌ check_mean_ci\n")


def test_a_wrong_splice_order_names_the_first_differing_index_and_the_largest_difference(capsys):
    import torch

    def splice_column_major(embeds, image_mask, image_tokens):  # fills the mask column by column
        out = embeds.clone()
        positions, rows = torch.nonzero(image_mask.T, as_tuple=True)
        out[rows, positions] = image_tokens.reshape(-1, image_tokens.shape[-1])
        if int(image_mask.sum()) != image_tokens.shape[0] * image_tokens.shape[1]:
            raise ValueError
        return out

    assert not _passes_check("check_splice", splice_column_major)
    line = capsys.readouterr().out
    assert "expected tensor(shape (2, 6, 4), float32), got tensor(shape (2, 6, 4), float32)" in line, line
    assert "; first difference at [0, 2, 0] (expected " in line and ", largest difference " in line, line
    assert _runner.tensor_difference(torch.ones(3), torch.ones(3)) is None
    assert _runner.tensor_difference(torch.tensor([1.0, 2.0, 5.0]), torch.tensor([1.0, 3.0, 1.0])) == (
        "first difference at [1] (expected 2, got 3), largest difference 4")


# ---------------------------------------------------------------- the holes a reader found are closed

def _solution_function(stem: str, name: str, broken: tuple[str, str] | None = None):
    """`name` as the worked solution (exercises/solutions/<stem>.py) defines it, optionally with one
    piece of its source replaced (`broken` = (old, new)): the solution with exactly one rule broken.
    Runs the script's code cells up to the one defining `name`, check cells left out."""
    import jupytext

    namespace: dict = {"__name__": "solution"}
    for cell in jupytext.read(ROOT / "exercises" / "solutions" / f"{stem}.py").cells:
        src = _source(cell)
        if cell.cell_type != "code" or src.strip().startswith(("check_", "summary(")):
            continue
        if broken and broken[0] in src:
            src = src.replace(*broken)
            broken = None
        exec(compile(src, f"{stem}.py", "exec"), namespace)
        if name in namespace:
            break
    assert broken is None, f"{stem}.py no longer contains {broken[0]!r}"
    return namespace[name]


def test_the_solutions_pass_the_checks_that_catch_their_broken_twins():
    assert _passes_check("check_insert_placeholders", _solution_function("03_interleaved_tokens", "insert_placeholders"))
    assert _passes_check("check_extract_bison", _solution_function("08_bison_nlvr2", "extract_bison"))
    assert _passes_check("check_extract_nlvr2", _solution_function("08_bison_nlvr2", "extract_nlvr2"))


def test_an_id_followed_by_a_hyphen_is_caught(capsys):
    """03 task 1 with `\\b` for the look-ahead: ids may hold '-', so IMAGE#x matches inside IMAGE#x-1."""
    word_boundary = _solution_function("03_interleaved_tokens", "insert_placeholders",
                                       (r'r"(?![A-Za-z0-9_\-])"', r'r"\b"'))
    assert not _passes_check("check_insert_placeholders", word_boundary)
    assert "for input 'IMAGE#x-1 is left of IMAGE#x.', ['x', 'x-1']" in capsys.readouterr().out


@pytest.mark.parametrize("task", ["bison", "nlvr2"])
def test_keeping_the_restated_option_list_is_caught(task: str, capsys):
    """08 tasks 1-2 without rule 1 (the listed options kept): 'the answer (IMAGE#1 or IMAGE#2) is IMAGE#2'
    then holds mentions of both and comes out None."""
    no_rule_1 = _solution_function("08_bison_nlvr2", f"extract_{task}", ("text = option_list.sub(", "text = (lambda s, t: t)("))
    assert not _passes_check(f"check_extract_{task}", no_rule_1)
    assert "rule 1: drop the listed options" in capsys.readouterr().out


def test_taking_the_first_final_answer_is_caught(capsys):
    first_final = _solution_function("08_bison_nlvr2", "extract_bison", ("return finals[-1]", "return finals[0]"))
    assert not _passes_check("check_extract_bison", first_final)
    assert "two final answers: the last one decides" in capsys.readouterr().out


# ---------------------------------------------------------------- the checks' own references match the package

def test_patchify_reference_is_the_vit_patch_embedding():
    import torch

    from sparkles_lite.config import VisionConfig
    from sparkles_lite.exercises.checks import _patchify
    from sparkles_lite.model.vision import LiteViT

    vit = LiteViT(VisionConfig())
    conv = vit.patch_embed
    x = torch.randn(2, 3, vit.cfg.image_size, vit.cfg.image_size)
    patches = _patchify(x, vit.cfg.patch_size)
    linear = patches @ conv.weight.reshape(conv.out_channels, -1).T + conv.bias
    torch.testing.assert_close(linear, conv(x).flatten(2).transpose(1, 2), atol=1e-4, rtol=1e-4)


def test_attention_reference_is_the_vit_block():
    import torch

    from sparkles_lite.model.vision import Block, attention_weights

    torch.manual_seed(0)
    block = Block(dim=16, heads=2, mlp_ratio=2.0)
    block.keep_attention = True
    x = torch.randn(1, 5, 16)
    block(x)
    q, k, _ = block.qkv(block.norm1(x)).view(1, 5, 3, 2, 8).permute(2, 0, 3, 1, 4)
    torch.testing.assert_close(attention_weights(q[0, 1], k[0, 1]), block.last_attention[0, 1])


def test_projection_params_reference_counts_build_projection():
    from sparkles_lite.config import ProjectionConfig
    from sparkles_lite.exercises.checks import _projection_params
    from sparkles_lite.model.projection import build_projection

    for v, d in ((128, 256), (7, 3)):
        layer = build_projection(ProjectionConfig(kind="linear"), v, d)
        assert _projection_params(v, d) == sum(p.numel() for p in layer.parameters())
        mlp = build_projection(ProjectionConfig(kind="mlp", hidden=64), v, d)
        assert _projection_params(v, d, hidden=64) == sum(p.numel() for p in mlp.parameters())


def test_splice_reference_is_sparkles_chat_embed():
    from types import SimpleNamespace

    import torch

    from sparkles_lite.model.assembly import Batch
    from sparkles_lite.model.sparkles_chat import SparklesChat, splice

    table = torch.nn.Embedding(10, 4)
    ids = torch.tensor([[1, 2, 9, 9, 3], [9, 9, 4, 5, 6]])
    mask = ids == 9
    batch = Batch(ids, torch.ones_like(ids), ids, mask, [1, 1])
    fake = SimpleNamespace(pad_id=0, lm=SimpleNamespace(get_input_embeddings=lambda: table))
    tokens = torch.randn(2, 2, 4)
    expected = SparklesChat.embed(fake, batch, tokens)
    torch.testing.assert_close(splice(table(ids.masked_fill(mask, 0)), mask, tokens), expected)


def test_masked_loss_reference_is_the_transformers_causal_lm_loss():
    import torch
    from transformers.loss.loss_utils import ForCausalLMLoss

    from sparkles_lite.model.sparkles_chat import masked_loss

    torch.manual_seed(0)
    logits = torch.randn(2, 6, 11)
    labels = torch.tensor([[-100, -100, 3, 4, 5, 6], [-100, 1, 2, -100, -100, 7]])
    torch.testing.assert_close(masked_loss(logits, labels), ForCausalLMLoss(logits, labels, vocab_size=11))
