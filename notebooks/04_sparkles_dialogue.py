# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · SparklesDialogue: multi-image, multi-turn training data
#
# SparklesChat's architecture is MiniGPT-4's; what is new is its **data**. **SparklesDialogue** is a set
# of two-turn conversations in which the user brings in several images, by name, and asks questions
# that need them together. The paper had GPT-4 write them from image *captions* (GPT-4 never saw a
# pixel): 4,521 dialogues over Conceptual Captions images and 2,000 over Visual Genome images, each
# using 2 to 4 images in all.
#
# This notebook covers:
#
# 1. the file format, on a real-format dialogue about photographs and on a lite dialogue;
# 2. a dialogue drawn as a figure: images and turns together;
# 3. statistics of a generated lite set, plotted like the paper's;
# 4. how a dialogue becomes training examples (one per answer);
# 5. validation: what a broken file looks like to `sparkles_lite.data.validate`;
# 6. the pitfalls of generating such data with an LLM, with the generator run against a local stand-in
#    for GPT-4, and how to point it at a real endpoint;
# 7. looking at a dataset as the official repository lets you: `data stats` and `data show`.

# %% tags=["colab-setup"]
# Set-up: installs sparkles-lite if this kernel lacks it (Colab, a new Jupyter), else nothing.
import glob, importlib, importlib.util, subprocess, sys
REPO_URL = ""  # unpublished: CONTRIBUTING.md, "Publishing", fills this in
if importlib.util.find_spec("sparkles_lite") is None:
    wheels = sorted(glob.glob("sparkles_lite-*.whl") + glob.glob("../sparkles_lite-*.whl"))
    source = wheels[-1] if wheels else f"sparkles-lite @ git+{REPO_URL}" if REPO_URL else None
    if source is None:
        print("sparkles-lite is not installed. Put sparkles_lite-*.whl beside this\n"
              "notebook (Colab: the Files panel) and run this cell again, or\n"
              "pip install <the sparkles-lite folder>")
    elif subprocess.run([sys.executable, "-m", "pip", "install", "-q", source]).returncode:
        print(f"pip could not install {source} (see above). Offline?\n"
              "WORKSHOP.md, 'Without Wi-Fi', says what to bring")
    else:
        importlib.invalidate_caches()

# %% tags=["parameters"]
# Parameters: papermill overrides these (the tests pass SMOKE=True for a fast run).
SMOKE = False  # True: a smaller generated set for the statistics; same lessons
SEED = 0       # the lite dialogues and the generated set come from this seed

# %%
import json
import textwrap
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
from PIL import Image

from sparkles_lite.assets import sample_folder
from sparkles_lite.data.io import dialogue_to_dict, load_dialogues
from sparkles_lite.data.schema import IMAGE_BLOCK, insert_placeholders, placeholder_ids
from sparkles_lite.data.turns import dialogue_to_turns
from sparkles_lite.data.validate import dialogue_errors, validate_file
from sparkles_lite.lite import world
from sparkles_lite.lite import world
from sparkles_lite.lite.tasks import LiteGenerator

N_DIALOGUES = 150 if SMOKE else 600  # the generated lite set for the statistics
RUNS = Path("runs") / "04_sparkles_dialogue"
RUNS.mkdir(parents=True, exist_ok=True)
# The photos and their hand-written dialogues ship inside the package (sparkles_lite/samples/).
PHOTOS = sample_folder("photos")
print(f"photos: {len(list(PHOTOS.glob('*.jpg')))} JPEG files; generated lite dialogues: {N_DIALOGUES}")

# %% [markdown]
# ## 1 · The format
#
# A SparklesDialogue file is a JSON list; each item holds a `dialogue`: messages with a `role` (`user`
# or `assistant`, alternating, user first) and `content`. A **user** message also lists the `images` it
# brings in, each with an `image_id` (the file stem under the image folder) and the `caption` GPT-4 was
# given. In the text, an image is named `IMAGE#<id>`, and where it is *introduced* the name is followed
# by the placeholder block `<Img><ImageHere></Img>`: that is where the model will splice in the image's
# projected tokens (notebook 03). Later mentions (in answers, or in turn 2 about a turn-1 image) carry
# no placeholder: the image is already in the sequence.
#
# `sparkles_lite/samples/photos/dialogues.json` holds five hand-written dialogues in exactly this layout, about
# ten CC0 / public-domain photographs. The first one, as stored:

# %%
# NBVAL_CHECK_OUTPUT
raw = json.loads((PHOTOS / "dialogues.json").read_text())
print(f"{len(raw)} dialogues; top-level keys of the first: {sorted(raw[0])}")
for j, m in enumerate(raw[0]["dialogue"]):
    listed = f"  images: {[im['image_id'] for im in m['images']]}" if "images" in m else ""
    print(f"\n[{j}] {m['role']}{listed}")
    print(textwrap.fill(m["content"], 95, initial_indent="    ", subsequent_indent="    "))

# %% [markdown]
# The lite world writes dialogues in the same layout. Its ids are arbitrary numbers (as in the paper,
# where they are dataset image ids) and its captions are exact scene descriptions, so every answer can
# be checked. Turn 1 shows one or two images; turn 2 brings in one to three more and asks about new
# and earlier images together.
#
# Two images have an object **in common** when each holds an object of the same size, colour and shape
# ("a big blue square" in both; a small blue square does not match a big one). The generator asks for a
# shared object in three "in common" questions out of four, redrawing an image until there is one;
# otherwise the answer is "They have nothing in common." (`lite.tasks.COMMON_SHARED_SHARE`). The
# dialogue below is the first of this seed that asks what two images share and gets an object back.

# %%
# NBVAL_CHECK_OUTPUT
gen = LiteGenerator(SEED)
lite = gen.dialogue()
while "common" not in lite.task or any("nothing" in m.content for m in lite.messages if m.role == "assistant"):
    lite = gen.dialogue()
print("task:", lite.task)
print(json.dumps(dialogue_to_dict(lite.to_dialogue()), indent=1))


# %% [markdown]
# ## 2 · A dialogue, drawn
#
# The same data as a figure: the images on top, each under its name, then the turns. A user message
# lists the images it introduces in brackets.

# %%
def show_dialogue(dialogue, images, title, width=95):
    """Images (a dict id -> PIL image) across the top, the messages below, wrapped."""
    refs = dialogue.images
    blocks = []
    for m in dialogue.messages:
        intro = f"  [introduces {', '.join('IMAGE#' + r.image_id for r in m.images)}]" if m.images else ""
        text = m.content.replace(IMAGE_BLOCK, "")
        blocks.append((m.role, textwrap.fill(text, width) + intro))
    n_lines = sum(b.count("\n") + 2 for _, b in blocks)
    fig = plt.figure(figsize=(11, 2.6 + 0.19 * n_lines))
    top = 2.4 / (2.6 + 0.19 * n_lines)
    for k, ref in enumerate(refs):
        ax = fig.add_axes([0.02 + k * 0.245, 1 - top, 0.22, top * 0.85])
        ax.imshow(images[ref.image_id])
        ax.set_title(f"IMAGE#{ref.image_id}", fontsize=10)
        ax.axis("off")
    y = 1 - top - 0.02
    for role, text in blocks:
        colour = "#1f4e9c" if role == "user" else "#2b6e2b"
        fig.text(0.02, y, ("USER" if role == "user" else "ASSISTANT") + ":", fontsize=9, weight="bold",
                 color=colour, va="top")
        fig.text(0.13, y, text, fontsize=9, va="top", family="serif")
        y -= 0.19 * (text.count("\n") + 2) / (2.6 + 0.19 * n_lines)
    fig.suptitle(title, y=1.04, fontsize=12)
    plt.show()


photo_dialogues = load_dialogues(PHOTOS / "dialogues.json")
real = photo_dialogues[0]
photo_images = {r.image_id: Image.open(PHOTOS / f"{r.image_id}.jpg").convert("RGB") for r in real.images}
show_dialogue(real, photo_images, "A real-format SparklesDialogue item (hand-written, shipped photos)")

# %%
scene_images = {i: world.render(s, size=128) for i, s in lite.scenes.items()}
show_dialogue(lite.to_dialogue(), scene_images, f"A lite dialogue ({lite.task}): rendered scenes, checkable answers")

# %% [markdown]
# ## 3 · Statistics of a generated set
#
# The paper describes SparklesDialogue by how many images a dialogue uses, how they split over the two
# turns, and how long messages are. The same plots for a generated lite set (`N_DIALOGUES` above)
# and, as a reference, the five hand-written photo dialogues. Lite messages are much shorter than
# GPT-4's: the lite LM is tiny and every answer is a checkable fact; real SparklesDialogue answers run
# to a hundred words or more.

