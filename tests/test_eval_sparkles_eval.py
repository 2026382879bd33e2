import json
from types import SimpleNamespace

import pytest
from PIL import Image

from sparkles_lite.data.schema import ASSISTANT, USER, Dialogue, ImageRef, Message, placeholder_ids
from sparkles_lite.eval.judge import Judge
from sparkles_lite.eval.protocols import SUMMARY
from sparkles_lite.eval.sparkles_eval import RESULTS, estimate_judge_cost, run_sparkles_eval
from sparkles_lite.lite.judge_server import MODEL_ID, start_judge_server

CAPTIONS = {"3": "a big red circle and two small blue squares", "7": "a small green triangle",
            "9": "a big red circle and a big yellow diamond"}


def lookup(image_id):
    return Image.new("RGB", (8, 8), (int(image_id) * 20, 0, 0))


def _dialogue(did, q1_ids, q1, a1, q2_ids, q2, a2):
    return Dialogue([Message(USER, q1, [ImageRef(i, CAPTIONS[i]) for i in q1_ids]), Message(ASSISTANT, a1),
                     Message(USER, q2, [ImageRef(i, CAPTIONS[i]) for i in q2_ids]), Message(ASSISTANT, a2)],
                    meta={"id": did})


DIALOGUES = [
    _dialogue("d0", ["3"], "What is in IMAGE#3?", "IMAGE#3 shows a big red circle and two small blue squares.",
              ["9"], "Here is IMAGE#9. What do IMAGE#3 and IMAGE#9 have in common?",
              "Both images have a big red circle."),
    _dialogue("d1", ["3", "7"], "What do IMAGE#3 and IMAGE#7 have in common?", "They have nothing in common.",
              ["9"], "Here is IMAGE#9. What is in IMAGE#9?",
              "IMAGE#9 shows a big red circle and a big yellow diamond."),
]
REFERENCE = {d.messages[0].content: d.messages[1].content for d in DIALOGUES} | \
            {d.messages[2].content: d.messages[3].content for d in DIALOGUES}


class Model:
    """Answers with the reference, checking it is shown the right history and images."""

    def __init__(self, wrong_second=False, die_after=None):
        self.calls = 0
        self.wrong_second = wrong_second
        self.die_after = die_after

    def __call__(self, messages, images):
        if self.die_after is not None and self.calls >= self.die_after:
            raise KeyboardInterrupt
        self.calls += 1
        last = messages[-1]
        assert last.role == USER and [m.role for m in messages] == [USER, ASSISTANT, USER][:len(messages)]
        assert sorted(images) == sorted({i for m in messages for i in placeholder_ids(m.content)})
        question = last.content.replace("<Img><ImageHere></Img>", "")
        if len(messages) == 3:
            assert messages[1].content == self.own_first  # its own A1, not the reference
            if self.wrong_second:
                return "IMAGE#9 shows two small green triangles."
        self.own_first = REFERENCE[question] if len(messages) == 1 else None
        return REFERENCE[question]


@pytest.fixture(scope="module")
def judge_url():
    server, url = start_judge_server()
    yield url
    server.close()


def test_end_to_end_with_offline_judge_server(tmp_path, judge_url):
    judge = Judge(model=MODEL_ID, cache_dir=tmp_path / "cache", base_url=judge_url)
    good = run_sparkles_eval(DIALOGUES, Model(), judge, tmp_path / "good", image_lookup=lookup)
    bad = run_sparkles_eval(DIALOGUES, Model(wrong_second=True), judge, tmp_path / "bad", image_lookup=lookup)
    assert good["n_judged"] == 2 and good["n_failed"] == 0 and good["A1"] == good["A2"] == good["overall"] == 10
    assert bad["A1"] == 10 and bad["A2"] < 5 and bad["overall"] < good["overall"]
    assert set(good["criteria"]) >= {"A1 C1", "A2 C3", "C1", "C2", "C3"} and "overall" in good["ci95"]
    records = [json.loads(x) for x in (tmp_path / "bad" / RESULTS).read_text().splitlines()]
    assert records[0]["answers"][1] == "IMAGE#9 shows two small green triangles."
    assert records[0]["references"][0].startswith("IMAGE#3 shows")
    assert json.loads((tmp_path / "good" / SUMMARY).read_text()) == good


