"""Chat: multi-turn state, placeholder insertion, errors; and the `chat` command line."""

from __future__ import annotations

import io
import random

import pytest

from sparkles_lite import chat_cli, cli
from sparkles_lite.chat import Chat, ChatError, load_image
from sparkles_lite.data.schema import ASSISTANT, IMAGE_BLOCK, USER
from sparkles_lite.lite import world
from sparkles_lite.model.sparkles_chat import SparklesChat


@pytest.fixture(scope="module")
def model():
    return SparklesChat.from_pretrained("sparkleschat-lite").eval()


@pytest.fixture(scope="module")
def scenes():
    rng = random.Random(5)
    return [world.random_scene(rng) for _ in range(4)]


@pytest.fixture(scope="module")
def files(tmp_path_factory, scenes):
    d = tmp_path_factory.mktemp("images")
    paths = []
    for i, s in enumerate(scenes):
        paths.append(d / f"scene{i + 1}.png")
        world.render(s).save(paths[-1])
    (d / "broken.png").write_bytes(b"this is not a png")
    return {"images": [str(p) for p in paths], "broken": str(d / "broken.png"), "missing": str(d / "missing.png")}


def test_add_image_numbers_in_upload_order(model, files, scenes):
    chat = Chat(model)
    assert chat.add_image(files["images"][0]) == "IMAGE#1"
    assert chat.add_image(world.render(scenes[1])) == "IMAGE#2"
    assert chat.image_ids == ["IMAGE#1", "IMAGE#2"] and chat.pending == ["IMAGE#1", "IMAGE#2"]
    assert chat.images == []  # nothing in the conversation until a question introduces them
    assert chat.add_image(files["images"][2], image_id="cat") == "IMAGE#cat"
    assert chat.add_image(files["images"][3]) == "IMAGE#4"
    with pytest.raises(ChatError, match="IMAGE#cat was already given"):
        chat.add_image(files["images"][3], image_id="cat")


def test_placeholders_after_first_mention_and_prefix_for_unmentioned(model, files):
    chat = Chat(model)
    msg = chat.ask("Which of IMAGE#3 and IMAGE#1 has more objects? Look at IMAGE#3 again.",
                   images=files["images"][:3])
    assert msg.role == USER
    assert msg.content == (f"Here is IMAGE#2{IMAGE_BLOCK}. Which of IMAGE#3{IMAGE_BLOCK} and IMAGE#1{IMAGE_BLOCK} "
                           "has more objects? Look at IMAGE#3 again.")
    assert [r.image_id for r in msg.images] == ["2", "3", "1"]  # placeholder order = splice order
    opened = [load_image(p) for p in files["images"][:3]]
    assert [img.tobytes() for img in chat.images] == [opened[i].tobytes() for i in (1, 2, 0)]
    assert chat.pending == []


def test_several_unmentioned_images_are_listed(model, files):
    chat = Chat(model)
    msg = chat.ask("Describe them.", images=files["images"][:3])
    assert msg.content == (f"Here are IMAGE#1{IMAGE_BLOCK}, IMAGE#2{IMAGE_BLOCK} and IMAGE#3{IMAGE_BLOCK}. "
                           "Describe them.")


def test_whole_id_mentions_only(model, scenes):
    chat = Chat(model)
    for i in range(12):
        chat.add_image(world.render(scenes[i % 4]))
    text = " ".join(f"IMAGE#{i}" for i in range(12, 0, -1))
    msg = chat.ask(text)
    assert msg.content.startswith(f"IMAGE#12{IMAGE_BLOCK} IMAGE#11{IMAGE_BLOCK}")
    assert f"IMAGE#1{IMAGE_BLOCK}" in msg.content and msg.content.count(IMAGE_BLOCK) == 12
    assert [r.image_id for r in msg.images] == [str(i) for i in range(12, 0, -1)]


