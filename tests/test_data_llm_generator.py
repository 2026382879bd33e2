"""The LLM generator against a local fake OpenAI server: never a remote host."""

import json

import pytest

from sparkles_lite.assets import sample_folder
from sparkles_lite.data.fake_llm_server import FakeLLMServer
from sparkles_lite.data.io import load_dialogues
from sparkles_lite.data.llm_generator import GeneratorConfig, generate_dialogues, reply_to_dialogue
from sparkles_lite.data.schema import IMAGE_BLOCK, Dialogue, ImageRef, Message
from sparkles_lite.data.validate import validate_file

POOL = [ImageRef(i, f"caption of {i}") for i in ("7", "14", "1417", "cat", "dog")]
DEMO = Dialogue([Message("user", f"Look at IMAGE#demo{IMAGE_BLOCK}", [ImageRef("demo", "d")]),
                 Message("assistant", "ok"), Message("user", "more?"), Message("assistant", "done")])


def _reply(first_ids, first_text, second_ids, second_text, user_role="user"):
    return json.dumps({"dialogue": [
        {"role": user_role, "image_ids": first_ids, "content": first_text},
        {"role": "assistant", "content": "A detailed first answer."},
        {"role": "user", "image_ids": second_ids, "content": second_text},
        {"role": "assistant", "content": "A detailed second answer."}]})


def _run(tmp_path, replies, n=1, **cfg):
    with FakeLLMServer(replies, default=lambda req: 500) as srv:
        config = GeneratorConfig(base_url=srv.base_url, model="fake", max_retries=2, **cfg)
        summary = generate_dialogues(POOL, DEMO, tmp_path / "out.jsonl", n, n_candidates=5, config=config,
                                     rejects_path=tmp_path / "rejects.jsonl")
        return summary, srv.requests


def _rejects(tmp_path):
    return [json.loads(x) for x in (tmp_path / "rejects.jsonl").read_text().splitlines()]


def test_good_reply_is_accepted_and_prompt_has_captions(tmp_path):
    reply = "```json\n" + _reply(["14", "1417"], f"IMAGE#14{IMAGE_BLOCK} vs IMAGE#1417{IMAGE_BLOCK}?",
                                 ["cat"], "Does IMAGE#cat fit with IMAGE#14?") + "\n```"
    summary, requests = _run(tmp_path, [reply])
    assert (summary.accepted, summary.rejected) == (1, 0)
    prompt = requests[0]["messages"][0]["content"]
    assert "IMAGE#cat: caption of cat" in prompt and "IMAGE#demo" in prompt and requests[0]["model"] == "fake"
    (d,) = load_dialogues(tmp_path / "out.jsonl")
    assert [r.image_id for r in d.images] == ["14", "1417", "cat"]
    assert d.messages[2].content == f"Does IMAGE#cat{IMAGE_BLOCK} fit with IMAGE#14?"
    assert d.meta["generation_id"] == "llm-0-00000"
    assert validate_file(tmp_path / "out.jsonl").ok


def test_missing_placeholders_and_role_whitespace_are_repaired():
    d = reply_to_dialogue(_reply(["1417", "14"], "Is IMAGE#14 older than IMAGE#1417?", ["7"], "And IMAGE#7?",
                                 user_role=" User "), POOL)
    assert d.messages[0].role == "user"
    assert d.messages[0].content == f"Is IMAGE#14{IMAGE_BLOCK} older than IMAGE#1417{IMAGE_BLOCK}?"
    assert [r.image_id for r in d.messages[0].images] == ["14", "1417"]  # reordered to placeholder order


@pytest.mark.parametrize("reply, reason", [
    ("Sure! Here is a dialogue: {\"dialogue\": [", "reply is not JSON"),
    (_reply(["14"], "What is this?", ["7"], "And IMAGE#7?"), "message 0: IMAGE#14 is not mentioned"),
    (_reply(["99"], "IMAGE#99?", ["7"], "IMAGE#7?"), "message 0: image id(s) 99 are not among the candidates"),
    (_reply(["14", "7", "cat", "dog"], "IMAGE#14 IMAGE#7 IMAGE#cat IMAGE#dog", ["1417"], "IMAGE#1417?"),
     "dialogue uses 5 images; expected 2-4"),
    (json.dumps({"dialogue": [{"role": "user", "image_ids": ["7"], "content": "IMAGE#7"}]}),
     "odd number of messages"),
])
def test_unrepairable_replies_are_rejected_with_reason(tmp_path, reply, reason):
    summary, _ = _run(tmp_path, [reply])
    assert (summary.accepted, summary.rejected) == (0, 1)
    (rej,) = _rejects(tmp_path)
    assert reason in rej["reason"] and rej["reply"] == reply
    assert not (tmp_path / "out.jsonl").exists()


def test_empty_object_reply_is_rejected(tmp_path):
    summary, _ = _run(tmp_path, [{}])
    assert summary.rejected == 1 and _rejects(tmp_path)[0]["reason"] == "reply has no choices"


def test_null_content_is_rejected(tmp_path):
    body = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "stop"}]}
    summary, _ = _run(tmp_path, [body])
    assert _rejects(tmp_path)[0]["reason"] == "reply has no message content"


def test_rate_limit_then_success_with_bounded_retries(tmp_path):
    good = _reply(["7"], "IMAGE#7?", ["cat"], "IMAGE#cat?")
    summary, requests = _run(tmp_path, [429, 429, good])
    assert summary.accepted == 1 and len(requests) == 3


def test_retries_give_up(tmp_path):
    summary, requests = _run(tmp_path, [429, 429, 429, "never reached"])
    assert summary.rejected == 1 and len(requests) == 3
    assert _rejects(tmp_path)[0]["reason"].startswith("gave up after 3 attempts")


def test_resume_skips_done_ids(tmp_path):
    good = _reply(["7"], "IMAGE#7?", ["cat"], "IMAGE#cat?")
    summary, _ = _run(tmp_path, [good])
    assert summary.accepted == 1
    summary, requests = _run(tmp_path, [good, good], n=3)
    assert summary.skipped == 1 and summary.accepted == 2 and len(requests) == 2
    assert [d.meta["generation_id"] for d in load_dialogues(tmp_path / "out.jsonl")] == \
           ["llm-0-00000", "llm-0-00001", "llm-0-00002"]


def test_cli_llm_generate_with_template_server(tmp_path, capsys):
    from pathlib import Path

    from sparkles_lite.cli import main
    photos = sample_folder("photos")
    with FakeLLMServer() as srv:  # default: template_reply over the prompt's candidates
        rc = main(["data", "llm-generate", "--pool", str(photos / "dialogues.json"), "--out", str(tmp_path / "g.jsonl"),
                   "--n-dialogues", "3", "--base-url", srv.base_url, "--model", "fake"])
    assert rc == 0 and capsys.readouterr().out.startswith("accepted 3, rejected 0")
    assert validate_file(tmp_path / "g.jsonl", image_root=photos).ok