def test_resume_after_kill_and_repeats(tmp_path, judge_url):
    judge = Judge(model=MODEL_ID, cache_dir=tmp_path / "cache", base_url=judge_url)
    with pytest.raises(KeyboardInterrupt):
        run_sparkles_eval(DIALOGUES, Model(die_after=3), judge, tmp_path, image_lookup=lookup, repeats=2)
    model = Model()
    summary = run_sparkles_eval(DIALOGUES, model, judge, tmp_path, image_lookup=lookup, repeats=2)
    assert model.calls == 2 and summary["n"] == 2 and summary["judge_sd"] == 0.0
    assert [json.loads(x)["id"] for x in (tmp_path / RESULTS).read_text().splitlines()] == ["d0", "d1"]


def test_failed_judgment_is_counted_not_scored(tmp_path):
    garbage = SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content="Looks great, 9/10!"))])
    client = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=lambda **kw: garbage)))
    judge = Judge(model="gpt-x", cache_dir=tmp_path / "cache", client=client, max_attempts=2, sleep=lambda s: None)
    summary = run_sparkles_eval(DIALOGUES[:1], Model(), judge, tmp_path, image_lookup=lookup)
    assert summary["n_failed"] == 1 and summary["n_judged"] == 0 and summary["A1"] is None
    record = json.loads((tmp_path / RESULTS).read_text())
    assert record["failed"] and record["scores"] is None and "missing" in record["judgments"][0]["error"]


def test_cost_estimate_before_and_after_a_run(tmp_path, judge_url):
    judge = Judge(model=MODEL_ID, cache_dir=tmp_path / "cache", base_url=judge_url)
    before = estimate_judge_cost(DIALOGUES, judge, repeats=3, price_per_1k_tokens=0.01)
    assert before.requests == 6 and before.cached == 0 and before.usd > 0
    run_sparkles_eval(DIALOGUES, Model(), judge, tmp_path, image_lookup=lookup)
    after = estimate_judge_cost(DIALOGUES, judge, repeats=3)
    assert after.cached == 2 and after.requests == 4  # the model answered like the references


def test_rejudge_scores_the_same_answers_with_the_papers_prompt(tmp_path):
    """Logged answers judged again under the other protocol: the offline judge reads the paper's prompt
    (no references) and answers in the paper's format; a correct answer still outscores a wrong one."""
    from sparkles_lite.eval.judge import Judge
    from sparkles_lite.lite.judge_server import MODEL_ID, start_judge_server
    from sparkles_lite.eval.sparkles_eval import rejudge, summarise

    record = {"id": "0", "images": [["3", "a big red circle"], ["9", "a small blue square"]],
              "questions": ["What is in IMAGE#3?", "Here is IMAGE#9. What is in IMAGE#9?"],
              "answers": ["IMAGE#3 shows a big red circle.", "IMAGE#9 shows a small blue square."],
              "references": ["IMAGE#3 shows a big red circle.", "IMAGE#9 shows a small blue square."]}
    wrong = {**record, "id": "1", "answers": ["IMAGE#3 shows a small blue square.", "IMAGE#9 shows a big red circle."]}
    server, base_url = start_judge_server()
    try:
        judge = Judge(model=MODEL_ID, cache_dir=tmp_path, base_url=base_url)
        records = rejudge([record, wrong], judge, "paper")
    finally:
        server.close()
    assert [r["judge_protocol"] for r in records] == ["paper", "paper"] and not any(r["failed"] for r in records)
    assert records[0]["judgments"][0]["reply"].startswith("* Evaluating A1")
    assert records[0]["judgments"][0]["stated_overall"]["A1"] == 10.0
    summary = summarise(records)
    assert summary["n_judged"] == 2 and records[0]["scores"]["A1 C1"] > records[1]["scores"]["A1 C1"]