def test_multi_turn_answers_use_history_and_all_images(model, files):
    chat = Chat(model)
    chat.ask("How many objects are in IMAGE#1 and IMAGE#2 together?", images=files["images"][:2])
    first = chat.answer(max_new_tokens=24)
    assert first and chat.history[-1].role == ASSISTANT and chat.history[-1].content == first
    # A later turn adds an image and refers back to an earlier one: only the new one gets a placeholder.
    msg = chat.ask("Here is IMAGE#3. Which of IMAGE#1 and IMAGE#3 has more objects?", images=[files["images"][2]])
    assert msg.content == f"Here is IMAGE#3{IMAGE_BLOCK}. Which of IMAGE#1 and IMAGE#3 has more objects?"
    assert len(chat.images) == 3
    expected = model.generate(chat.history, chat.images, max_new_tokens=24).text
    seen: list[str] = []
    assert chat.answer(max_new_tokens=24, on_text=seen.append) == expected
    assert seen and seen[-1] == expected
    assert [m.role for m in chat.history] == [USER, ASSISTANT, USER, ASSISTANT]
    chat.clear()
    assert chat.history == [] and chat.images == [] and chat.image_ids == []
    assert chat.add_image(files["images"][3]) == "IMAGE#1"


def test_sampling_with_a_seed_is_reproducible(model, files):
    answers = []
    for _ in range(2):
        chat = Chat(model)
        answers.append(chat("What is in IMAGE#1?", images=[files["images"][0]], do_sample=True, temperature=1.5,
                            top_p=0.9, seed=3, max_new_tokens=12))
    assert answers[0] == answers[1]


def test_unknown_image_is_an_error_and_changes_nothing(model, files):
    chat = Chat(model)
    chat.add_image(files["images"][0])
    with pytest.raises(ChatError, match=r"IMAGE#4 is mentioned but never given \(images given: IMAGE#1, IMAGE#2, "
                                        r"IMAGE#3\)"):
        chat.ask("Which of IMAGE#1 and IMAGE#4 has more objects?", images=files["images"][1:3])
    assert chat.image_ids == ["IMAGE#1"] and chat.history == []  # the images of the failed call are gone
    with pytest.raises(ChatError, match="IMAGE#7, IMAGE#8 are mentioned"):
        chat.ask("IMAGE#7 or IMAGE#8?")


@pytest.mark.parametrize("which,match", [("broken", "image file .*broken.png cannot be decoded"),
                                         ("missing", "image file not found: .*missing.png")])
def test_unreadable_image_files_are_named(model, files, which, match):
    chat = Chat(model)
    with pytest.raises(ChatError, match=match):
        chat.add_image(files[which])
    with pytest.raises(ChatError, match=match):
        chat.ask("Compare IMAGE#1 and IMAGE#2.", images=[files["images"][0], files[which]])
    assert chat.image_ids == []
    with pytest.raises(ChatError, match="directory"):
        chat.add_image(files["images"][0].rsplit("/", 1)[0])


def test_turn_order_errors(model, files):
    chat = Chat(model)
    with pytest.raises(ChatError, match="nothing to answer"):
        chat.answer()
    chat.ask("What is in IMAGE#1?", images=[files["images"][0]])
    with pytest.raises(ChatError, match="no answer yet"):
        chat.ask("And?")
    with pytest.raises(ChatError, match="may only appear"):
        Chat(model).ask("a bare <ImageHere>")
    with pytest.raises(ChatError, match="empty message"):
        Chat(model).ask("   ")


def test_a_question_too_long_is_withdrawn(model, files):
    chat = Chat(model)
    chat.ask("What is in IMAGE#1? " + "Please tell me. " * 200, images=[files["images"][0]])
    with pytest.raises(ValueError, match="last turn alone needs"):
        chat.answer()
    assert chat.history == [] and chat.pending == ["IMAGE#1"]
    chat.ask("What is in IMAGE#1?")
    assert chat.answer(max_new_tokens=8)


# ---------------------------------------------------------------- command line