# %%
gen = LiteGenerator(SEED + 1)
lite_set = [gen.dialogue() for _ in range(N_DIALOGUES)]


def message_words(dialogues):
    """Words per message, by (role, turn); placeholders are not words."""
    out = {}
    for d in dialogues:
        for j, m in enumerate(d.messages):
            key = f"{'user' if m.role == 'user' else 'assistant'} {j // 2 + 1}"
            out.setdefault(key, []).append(len(m.content.replace(IMAGE_BLOCK, "").split()))
    return out


lite_dialogues = [ex.to_dialogue() for ex in lite_set]
images_per_dialogue = Counter(len(d.images) for d in lite_dialogues)
per_turn = Counter((len(d.messages[0].images), len(d.messages[2].images)) for d in lite_dialogues)
tasks = Counter()
for ex in lite_set:
    t1, t2 = ex.task.split(":")[1].split("+")
    tasks[(t1, 1)] += 1
    tasks[(t2, 2)] += 1
words_lite, words_photo = message_words(lite_dialogues), message_words(photo_dialogues)

fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
ax = axes[0]
ks = [2, 3, 4]
ax.bar(ks, [images_per_dialogue[k] / N_DIALOGUES for k in ks], color="#4c72b0", label="lite")
ax.plot(ks, [Counter(len(d.images) for d in photo_dialogues)[k] / len(photo_dialogues) for k in ks], "o",
        color="#dd8452", label="photos (5)");
ax.set(title="images per dialogue", xlabel="images", ylabel="fraction", xticks=ks, ylim=(0, 1))
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)  # below, off the bars
ax = axes[1]
pairs = sorted(per_turn)
ax.bar(range(len(pairs)), [per_turn[p] / N_DIALOGUES for p in pairs], color="#4c72b0")
ax.set(title="images introduced per turn", xticks=range(len(pairs)), xticklabels=[f"{a}+{b}" for a, b in pairs],
       xlabel="turn 1 + turn 2", ylabel="fraction")
ax = axes[2]
keys = ["user 1", "assistant 1", "user 2", "assistant 2"]
ax.boxplot([words_lite[k] for k in keys], tick_labels=[k.replace(" ", "\n") for k in keys], showfliers=False)
ax.plot(range(1, 5), [sum(words_photo[k]) / len(words_photo[k]) for k in keys], "o", color="#dd8452",
        label="photos: mean");
ax.set(title="words per message (lite boxes)", ylabel="words (log scale)", yscale="log", ylim=(3, 500))
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
ax = axes[3]
names = sorted({t for t, _ in tasks})
ax.barh([n + " (turn 1)" for n in names], [tasks[(n, 1)] for n in names], color="#4c72b0")
ax.barh([n + " (turn 2)" for n in names], [tasks[(n, 2)] for n in names], color="#55a868")
ax.set(title="question kind per turn", xlabel="dialogues")
fig.suptitle(f"{N_DIALOGUES} generated lite dialogues (seed {SEED + 1})", y=1.02)
plt.tight_layout()
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
# SMOKE_DEPENDENT
print(f"{N_DIALOGUES} lite dialogues, {sum(len(d.images) for d in lite_dialogues)} images")
print("images per dialogue:", {k: images_per_dialogue[k] for k in sorted(images_per_dialogue)})
for name, words in (("lite", words_lite), ("photos", words_photo)):
    print(f"mean words per message ({name}):",
          ", ".join(f"{k} {sum(words[k]) / len(words[k]):.1f}" for k in keys))

# %% [markdown]
# ## 4 · From dialogues to training examples
#
# The paper trains on one example per answer, each from the conversation before it: a two-turn dialogue
# gives two, and its per-turn files (`SparklesDialogue{CC,VG}_turn{1,2}_{N}img.json`) hold exactly these.
# Turn 2's example carries the whole turn-1 exchange, so its prompt holds all the images so far, in the
# order of their placeholders: the order in which their tokens will be spliced in. (This project trains
# a dialogue file as one sequence with both answers supervised, which learns the same answers in one
# pass, notebook 03; per-turn files and `train --split-turns` train these examples as the paper does.)
# `sparkles_lite.data.turns.dialogue_to_turns` does the split and refuses a dialogue whose placeholders
# and image lists disagree (one missing placeholder would shift every later image onto the wrong slot).

