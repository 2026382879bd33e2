"""A chat window for notebooks (JupyterLab, Colab): ipywidgets around `sparkles_lite.chat.Chat`.

    from sparkles_lite.ui import ChatUI
    ui = ChatUI({"SparklesChat-lite": sparkles, "MiniGPT-4-lite": minigpt4})
    ui.display()

Add images (upload, or pick a shipped sample: rendered lite scenes and the photos in
`sparkles_lite/samples/photos/`), click `IMAGE#n` to put an image's name in the question, ask; the answer
streams in. Everything that can go wrong (no image yet, a reference to an image never added, an
unreadable or oversized upload) is told in the window's message line: no callback raises.

Headless use (tests, papermill): every control is an attribute (`ui.text`, `ui.send`, ...), so
`ui.text.value = "..."; ui.send.click()` runs a turn, and `ui.transcript` holds the turns.
`compare_models` answers one question with several models, in plain Python.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from sparkles_lite.assets import sample_folder
from sparkles_lite.data.images import open_image
from sparkles_lite.lite import world

MAX_UPLOAD_BYTES = 8 * 1024 * 1024
THUMB_PX = 96
N_SAMPLE_SCENES = 8
SAMPLE_SEED = 0


# ---------------------------------------------------------------- shipped samples

@dataclass
class Sample:
    label: str
    kind: str             # "scene" | "photo"
    path: Path | None = None
    scene: object = None

    def load(self) -> Image.Image:
        if self.kind == "scene":
            return world.render(self.scene, size=128)
        with Image.open(self.path) as im:
            return im.convert("RGB")


def sample_images(n_scenes: int = N_SAMPLE_SCENES, seed: int = SAMPLE_SEED) -> list[Sample]:
    """Rendered lite scenes and the photos shipped in the package."""
    bank = world.SceneBank(seed)
    out = []
    for i in range(n_scenes):
        scene = bank.next()
        out.append(Sample(f"scene {i + 1}: {world.describe(scene)}", "scene", scene=scene))
    out += [Sample(f"photo: {p.stem}", "photo", path=p) for p in sorted(sample_folder("photos").glob("*.jpg"))]
    return out


def read_image(content: bytes, name: str = "upload") -> Image.Image:
    """Bytes of an uploaded file -> RGB image (`data.images.open_image`: the pixel limit, 16-bit and
    float images scaled); ValueError with a readable reason otherwise."""
    if len(content) == 0:
        raise ValueError(f"{name!r} is empty")
    if len(content) > MAX_UPLOAD_BYTES:
        raise ValueError(f"{name!r} is {len(content) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB")
    return open_image(io.BytesIO(content), repr(name))


def _png(img: Image.Image, px: int = THUMB_PX) -> bytes:
    thumb = img.copy()
    thumb.thumbnail((px, px))
    buf = io.BytesIO()
    thumb.save(buf, format="PNG")
    return buf.getvalue()


def _chat_module():
    from sparkles_lite import chat
    return chat


# ---------------------------------------------------------------- plain Python

def compare_models(models: dict, images: list, question: str, **gen) -> dict[str, str]:
    """The same images and question to each model, each in a fresh chat; {model name: answer}.
    `images`: PIL images or paths, added in order as IMAGE#1..n; `gen`: generation settings
    (`max_new_tokens`, `do_sample`, ...), greedy by default."""
    chat_mod = _chat_module()
    answers = {}
    for name, model in models.items():
        chat = chat_mod.Chat(model)
        for img in images:
            chat.add_image(img)
        chat.ask(question)
        answers[name] = chat.answer(**gen)
    return answers


# ---------------------------------------------------------------- the widget

class ChatUI:
    """ipywidgets chat over one model or several (a dict name -> SparklesChat, picked in a dropdown)."""

    def __init__(self, model_or_models, samples: list[Sample] | None = None, max_images: int = 6):
        import ipywidgets as w

        self._w = w
        self.models = dict(model_or_models) if isinstance(model_or_models, dict) else {"model": model_or_models}
        if not self.models:
            raise ValueError("ChatUI needs at least one model")
        self.samples = samples if samples is not None else sample_images()
        self.max_images = max_images
        self.images: list[Image.Image] = []
        self.transcript: list[tuple[str, str]] = []   # (role, text): "user" / "assistant"
        self.messages: list[str] = []                 # everything the message line has said
        self.model_name = next(iter(self.models))
        self.chat = _chat_module().Chat(self.models[self.model_name])

        # controls
        self.model_picker = w.Dropdown(options=list(self.models), value=self.model_name, description="model",
                                       layout=w.Layout(display="" if len(self.models) > 1 else "none"))
        self.upload = w.FileUpload(accept="image/*", multiple=True, description="upload")
        self.sample_picker = w.Dropdown(options=[(s.label, i) for i, s in enumerate(self.samples)],
                                        description="sample", layout=w.Layout(width="420px"))
        self.add_sample = w.Button(description="add sample", icon="plus")
        self.thumbs = w.HBox()
        self.insert_buttons = w.HBox()
        self.text = w.Textarea(placeholder="Ask about the images, e.g. 'What is in IMAGE#1?'",
                               layout=w.Layout(width="100%", height="60px"))
        self.send = w.Button(description="ask", button_style="primary", icon="paper-plane")
        self.clear = w.Button(description="clear", icon="trash", tooltip="forget the conversation and the images")
        self.mode = w.ToggleButtons(options=["greedy", "sampling"], value="greedy")
        self.temperature = w.FloatSlider(value=0.8, min=0.1, max=2.0, step=0.1, description="temperature")
        self.top_p = w.FloatSlider(value=0.9, min=0.1, max=1.0, step=0.05, description="top-p")
        self.max_tokens = w.IntSlider(value=48, min=4, max=128, step=4, description="max tokens")
        self.history_html = w.HTML()
        self.stream = w.HTML()
        self.status = w.HTML()

        self.model_picker.observe(self._on_model, names="value")
        self.upload.observe(self._on_upload, names="value")
        self.add_sample.on_click(self._guard(lambda _: self.add_sample_image(self.sample_picker.value)))
        self.send.on_click(self._guard(lambda _: self.ask(self.text.value)))
        self.clear.on_click(self._guard(lambda _: self.reset()))
        self.mode.observe(lambda _: self._sync_settings(), names="value")
        self._sync_settings()

        settings = w.HBox([self.mode, self.temperature, self.top_p, self.max_tokens])
        self.widget = w.VBox([
            self.model_picker,
            w.HBox([self.upload, self.sample_picker, self.add_sample]),
            self.thumbs, self.history_html, self.stream,
            self.insert_buttons, self.text, w.HBox([self.send, self.clear]), settings, self.status,
        ])
        self._render()

    # -------------------------------------------------- display
    def display(self):
        """Show the window; harmless without a front end (papermill, plain Python)."""
        try:
            from IPython.display import display
            display(self.widget)
        except Exception as exc:  # no IPython at all: say so instead of failing
            self._say(f"no notebook front end to show the window in ({type(exc).__name__})")
        return None

    def _ipython_display_(self):
        self.display()

    # -------------------------------------------------- actions (also the headless API)
    def add_image(self, image, name: str | None = None) -> str | None:
        """Add a PIL image or a path; returns its `IMAGE#n`, or None (with a message) if refused."""
        if len(self.images) >= self.max_images:
            self._say(f"at most {self.max_images} images per conversation; press clear to start again", error=True)
            return None
        try:
            image = _chat_module().load_image(image)  # read once: the thumbnail is the image the model sees
            label = self.chat.add_image(image)
        except ValueError as exc:  # ChatError is a ValueError: unreadable file and the like
            self._say(f"could not add {name or 'the image'}: {exc}", error=True)
            return None
        self.images.append(image)
        self._say(f"added {name or 'an image'} as {label}")
        self._render()
        return label

    def add_sample_image(self, index: int) -> str | None:
        sample = self.samples[index]
        return self.add_image(sample.load(), name=sample.label.split(":")[0])

    def add_upload(self, name: str, content: bytes) -> str | None:
        """Add an uploaded file's bytes (what the upload button does for each file)."""
        try:
            img = read_image(bytes(content), name)
        except ValueError as exc:
            self._say(f"upload refused: {exc}", error=True)
            return None
        return self.add_image(img, name=repr(name))

    def ask(self, text: str) -> str | None:
        """One turn: the question goes in, the answer streams into the window; returns the answer,
        or None when the question was refused (the message line says why)."""
        text = (text or "").strip()
        if not text:
            self._say("type a question first", error=True)
            return None
        if not self.images:
            self._say("add an image first (upload one or pick a sample), then ask about it as IMAGE#1", error=True)
            return None
        chat_error = _chat_module().ChatError
        try:
            self.chat.ask(text)
        except chat_error as exc:
            self._say(str(exc), error=True)
            return None
        self.transcript.append(("user", text))
        self.text.value = ""
        self._render()
        self._say("answering...")
        try:
            answer = self.chat.answer(**self.generation_settings(), on_text=self._on_text)
        except Exception as exc:  # noqa: BLE001 - Chat withdraws the question; say why, keep the window
            self.transcript.pop()
            self.stream.value = ""
            self._render()
            reason = str(exc) if isinstance(exc, chat_error) else f"{type(exc).__name__}: {exc}"
            self._say(f"no answer: {reason}", error=True)
            return None
        self.stream.value = ""
        self.transcript.append(("assistant", answer))
        self._render()
        self._say(answer.forgotten.note if answer.forgotten else "")  # turns that left the context
        return answer

    def reset(self, note: str = "cleared: add images to start a new conversation") -> None:
        self.chat = _chat_module().Chat(self.models[self.model_name])
        self.images, self.transcript = [], []
        self.stream.value = ""
        self._render()
        self._say(note)

    def generation_settings(self) -> dict:
        gen = {"max_new_tokens": int(self.max_tokens.value), "do_sample": self.mode.value == "sampling"}
        if gen["do_sample"]:
            gen.update(temperature=float(self.temperature.value), top_p=float(self.top_p.value))
        return gen

    # -------------------------------------------------- callbacks
    def _guard(self, fn):
        """Widget callbacks never raise: anything unexpected becomes a message."""
        def run(*args):
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001 - shown to the user instead
                self._say(f"something went wrong: {type(exc).__name__}: {exc}", error=True)
        return run

    def _on_upload(self, change) -> None:
        files = change.get("new") or ()
        if not files:
            return
        for f in files:
            self._guard(lambda _: self.add_upload(f.get("name", "upload"), f.get("content", b"")))(None)
        try:
            self.upload.value = ()   # so the same file can be uploaded again
        except Exception:  # older ipywidgets: read-only value
            pass

    def _on_model(self, change) -> None:
        def switch(_):
            self.model_name = change["new"]
            images = list(self.images)
            self.reset(note="")
            for img in images:
                self.chat.add_image(img)
            self.images = images
            self._render()
            self._say(f"now talking to {self.model_name}: the conversation restarts with the same images")
        self._guard(switch)(None)

    def _on_text(self, partial: str) -> None:
        self.stream.value = _bubble("assistant", partial + " ▌")

    def _sync_settings(self) -> None:
        sampling = self.mode.value == "sampling"
        self.temperature.disabled = self.top_p.disabled = not sampling

    # -------------------------------------------------- drawing
    def _say(self, text: str, error: bool = False) -> None:
        if text:
            self.messages.append(("error: " if error else "") + text)
        colour = "#b00020" if error else "#555"
        self.status.value = f'<span style="color:{colour}">{html.escape(text)}</span>' if text else ""

    def _render(self) -> None:
        w = self._w
        boxes, buttons = [], []
        for i, img in enumerate(self.images):
            label = f"IMAGE#{i + 1}"
            boxes.append(w.VBox([w.Image(value=_png(img), format="png", width=THUMB_PX), w.Label(label)]))
            b = w.Button(description=label, layout=w.Layout(width="auto"), tooltip=f"insert {label} in the question")
            b.on_click(self._guard(lambda _, label=label: self._insert(label)))
            buttons.append(b)
        self.thumbs.children = boxes
        self.insert_buttons.children = buttons
        self.history_html.value = "".join(_bubble(role, text) for role, text in self.transcript)

    def _insert(self, label: str) -> None:
        sep = "" if not self.text.value or self.text.value.endswith(" ") else " "
        self.text.value = self.text.value + sep + label + " "


def _bubble(role: str, text: str) -> str:
    who, colour = ("you", "#eef3ff") if role == "user" else ("model", "#fff4e0")
    return (f'<div style="background:{colour};padding:4px 8px;margin:3px 0;border-radius:6px">'
            f"<b>{who}:</b> {html.escape(text)}</div>")