@pytest.fixture
def cached_model(monkeypatch, model):
    """The CLI's model loading, served from the module's model (loading itself is tested once)."""
    loaded = []
    monkeypatch.setattr(chat_cli, "load_model", lambda name, device, dtype: loaded.append(name) or model)
    return loaded


def test_cli_one_message_loads_the_shipped_model(files, capsys):
    rc = cli.main(["chat", "--model", "lite", "--images", *files["images"][:3], "--max-new-tokens", "16",
                   "--message", "Which of IMAGE#1 and IMAGE#3 has more objects?"])
    out, err = capsys.readouterr()
    assert rc == 0 and out.strip() and "error" not in err


def test_cli_model_aliases(cached_model, files, capsys):
    assert cli.main(["chat", "--images", files["images"][0], "--message", "What is in IMAGE#1?",
                     "--max-new-tokens", "4"]) == 0
    assert cli.main(["chat", "--model", "minigpt4-lite", "--images", files["images"][0], "--message", "Hi",
                     "--max-new-tokens", "4"]) == 0
    assert cached_model == ["lite", "minigpt4-lite"]
    assert chat_cli.MODEL_ALIASES["lite"] == "sparkleschat-lite"


def test_cli_reports_an_image_not_given(cached_model, files, capsys):
    rc = cli.main(["chat", "--images", *files["images"][:3], "--message", "Which of IMAGE#1 and IMAGE#4 has more?"])
    out, err = capsys.readouterr()
    assert rc != 0 and "IMAGE#4" in err and out == ""


@pytest.mark.parametrize("which", ["broken", "missing"])
def test_cli_reports_unreadable_image_before_loading_a_model(cached_model, files, capsys, which):
    rc = cli.main(["chat", "--images", files["images"][0], files[which], "--message", "Compare IMAGE#1 and IMAGE#2"])
    out, err = capsys.readouterr()
    assert rc != 0 and files[which] in err and cached_model == []


def test_cli_unknown_model_and_bad_flags(files, tmp_path, capsys):
    assert cli.main(["chat", "--model", str(tmp_path / "nope"), "--message", "hi"]) != 0
    assert "cannot load model" in capsys.readouterr().err
    assert cli.main(["chat", "--max-new-tokens", "0", "--message", "hi"]) != 0
    assert cli.main(["chat", "--sample", "--top-p", "1.5", "--message", "hi"]) != 0


def test_cli_help_says_lite_is_sparkleschat_lite(capsys):
    with pytest.raises(SystemExit):
        cli.main(["chat", "--help"])
    out = capsys.readouterr().out
    for flag in ("--max-new-tokens", "--sample", "--temperature", "--top-p", "--seed", "--images", "--message"):
        assert flag in out
    assert "sparkleschat-lite" in out


def test_cli_interactive_loop(cached_model, files, capsys, monkeypatch):
    lines = ["What is in IMAGE#1?", f"/image {files['images'][1]}", "How many objects are in IMAGE#2?",
             f"/image {files['broken']}", "And IMAGE#9?", "/bogus", "/clear", f"/image {files['images'][2]}", "/quit",
             "never read"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    rc = cli.main(["chat", "--images", files["images"][0], "--max-new-tokens", "6", "--seed", "0"])
    out, err = capsys.readouterr()
    assert rc == 0
    replies = [l for l in out.splitlines() if not l.startswith("added ")]
    assert len(replies) == 2 and all(replies)
    assert f"added IMAGE#2 ({files['images'][1]})" in out
    assert f"added IMAGE#1 ({files['images'][2]})" in out  # numbering restarts after /clear
    assert "broken.png" in err and "IMAGE#9" in err and "unknown command '/bogus'" in err


def test_cli_interactive_ends_at_end_of_input(cached_model, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("Hello\n"))
    assert cli.main(["chat", "--max-new-tokens", "3"]) == 0
    assert capsys.readouterr().out.strip()