# %%
# NBVAL_CHECK_OUTPUT
for d, name in ((real, "photo dialogue 0"), (lite.to_dialogue(), "lite dialogue")):
    print(f"== {name}")
    for t in dialogue_to_turns(d):
        print(f"turn {t.meta['turn']}: {len(t.history)} message(s) of history, "
              f"images in splice order {[r.image_id for r in t.images]}")
        print(textwrap.shorten("  answer: " + t.answer, 100))

# %% [markdown]
# ## 5 · Validation: a broken file
#
# Before training on a file, check it: `python -m sparkles_lite data validate FILE --images DIR`, or
# `validate_file` in Python. It reports **every** problem with its location (file, dialogue, message)
# instead of stopping at the first exception. Below, the first photo dialogue is broken on purpose in
# six ways: a misspelt role, a placeholder removed, an image id that no message introduces, an image
# introduced twice, an image id with no file in the image folder, and a dialogue that ends without an
# answer.

# %%
# NBVAL_CHECK_OUTPUT
broken = json.loads(json.dumps(raw[:2]))                           # two dialogues, deep-copied
d0 = broken[0]["dialogue"]
d0[1]["role"] = "Assistant "                                      # 1: stray case and space
d0[2]["content"] = d0[2]["content"].replace(IMAGE_BLOCK, "", 1)   # 2: placeholder lost
d0[3]["content"] += " IMAGE#moon shows the same sky."             # 3: an image nobody introduced
d1 = broken[1]["dialogue"]
first = d1[0]["images"][0]["image_id"]
d1[2]["images"].append(dict(d1[0]["images"][0]))                  # 4: turn 1's image introduced again
d1[2]["content"] += f" And IMAGE#{first}{IMAGE_BLOCK} again?"
renamed = json.dumps(raw[2]).replace("IMAGE#camera", "IMAGE#camera_v2").replace('"camera"', '"camera_v2"')
broken.append(json.loads(renamed))                                # 5: an id with no image file
broken.append({"dialogue": raw[3]["dialogue"][:3]})               # 6: ends without an answer
path = RUNS / "broken.json"
path.write_text(json.dumps(broken, indent=1))

report = validate_file(path, image_root=PHOTOS)
print(f"ok: {report.ok}; {len(report.errors)} problems in {report.n_items} dialogues")
for e in report.errors:  # (the photo folder's absolute path shortened to <photos>)
    print(textwrap.fill(str(e).replace(str(PHOTOS), "<photos>"), 110, subsequent_indent="    "))
print("\nthe original file:", validate_file(PHOTOS / "dialogues.json", image_root=PHOTOS).summary())

# %% [markdown]
# ## 6 · Generating dialogues with an LLM, and its pitfalls
#
# The paper prompted GPT-4 with the captions of a few candidate images and a demonstration dialogue, and
# asked for a new two-turn dialogue over some of them. `sparkles_lite.data.llm_generator` does the same
# against any OpenAI-compatible endpoint. Three lessons from doing it:
#
# **The LLM does not write placeholders reliably, so we insert them.** The generator asks for plain
# `IMAGE#<id>` mentions plus a list of the images each user message introduces, then puts the
# placeholder after the *first whole-id mention* itself. Whole-id matters: with ids `14` and `1417` in
# one message, a naive `str.replace` also rewrites the inside of `IMAGE#1417`.

# %%
# NBVAL_CHECK_OUTPUT
text = "Is the dog in IMAGE#1417 the same breed as the one in IMAGE#14?"
ids = ["14", "1417"]

naive = text
for i in ids:  # the tempting one-liner
    naive = naive.replace(f"IMAGE#{i}", f"IMAGE#{i}{IMAGE_BLOCK}")
print("naive str.replace:  ", naive)
print("  placeholders found, in order:", placeholder_ids(naive))
bad = {"dialogue": [{"role": "user", "content": naive, "images": [{"image_id": i} for i in ids]},
                    {"role": "assistant", "content": "Yes."}]}
for e in dialogue_errors(bad):
    print("  validator:", e.reason)

