"""sparkles_lite.ui: the ipywidgets chat driven headless (set values, `button.click()`), and
`compare_models`. Every refusal is a message in the window, never an exception."""

from __future__ import annotations

import datetime
import io

import pytest
import torch
from PIL import Image

from sparkles_lite.lite import world
from sparkles_lite.ui import ChatUI, compare_models, read_image, sample_images

pytest.importorskip("ipywidgets")
pytest.importorskip("sparkles_lite.chat", reason="sparkles_lite.chat (Chat, ChatError) not there yet")
_NOW = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def models():
    from sparkles_lite.model.sparkles_chat import SparklesChat
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield {"sparkles": SparklesChat.from_pretrained("sparkleschat-lite"),
           "minigpt4": SparklesChat.from_pretrained("minigpt4-lite")}
    torch.set_num_threads(threads)


@pytest.fixture
def ui(models):
    return ChatUI(models, samples=sample_images(n_scenes=3))


def _png_bytes(size=(32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def test_samples_are_scenes_then_the_shipped_photos():
    samples = sample_images(n_scenes=2)
    assert [s.kind for s in samples[:2]] == ["scene", "scene"]
    assert samples[0].load().size == (128, 128)
    photos = [s for s in samples if s.kind == "photo"]
    assert photos and photos[0].load().mode == "RGB"


def test_turns_stream_and_build_history(ui):
    ui.add_sample_image(0)
    ui.sample_picker.value = 1
    ui.add_sample.click()
    assert len(ui.images) == 2 and len(ui.thumbs.children) == 2
    assert [b.description for b in ui.insert_buttons.children] == ["IMAGE#1", "IMAGE#2"]

    ui.text.value = "Which of"
    ui.insert_buttons.children[0].click()
    assert ui.text.value == "Which of IMAGE#1 "
    streamed = []
    ui.stream.observe(lambda change: streamed.append(change["new"]), names="value")
    ui.text.value = "Which of IMAGE#1 and IMAGE#2 has more objects?"
    ui.max_tokens.value = 12
    ui.send.click()
    assert [role for role, _ in ui.transcript] == ["user", "assistant"], ui.messages
    assert ui.text.value == ""                       # the box empties after a question
    assert len([s for s in streamed if s]) >= 2      # the answer arrived piece by piece
    assert ui.transcript[1][1] in ui.history_html.value or "&" in ui.history_html.value

    ui.text.value = "What is in IMAGE#2?"            # a second turn keeps the first
    ui.send.click()
    assert len(ui.transcript) == 4

    ui.clear.click()
    assert ui.transcript == [] and ui.images == [] and ui.thumbs.children == ()


def test_refusals_are_messages(ui):
    ui.text.value = "What is in IMAGE#1?"
    ui.send.click()                                  # no image yet
    assert ui.transcript == [] and "add an image first" in ui.status.value

    ui.add_sample_image(0)
    ui.text.value = "Compare IMAGE#1 with IMAGE#4."
    ui.send.click()                                  # an image never added
    assert ui.transcript == [] and "IMAGE#4" in ui.messages[-1] and ui.messages[-1].startswith("error")

    ui.text.value = "   "
    ui.send.click()
    assert ui.messages[-1].startswith("error")


def test_uploads(ui):
    ui.upload.value = ({"name": "red.png", "type": "image/png", "size": 10, "content": memoryview(_png_bytes()),
                        "last_modified": _NOW},)
    assert len(ui.images) == 1 and ui.images[0].size == (32, 32)
    assert ui.upload.value == ()                     # reset, so the same file can come again
    ui.upload.value = ({"name": "notes.txt", "type": "text/plain", "size": 5, "content": memoryview(b"hello"),
                        "last_modified": _NOW},)
    assert len(ui.images) == 1 and "not an image" in ui.messages[-1]
    assert ui.add_upload("big.png", b"x" * (9 * 2**20)) is None and "limit" in ui.messages[-1]
    assert ui.add_upload("empty.png", b"") is None and "empty" in ui.messages[-1]
    with pytest.raises(ValueError, match="not an image"):
        read_image(b"\x89PNG broken", "broken.png")


def test_settings_and_model_switch(ui):
    assert ui.generation_settings() == {"max_new_tokens": ui.max_tokens.value, "do_sample": False}
    assert ui.temperature.disabled
    ui.mode.value = "sampling"
    ui.temperature.value = 0.5
    assert ui.generation_settings()["temperature"] == 0.5 and not ui.temperature.disabled
    ui.add_sample_image(1)
    ui.model_picker.value = "minigpt4"
    assert ui.model_name == "minigpt4" and len(ui.images) == 1 and "now talking to minigpt4" in ui.messages[-1]
    ui.display()                                     # no front end here: must not raise


def test_compare_models(models):
    scenes = [world.SceneBank(3).next() for _ in range(2)]
    images = [world.render(s) for s in scenes]
    answers = compare_models(models, images, "Which of IMAGE#1 and IMAGE#2 has more objects?", max_new_tokens=12)
    assert set(answers) == set(models) and all(isinstance(a, str) for a in answers.values())


def test_a_failing_generation_is_a_message(ui, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("out of memory")
    monkeypatch.setattr(ui.chat.model, "generate", boom)
    ui.add_sample_image(0)
    ui.text.value = "What is in IMAGE#1?"
    ui.send.click()
    assert ui.transcript == [] and "out of memory" in ui.messages[-1] and ui.messages[-1].startswith("error")
    monkeypatch.undo()
    ui.text.value = "What is in IMAGE#1?"            # the chat recovered: the same question works now
    ui.send.click()
    assert [role for role, _ in ui.transcript] == ["user", "assistant"]