fixed = insert_placeholders(text, ids)
print("insert_placeholders:", fixed)
print("  placeholders found, in order:", placeholder_ids(fixed))
print("  validator errors:", dialogue_errors({**bad, "dialogue": [{**bad["dialogue"][0], "content": fixed,
      "images": [{"image_id": i} for i in placeholder_ids(fixed)]}, bad["dialogue"][1]]}))

# %% [markdown]
# Note the second, quieter bug in the naive version: image *order*. `images` listed `14, 1417`, but the
# placeholders appear as `1417, 14`. Tokens are spliced in placeholder order, so the list must follow the
# text; `insert_placeholders` and the generator order the list by placeholder position.
#
# **Every reply is checked, and many are rejected.** The client library barely validates replies (an
# empty `{}` parses), LLMs wrap JSON in prose and code fences, invent image ids, use too few images or
# stop mid-answer. The generator repairs what is safe (code fences, role case and spaces, placeholders,
# image order) and otherwise rejects the reply with a recorded reason; rate limits (HTTP 429) and server
# errors are retried a bounded number of times, with backoff, by the `openai` client itself.
#
# **Runs are resumable.** Job *i* always sees the same candidates, accepted dialogues are appended to a
# JSONL file one line at a time, and a rerun skips what is done: a long GPT-4 run that dies loses nothing.
#
# Below, the generator talks to `FakeLLMServer`, an OpenAI-compatible server on 127.0.0.1 that answers
# from a script (no network, no model). It stands in for GPT-4 with six kinds of reply: a rate limit,
# a good reply wrapped in prose and a code fence, a refusal, an empty body, an invented image id, and a
# dialogue over a single image. The candidate pool is the photos' ids and captions; the first photo
# dialogue is the demonstration.

# %%
# NBVAL_CHECK_OUTPUT
from sparkles_lite.data.fake_llm_server import FakeLLMServer, template_reply
from sparkles_lite.data.llm_generator import GeneratorConfig, generate_dialogues


def fake_gpt4(request):
    """Scripted stand-in: a different kind of reply for each request (after a scripted 429)."""
    n = len(server.requests)  # this request included
    good = json.loads(template_reply(request))  # a valid dialogue over the prompt's candidates
    if n == 3:
        return "I'm sorry, I can't write that conversation."
    if n == 4:
        return {}  # HTTP 200 with an empty JSON body
    if n == 5:
        good["dialogue"][2]["image_ids"] = ["moon"]
        good["dialogue"][2]["content"] = "How does IMAGE#moon change your answer?"
    if n == 6:
        good["dialogue"][0]["image_ids"] = good["dialogue"][0]["image_ids"][:1]
        good["dialogue"][2]["image_ids"] = []
        first = good["dialogue"][0]["image_ids"][0]
        good["dialogue"][0]["content"] = f"What stands out in IMAGE#{first}?"
        good["dialogue"][2]["content"] = f"And what about the colours in IMAGE#{first}?"
        good["dialogue"][3]["content"] = f"The colours of IMAGE#{first} are muted."
    return "Here is the conversation you asked for:\n```json\n" + json.dumps(good, indent=1) + "\n```"


pool = [r for d in photo_dialogues for r in d.images]
demo = photo_dialogues[0]
out, rejects = RUNS / "generated.jsonl", RUNS / "rejected.jsonl"
for p in (out, rejects):
    p.unlink(missing_ok=True)
with FakeLLMServer([429], default=fake_gpt4) as server:
    config = GeneratorConfig(base_url=server.base_url, model="fake-gpt-4")
    summary = generate_dialogues(pool, demo, out, n_dialogues=6, seed=SEED, config=config, rejects_path=rejects)
    print(summary)
    print(f"requests the server saw: {len(server.requests)} (one was answered 429 and retried)")
    again = generate_dialogues(pool, demo, out, n_dialogues=6, seed=SEED, config=config, rejects_path=rejects)
    print("rerun:", again)

print("\nrejected replies:")
for row in map(json.loads, rejects.read_text().splitlines()):
    print(f"  {row['generation_id']}: {textwrap.shorten(row['reason'], 95)}")

# %% [markdown]
# The rerun skipped the two accepted jobs and asked again only for the four rejected ones; this time the
# stand-in answered them well, as a real LLM sampled at temperature 0.7 usually does on a second try. What one prompt looks
# like (job 0's, as the server received it), and the dialogue accepted from the reply to it, which came
# wrapped in prose and a code fence, without placeholders:

# %%
# NBVAL_CHECK_OUTPUT
prompt = server.requests[0]["messages"][0]["content"]  # job 0's prompt (built by `build_prompt`)
head, rest = prompt.split("```json", 1)
print(head + "```json\n[... the demonstration dialogue in the reply format ...]\n```\n\n"
      + rest[rest.index("These are the images"):])
accepted = load_dialogues(out)
print(f"\n{len(accepted)} accepted; the first, repaired (placeholders inserted) and validated:")
print(json.dumps(dialogue_to_dict(accepted[0]), indent=1)[:1500])
print("\nvalidate_file:", validate_file(out, image_root=PHOTOS).summary())

# %% [markdown]
# ### Pointing the generator at a real LLM
#
# Anything that speaks the OpenAI chat-completions API works: OpenAI itself, Azure OpenAI, or a local
# server (vLLM, llama.cpp's `llama-server`, Ollama's `/v1`). Put the images' ids and captions in a file in
# the format above (the first dialogue is the demonstration), then:
#
# ```bash
# export OPENAI_API_KEY=...            # a local server accepts any key
# python -m sparkles_lite data llm-generate --pool my_captions.json --out dialogues.jsonl \
#     --rejects rejected.jsonl --n-dialogues 500 --model gpt-4o --base-url https://api.openai.com/v1
# python -m sparkles_lite data validate dialogues.jsonl --images my_images/
# ```
#
# or in Python: `generate_dialogues(pool, demo, "dialogues.jsonl", n_dialogues=500,
# config=GeneratorConfig(base_url="http://localhost:8000/v1", model="Qwen/Qwen2.5-7B-Instruct"))`.

# %% [markdown]
# ## 7 · Looking at a dataset
#
# The official repository renders its dialogue files as HTML pages and plots their statistics
# (`visualize_data_in_html.py`, `data_statistics.py`). The same for any file in any layout here:
#
# ```bash
# python -m sparkles_lite data stats FILE [--plot stats.png]    # counts, words per message, question openings
# python -m sparkles_lite data show FILE --out page.html        # each dialogue with its images inline
# ```
#
# `--images` defaults to `images/` beside the file's `annotations/` folder, as the download lays it out.
# Below, the shipped lite sample and the photo dialogues; the pages are written under `runs/` (open them
# in a browser), and the first lite dialogue is shown here.

# %%
# NBVAL_CHECK_OUTPUT
from IPython.display import HTML, display

from sparkles_lite.data.browse import dataset_page, write_dataset_page
from sparkles_lite.data.stats import dataset_stats, format_stats, plot_stats

LITE_SAMPLE = sample_folder("lite") / "sparkles_dialogue.json"
for path, images in ((LITE_SAMPLE, LITE_SAMPLE.parent / "images"), (PHOTOS / "dialogues.json", PHOTOS)):
    print(format_stats(dataset_stats(path), top=5).replace(str(PHOTOS.parent), "samples"))
    page = write_dataset_page(path, RUNS / f"{path.parent.name}.html", images, first=10)
    print(f"-> {page.name}: the first 10 dialogues with their images\n")

# %%
plot_stats(dataset_stats(PHOTOS / "dialogues.json"))
plt.show()
display(HTML(dataset_page(LITE_SAMPLE, LITE_SAMPLE.parent / "images", first=1, summary=False)))
# Start with a handful of dialogues, read the rejects file, and only then scale up: the cost of a bad
# prompt grows with every call. Interrupting and rerunning the same command resumes where it stopped.
#
# **Exercise.** Change `fake_gpt4` so the reply lists the images of turn 1 in the opposite order of their
# mentions. Is it repaired or rejected, and why is that the safe choice?

# %% [markdown]
# ## Questions to think about
#
# 1. GPT-4 wrote SparklesDialogue from captions, never from pixels. What kinds of error can that put
#    into the answers, and what does a model trained on them learn?
# 2. Why does the generator insert the placeholders itself instead of asking the LLM to write them?
# 3. A two-turn dialogue gives two training examples. What does the turn-2 example contain, and why
#    does the order of its image list matter?
# 4. Why does the validator report every problem of a file instead of stopping at the first?
#
# (Answers for instructors: `exercises/INSTRUCTOR_NOTES.md`.)
