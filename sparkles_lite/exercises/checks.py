"""One `check_<name>(your_function)` per exercise, grouped by lesson (exercises/NN_*.ipynb).

Each check runs your function on hidden cases (edge cases included), compares with the package's
own implementation (the reference) and prints one line (it returns nothing: the line is the answer):

    ✅ check_patchify: all 7 cases pass
    ❌ check_patchify: for input ... expected ..., got ... (what this case is about)
    ⬜ check_patchify: not yet solved: your function raised NotImplementedError

The references are the package functions the lessons build (named in each check's docstring), so a
passing solution behaves exactly like the code the notebooks run. Heavy imports (torch,
transformers) happen inside the checks that need them.
"""

from __future__ import annotations

import math

from sparkles_lite.eval.stats import t95  # a helper the exercises may use (07: mean_ci)
from sparkles_lite.exercises._runner import Case, run_check, same

__all__ = [
    # 00 tour
    "check_describe", "check_count_objects",
    # 01 visual encoder
    "check_patchify", "check_attention_weights",
    # 02 projection
    "check_projection_params", "check_nearest_words",
    # 03 interleaved tokens
    "check_insert_placeholders", "check_render_conversation", "check_splice",
    # 04 SparklesDialogue
    "check_placeholder_errors", "check_split_turns",
    # 05 fine-tune
    "check_cosine_lr", "check_masked_loss",
    # 06 chat
    "check_resolve_images", "check_cut_answer",
    # 07 SparklesEval
    "check_parse_ratings", "check_mean_ci",
    # 08 BISON & NLVR2
    "check_extract_bison", "check_extract_nlvr2", "check_wilson_ci",
    # 09 attention across images
    "check_attention_per_image", "check_image_attention_by_layer",
    # helpers the exercises may use
    "t95", "example_scenes",
]


def _scene(*objects: tuple[str, str, str, str]):
    """_scene(("big", "red", "circle", "left"), ...) -> world.Scene."""
    from sparkles_lite.lite import world

    return world.Scene(tuple(world.SceneObject(world.Thing(s, c, sh), p) for s, c, sh, p in objects))


def example_scenes(seed: int = 0, n: int = 4):
    """A few lite scenes to try your functions on (the same stream as world.SceneBank)."""
    from sparkles_lite.lite import world

    bank = world.SceneBank(seed)
    return [bank.next() for _ in range(n)]


def _scene_label(scene) -> str:
    return "Scene(" + ", ".join(f"{o.thing.size} {o.thing.colour} {o.thing.shape} @ {o.position}"
                                for o in scene.objects) + ")"


# ================================================================ 00 tour

def check_describe(describe) -> None:
    """Reference: `world.describe` (identical objects grouped, in order of first appearance)."""
    from sparkles_lite.lite import world

    scenes = [
        (_scene(("big", "red", "circle", "left")), "one object"),
        (_scene(("small", "blue", "square", "left"), ("big", "yellow", "triangle", "right")), "two objects"),
        (_scene(("big", "green", "diamond", "right"), ("small", "red", "circle", "left"),
                ("small", "red", "square", "centre")), "three objects: described left to right"),
        (_scene(("small", "green", "triangle", "left"), ("big", "blue", "diamond", "centre"),
                ("small", "green", "triangle", "right")),
         "identical objects are grouped ('two ... triangles') at their first appearance"),
        (_scene(("big", "yellow", "square", "left"), ("big", "yellow", "square", "centre"),
                ("big", "yellow", "square", "right")), "three identical objects"),
        (_scene(("big", "red", "circle", "left"), ("small", "red", "circle", "right")),
         "size tells objects apart: these are not identical"),
    ] + [(s, None) for s in example_scenes(seed=7, n=6)]
    cases = [Case((s,), show=_scene_label(s), hint=h) for s, h in scenes]
    return run_check("check_describe", describe, cases, world.describe)


def _count_objects(scenes, shape=None, colour=None, size=None) -> int:
    return sum(s.count(shape=shape, colour=colour, size=size) for s in scenes)


def check_count_objects(count_objects) -> None:
    """Reference: `Scene.count` summed over scenes."""
    scenes = example_scenes(seed=3, n=8) + [
        _scene(("big", "red", "circle", "left"), ("small", "red", "circle", "centre")),
        _scene(("small", "blue", "square", "right")),
    ]
    label = f"{len(scenes)} scenes"
    cases = [
        Case((scenes,), show=f"{label}, no filter", hint="no filter: every object counts"),
        Case((scenes,), {"shape": "circle"}, show=f"{label}, shape='circle'"),
        Case((scenes,), {"colour": "red", "shape": "circle"}, show=f"{label}, colour='red', shape='circle'",
             hint="every attribute given must match"),
        Case((scenes,), {"size": "small"}, show=f"{label}, size='small'"),
        Case((scenes,), {"size": "big", "colour": "blue", "shape": "square"},
             show=f"{label}, size='big', colour='blue', shape='square'"),
        Case((scenes[:1],), {"colour": "green"}, show="1 scene, colour='green'"),
        Case(([],), show="no scenes at all", hint="nothing to count: 0"),
    ]
    return run_check("check_count_objects", count_objects, cases, _count_objects)


# ================================================================ 01 visual encoder

def _patchify(images, patch: int):
    """[B, C, H, W] -> [B, (H/p)(W/p), C*p*p] by torch's own `unfold`: patches row by row, each flattened
    as (channel, row, col), exactly the order Conv2d(kernel=stride=p) uses, so
    patchify(x) @ W.view(D, -1).T + b == conv(x). A size the patches do not tile is an error."""
    import torch.nn.functional as F

    h, w = images.shape[-2:]
    if h % patch or w % patch:
        raise ValueError(f"image size {h}x{w} is not divisible by patch size {patch}")
    return F.unfold(images, kernel_size=patch, stride=patch).transpose(1, 2)


def check_patchify(patchify) -> None:
    """Reference: the patch order of `LiteViT.patch_embed` (a Conv2d with kernel = stride = patch)."""
    import torch

    def counting(*shape):  # distinct values: any order mistake shows
        return torch.arange(math.prod(shape), dtype=torch.float32).reshape(shape)

    g = torch.Generator().manual_seed(0)
    cases = [
        Case((counting(1, 3, 4, 4), 2), show="images [1, 3, 4, 4] (values 0..47), patch=2",
             hint="patches row by row; inside a patch: channel, then row, then column"),
        Case((counting(2, 3, 8, 8), 4), show="images [2, 3, 8, 8], patch=4", hint="a batch of two"),
        Case((counting(1, 3, 4, 8), 2), show="images [1, 3, 4, 8] (not square), patch=2",
             hint="height and width may differ"),
        Case((counting(1, 1, 6, 6), 3), show="images [1, 1, 6, 6] (one channel), patch=3"),
        Case((counting(2, 3, 4, 4), 1), show="images [2, 3, 4, 4], patch=1", hint="patch 1: every pixel a patch"),
        Case((counting(1, 3, 8, 8), 8), show="images [1, 3, 8, 8], patch=8", hint="one patch: the whole image"),
        Case((torch.randn(2, 3, 64, 64, generator=g), 8), show="images [2, 3, 64, 64] (random), patch=8",
             hint="the lite ViT's size: 64 patches of 3*8*8 = 192 numbers"),
        Case((counting(1, 3, 10, 10), 4), show="images [1, 3, 10, 10], patch=4",
             hint="10 is not divisible by 4: raise ValueError"),
    ]
    return run_check("check_patchify", patchify, cases, _patchify)


def check_attention_weights(attention_weights) -> None:
    """Reference: `sparkles_lite.model.vision.attention_weights`, the map `Block` keeps (`keep_attention=True`)."""
    import torch

    from sparkles_lite.model.vision import attention_weights as reference

    g = torch.Generator().manual_seed(1)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    cases = [
        Case((r(4, 8), r(4, 8)), show="q [4, 8], k [4, 8] (random)"),
        Case((r(3, 16), r(5, 16)), show="q [3, 16], k [5, 16]", hint="3 queries over 5 keys: the result is [3, 5]"),
        Case((r(2, 1), r(6, 1)), show="q [2, 1], k [6, 1]", hint="d = 1: divide by sqrt(1)"),
        Case((torch.ones(2, 4), r(3, 4)), show="q = ones [2, 4], k [3, 4]", hint="scale by 1/sqrt(d) with d = 4"),
        Case((r(3, 4) * 300, r(3, 4) * 300), show="q, k [3, 4] with entries in the hundreds",
             hint="large scores: exp overflows unless you subtract each row's max first (torch.softmax does)"),
    ]
    return run_check("check_attention_weights", attention_weights, cases, reference)


# ================================================================ 02 projection

def _projection_params(vision_dim: int, lm_dim: int, hidden: int | None = None) -> int:
    """Parameters of `build_projection`: kind 'linear', or 'mlp' with `hidden` units (built on the meta
    device: counted, never allocated)."""
    import torch

    from sparkles_lite.config import ProjectionConfig
    from sparkles_lite.model.projection import build_projection

    cfg = ProjectionConfig(kind="linear") if hidden is None else ProjectionConfig(kind="mlp", hidden=hidden)
    with torch.device("meta"):
        return sum(p.numel() for p in build_projection(cfg, vision_dim, lm_dim).parameters())


def check_projection_params(projection_params) -> None:
    """Reference: parameter counts of `sparkles_lite.model.projection.build_projection`."""
    cases = [
        Case((128, 256), hint="a Linear layer has a weight and a bias"),
        Case((768, 4096), hint="the paper: Q-Former width 768 -> Vicuna-7B width 4096"),
        Case((1, 1), hint="smallest case: one weight and one bias"),
        Case((4096, 768), hint="the other direction has the bias of the other size"),
        Case((128, 256), {"hidden": 512}, hint="MLP: Linear(128, 512), GELU (no parameters), Linear(512, 256)"),
        Case((1024, 896), {"hidden": 896}, hint="LLaVA-1.5-style MLP projection"),
    ]
    return run_check("check_projection_params", projection_params, cases, _projection_params)


def _nearest_words(vector, embeddings, vocab, k: int = 3):
    import torch.nn.functional as F

    sims = F.cosine_similarity(embeddings, vector.unsqueeze(0), dim=-1)
    return [vocab[i] for i in sims.argsort(descending=True)[:k].tolist()]


def check_nearest_words(nearest_words) -> None:
    """Reference: the words whose embeddings have the highest cosine similarity, most similar first."""
    import torch

    g = torch.Generator().manual_seed(2)
    vocab = [f"w{i}" for i in range(12)]
    emb = torch.randn(12, 6, generator=g)
    # A long vector pointing a little off: the biggest dot product, not the biggest cosine.
    trap = torch.tensor([[1.0, 0.0], [20.0, 12.0], [0.9, 0.1], [0.0, 1.0]])
    words = ["twin", "loud", "near", "far"]
    cases = [
        Case((emb[0] + 0.01, emb, vocab, 3), show="vector close to row 0, 12 random embeddings, k=3"),
        Case((torch.tensor([1.0, 0.0]), trap, words, 2),
             show="vector [1, 0], embeddings [[1, 0], [20, 12], [0.9, 0.1], [0, 1]], k=2",
             hint="cosine, not dot product: the long vector 'loud' has the largest dot product but points away"),
        Case((torch.randn(6, generator=g), emb, vocab, 1), show="random vector, k=1", hint="k = 1: a list of one word"),
        Case((torch.randn(6, generator=g), emb, vocab, 12), show="random vector, k=12 (every word)",
             hint="all words, sorted from most to least similar"),
        Case((-emb[3], emb, vocab, 3), show="minus row 3, k=3"),
    ]
    return run_check("check_nearest_words", nearest_words, cases, _nearest_words)


# ================================================================ 03 interleaved tokens

def check_insert_placeholders(insert_placeholders) -> None:
    """Reference: `sparkles_lite.data.schema.insert_placeholders`."""
    from sparkles_lite.data import schema

    block = schema.IMAGE_BLOCK
    cases = [
        Case(("What is in IMAGE#1 that is missing from IMAGE#2?", ["1", "2"]), hint="the basic case"),
        Case(("IMAGE#1417 is bright; IMAGE#14 is dark.", ["14", "1417"]),
             hint="IMAGE#14 must not match inside IMAGE#1417: match the whole id"),
        Case(("IMAGE#14 and IMAGE#1417", ["1417", "14"]), hint="whole ids, in either order"),
        Case(("Compare IMAGE#3 with the sky. Is IMAGE#3 darker?", ["3"]),
             hint="only the first mention gets a placeholder"),
        Case((f"IMAGE#2{block} shows a cat. Is IMAGE#2 cute?", ["2"]),
             hint="already has its placeholder: leave the text unchanged"),
        Case(("IMAGE#a_1 versus IMAGE#a_10", ["a_10", "a_1"]), hint="ids may hold letters, digits, '_' and '-'"),
        Case(("IMAGE#x-1 is left of IMAGE#x.", ["x", "x-1"]),
             hint="'-' is part of an id: IMAGE#x must not match inside IMAGE#x-1 (\\b stops at '-')"),
        Case(("Look at IMAGE#7.", ["7"]), hint="punctuation ends an id"),
        Case(("Hello there", []), hint="no images: unchanged"),
        Case(("Only IMAGE#1 here.", ["1", "2"]), hint="IMAGE#2 is never mentioned: raise ValueError"),
        Case(("IMAGE#12 only", ["1"]), hint="IMAGE#12 is not a mention of IMAGE#1: raise ValueError"),
    ]
    return run_check("check_insert_placeholders", insert_placeholders, cases, schema.insert_placeholders)


def _render_conversation(messages):
    from sparkles_lite.model.assembly import render_conversation

    text, supervised, _ = render_conversation(messages, add_generation_prompt=False, bos=None)
    return text, supervised


def _msgs(*pairs):
    from sparkles_lite.data.schema import Message

    return [Message(role, content) for role, content in pairs]


def _show_msgs(messages) -> str:
    return "[" + ", ".join(f"{m.role}: {m.content!r}" for m in messages) + "]"


def check_render_conversation(render_conversation) -> None:
    """Reference: `sparkles_lite.model.assembly.render_conversation` (no BOS, no generation prompt)."""
    convs = [
        (_msgs(("user", "Hi"), ("assistant", "Hello")), "one turn: only 'Hello###' is supervised"),
        (_msgs(("user", "What is in IMAGE#1?"), ("assistant", "A red circle."),
               ("user", "And IMAGE#2?"), ("assistant", "Two blue squares.")),
         "every answer is supervised, in every turn"),
        (_msgs(("user", "Describe IMAGE#1."),), "no answer yet: nothing supervised"),
        (_msgs(("user", "Q1"), ("assistant", "A1"), ("user", "Q2")), "the last message is a question"),
        (_msgs(("user", "Say nothing"), ("assistant", "")), "an empty answer: only its '###' is supervised"),
        (_msgs(("system", "Be brief"), ("user", "Hi")), "unknown role: raise ValueError"),
    ]
    cases = [Case((m,), show=_show_msgs(m), hint=h) for m, h in convs]
    return run_check("check_render_conversation", render_conversation, cases, _render_conversation)


def check_splice(splice) -> None:
    """Reference: `sparkles_lite.model.sparkles_chat.splice`, what `SparklesChat.embed` does after the
    embedding lookup (the masked assignment that splices image tokens in)."""
    import torch

    from sparkles_lite.model.sparkles_chat import splice as reference

    g = torch.Generator().manual_seed(3)

    def mask(*rows):
        return torch.tensor([[c == "I" for c in row] for row in rows])

    d = 4
    m1 = mask("TTIITT")
    m2 = mask("TTIITT", "IITTTT")
    m3 = mask("TIIIIT", "TTTTTT")
    m4 = mask("TTTT")
    cases = [
        Case((torch.zeros(1, 6, d), m1, torch.randn(1, 2, d, generator=g)),
             show="embeds [1, 6, 4], mask TTIITT, one image of K=2 tokens"),
        Case((torch.randn(2, 6, d, generator=g), m2, torch.randn(2, 2, d, generator=g)),
             show="embeds [2, 6, 4], mask rows TTIITT / IITTTT, two images of K=2",
             hint="images fill the mask in row-major order: image 0 in row 0, image 1 in row 1"),
        Case((torch.randn(2, 6, d, generator=g), m3, torch.randn(2, 2, d, generator=g)),
             show="embeds [2, 6, 4], mask rows TIIIIT / TTTTTT, two images of K=2",
             hint="two images in the same row, none in the other"),
        Case((torch.randn(1, 4, d, generator=g), m4, torch.zeros(0, 2, d)),
             show="embeds [1, 4, 4], mask TTTT, no images", hint="no images: the text embeddings unchanged"),
        Case((torch.randn(1, 6, d, generator=g), m1, torch.randn(2, 2, d, generator=g)),
             show="embeds [1, 6, 4], mask TTIITT (2 slots), two images of K=2 (4 tokens)",
             hint="slots and tokens disagree: raise ValueError, never guess"),
    ]

    def gradients_flow(candidate) -> str | None:
        tokens = torch.randn(1, 2, d, requires_grad=True)
        out = candidate(torch.zeros(1, 6, d), m1, tokens)
        if not isinstance(out, torch.Tensor) or not out.requires_grad:
            return ("gradients must flow back to image_tokens (the projection trains through this splice): "
                    "the result does not require grad; avoid .detach(), .data and numpy")
        out.sum().backward()
        if tokens.grad is None or not torch.allclose(tokens.grad, torch.ones_like(tokens)):
            return "gradients must flow back to image_tokens: d(sum of output)/d(image_tokens) should be all ones"
        return None

    return run_check("check_splice", splice, cases, reference, extra=gradients_flow)


# ================================================================ 04 SparklesDialogue

def _placeholder_errors(messages) -> list[int]:
    from sparkles_lite.model.assembly import AssemblyError, check_images

    bad = []
    for i, m in enumerate(messages):
        try:
            check_images([m])
        except AssemblyError:
            bad.append(i)
    return bad


def _show_imsgs(messages) -> str:
    return "[" + ", ".join(f"{m.role}: {m.content!r} images={[r.image_id for r in m.images]}"
                           for m in messages) + "]"


def check_placeholder_errors(placeholder_errors) -> None:
    """Reference: `sparkles_lite.model.assembly.check_images`, message by message."""
    from sparkles_lite.data.schema import IMAGE_BLOCK as B
    from sparkles_lite.data.schema import ImageRef, Message

    def u(content, *ids):
        return Message("user", content, [ImageRef(i) for i in ids])

    def a(content, *ids):
        return Message("assistant", content, [ImageRef(i) for i in ids])

    convs = [
        ([u(f"What is in IMAGE#1{B}?", "1"), a("A red circle.")], "all fine: no problems, []"),
        ([u(f"Compare IMAGE#1{B} and IMAGE#2{B}.", "1", "2"), a("IMAGE#1 is brighter."),
          u(f"And IMAGE#3{B}?", "3"), a("It is dark.")], "image ids in an answer's text are fine"),
        ([u("What is in IMAGE#1?", "1"), a("A circle.")], "an image without its placeholder"),
        ([u(f"IMAGE#1{B} and IMAGE#2{B}", "1"), a("ok")], "two placeholders, one image"),
        ([u(f"IMAGE#1{B}", "1"), a(f"Here: IMAGE#1{B}")], "an answer must never hold a placeholder"),
        ([u(f"IMAGE#1{B}", "1"), a(f"Here: IMAGE#2{B}", "2")],
         "an answer must never hold a placeholder, even one with its image"),
        ([u("hi", "1"), a("hello"), u(f"IMAGE#2{B}"), a("fine")], "two bad messages: report both, in order"),
        ([], "no messages: no problems"),
    ]
    cases = [Case((m,), show=_show_imsgs(m), hint=h) for m, h in convs]
    return run_check("check_placeholder_errors", placeholder_errors, cases, _placeholder_errors,
                     compare=lambda e, g: isinstance(g, (list, tuple)) and same(e, list(g)))


def _split_turns(messages):
    from sparkles_lite.data.schema import Dialogue
    from sparkles_lite.data.turns import dialogue_to_turns

    return [(t.history, t.answer) for t in dialogue_to_turns(Dialogue(messages))]


def check_split_turns(split_turns) -> None:
    """Reference: `sparkles_lite.data.turns.dialogue_to_turns` as (history, answer) pairs."""
    convs = [
        (_msgs(("user", "Q1"), ("assistant", "A1")), "one turn: [([Q1], 'A1')]"),
        (_msgs(("user", "Q1"), ("assistant", "A1"), ("user", "Q2"), ("assistant", "A2")),
         "turn 2's history holds turn 1's question and answer, then Q2"),
        (_msgs(("user", "Q1"), ("assistant", "A1"), ("user", "Q2"), ("assistant", "A2"),
               ("user", "Q3"), ("assistant", "A3")), "three turns"),
        (_msgs(("user", "Q1"), ("assistant", "A1"), ("user", "Q2")), "odd number of messages: raise ValueError"),
        (_msgs(("assistant", "A0"), ("user", "Q1")), "must start with the user: raise ValueError"),
        (_msgs(("user", "Q1"), ("user", "Q2")), "roles must alternate: raise ValueError"),
        ([], "no messages: raise ValueError"),
    ]
    cases = [Case((m,), show=_show_msgs(m), hint=h) for m, h in convs]
    return run_check("check_split_turns", split_turns, cases, _split_turns)


# ================================================================ 05 fine-tune

def check_cosine_lr(cosine_lr) -> None:
    """Reference: `sparkles_lite.train.common.cosine_lr`."""
    from sparkles_lite.train.common import cosine_lr as reference

    points = [(0.0, 1.0, 0.05, "step 0 of the warm-up: base * 0.001 / warmup, not 0"),
              (0.025, 1.0, 0.05, "half way through the warm-up"),
              (0.05, 1.0, 0.05, "warm-up just ended: the peak, base"),
              (0.525, 1.0, 0.05, "half way through the decay: (base + 0.1 base) / 2"),
              (0.3, 3e-4, 0.05, None),
              (0.9, 3e-4, 0.1, "another warm-up fraction"),
              (1.0, 2.0, 0.05, "the end: 10% of base"),
              (1.3, 2.0, 0.05, "past the end: stays at 10% of base"),
              (0.5, 1.0, 0.0, "no warm-up at all")]
    cases = [Case((p, b), {"warmup": w}, hint=h) for p, b, w, h in points]
    return run_check("check_cosine_lr", cosine_lr, cases, reference)


def check_masked_loss(masked_loss) -> None:
    """Reference: `sparkles_lite.model.sparkles_chat.masked_loss`, the causal-LM loss (shift by one, -100
    ignored, mean over every supervised token) that `SparklesChat.loss` computes."""
    import torch

    from sparkles_lite.model.sparkles_chat import masked_loss as reference

    g = torch.Generator().manual_seed(5)
    X = -100
    lab1 = torch.tensor([[X, X, 3, 1, 4]])
    lab2 = torch.tensor([[X, X, X, 2, 0, 1], [X, 4, 4, 4, 4, 4]])
    lab3 = torch.tensor([[X, X, X, X], [X, X, 1, 2]])
    cases = [
        Case((torch.randn(1, 5, 6, generator=g), lab1), show="logits [1, 5, 6], labels [[-100, -100, 3, 1, 4]]",
             hint="logits at position t predict the label at t + 1 (shift by one), -100 is ignored"),
        Case((torch.randn(2, 6, 7, generator=g), lab2), show="logits [2, 6, 7], labels with 3 and 5 supervised tokens",
             hint="the mean over all supervised tokens of the batch, not a mean of per-row means"),
        Case((torch.randn(2, 4, 5, generator=g), lab3), show="logits [2, 4, 5], row 0 fully ignored",
             hint="a row with no supervised tokens contributes nothing"),
        Case((torch.randn(1, 5, 6, generator=g) * 200, lab1), show="logits [1, 5, 6] with entries in the hundreds",
             hint="use log_softmax (or F.cross_entropy): log(softmax(x)) underflows to -inf"),
    ]

    def scalar_tensor(expected, got) -> bool:
        return isinstance(got, torch.Tensor) and got.dim() == 0 and same(expected, got.float())

    return run_check("check_masked_loss", masked_loss, cases, reference, compare=scalar_tensor)


# ================================================================ 06 chat

def _resolve_images(text: str, uploaded: dict, introduced=()):
    """`chat.place_mentioned` (what `Chat.ask` does with the images a question names), with the uploaded
    images of the newly placed ids in placeholder order."""
    from sparkles_lite.chat import place_mentioned

    text, ids = place_mentioned(text, uploaded, introduced)
    return text, [uploaded[i] for i in ids]


def check_resolve_images(resolve_images) -> None:
    """Reference: `sparkles_lite.chat.place_mentioned`: placeholders via `schema.insert_placeholders`,
    images in placeholder order."""
    up = {"1": "<photo 1>", "2": "<photo 2>", "3": "<photo 3>", "10": "<photo 10>"}
    cases = [
        Case(("What is in IMAGE#1?", up), hint="one image"),
        Case(("Is IMAGE#2 brighter than IMAGE#1?", up),
             hint="images in the order the text mentions them (their tokens are spliced in that order)"),
        Case(("IMAGE#10 and IMAGE#1", up), hint="IMAGE#1 and IMAGE#10 are different images"),
        Case(("IMAGE#3 is odd. Why is IMAGE#3 odd?", up), hint="a second mention gets no second placeholder or image"),
        Case(("What about IMAGE#4?", up), hint="IMAGE#4 was never uploaded: raise ValueError"),
        Case(("And IMAGE#1 versus IMAGE#3?", up), {"introduced": {"1", "2"}},
             hint="IMAGE#1 was introduced in an earlier turn: only IMAGE#3 is new"),
        Case(("Is IMAGE#1 still there?", up), {"introduced": {"1"}}, hint="nothing new: text unchanged, no images"),
        Case(("Hello!", up), hint="no image mentioned: text unchanged, no images"),
        Case(("Compare IMAGE#1 and IMAGE#2", {"1": "<photo 1>"}), hint="IMAGE#2 is unknown: raise ValueError"),
    ]
    return run_check("check_resolve_images", resolve_images, cases, _resolve_images)


def check_cut_answer(cut_answer) -> None:
    """Reference: `sparkles_lite.model.assembly.cut_answer` (what `ChatFormat.answer_text` does to decoded
    text in the paper format): cut at the first `###`, strip spaces."""
    from sparkles_lite.model.assembly import cut_answer as reference

    cases = [
        Case((" IMAGE#1 has a red circle.###Human: and IMAGE#2?###Assistant: a square",),
             hint="the model went on to write the next turn: keep only its answer"),
        Case(("Two blue squares.",), hint="no ### at all: the whole text, stripped"),
        Case(("  A big circle.  ###",), hint="strip surrounding spaces"),
        Case(("###Human: hi",), hint="an empty answer"),
        Case(("first ### second ### third",), hint="cut at the first ###"),
        Case(("A line\nanother line###",), hint="newlines inside the answer stay"),
    ]
    return run_check("check_cut_answer", cut_answer, cases, reference)


# ================================================================ 07 SparklesEval

def _parse_ratings(reply: str):
    from sparkles_lite.eval.judge import parse_ratings

    parsed = parse_ratings(reply)
    return dict(parsed.scores) if parsed.ok else None


def _reply(scores: dict[str, str], prose: bool = False, bold: bool = False) -> str:
    lines = ["Here is my evaluation."] if prose else []
    for key, value in scores.items():
        lines.append(f"**{key} Rating:** {value} fine." if bold else f"{key} Rating: {value} fine.")
    if prose:
        lines.append("Overall the first answer is better.")
    return "\n".join(lines)


def check_parse_ratings(parse_ratings) -> None:
    """Reference: `sparkles_lite.eval.judge.parse_ratings` (scores when `ok`, else None)."""
    keys = [f"A{a} C{c}" for a in (1, 2) for c in (1, 2, 3)]
    good = {k: f"[[{v}]]" for k, v in zip(keys, (7, 8, 9, 3, 4, 5))}
    cases = [
        Case((_reply(good),), hint="six well-formed lines"),
        Case((_reply(good, prose=True),), hint="other lines are ignored"),
        Case((_reply(good, bold=True),), hint="markdown bold around 'A1 C1 Rating:' is allowed"),
        Case((_reply({**good, "A2 C3": "[[10]]"}),), hint="10 is a valid score"),
        Case((_reply({k: v for k, v in good.items() if k != "A2 C2"}),), hint="A2 C2 missing: None"),
        Case((_reply({**good, "A1 C2": "[[11]]"}),), hint="scores run from 1 to 10: None"),
        Case((_reply({**good, "A1 C2": "[[0]]"}),), hint="scores run from 1 to 10: None"),
        Case((_reply({**good, "A1 C1": "[[7.5]]"}),), hint="not an integer: None"),
        Case((_reply({**good, "A2 C1": "7"}),), hint="a score must be inside [[ ]]: None"),
        Case((_reply(good) + "\nA1 C1 Rating: [[7]] again",), hint="the same score twice is fine"),
        Case((_reply(good) + "\nA1 C1 Rating: [[2]] changed my mind",), hint="two different scores: None"),
        Case(("",), hint="an empty reply: None"),
    ]
    return run_check("check_parse_ratings", parse_ratings, cases, _parse_ratings)


def check_mean_ci(mean_ci) -> None:
    """Reference: `sparkles_lite.eval.stats.mean_ci`."""
    from sparkles_lite.eval.stats import mean_ci as reference

    forty = [float((i * 7) % 10) for i in range(40)]
    cases = [
        Case(([7, 8, 9],), hint="mean 8, sample standard deviation 1 (divide by n - 1), t95(2) = 4.303"),
        Case(([6.5, 9.0, 8.0, 7.5, 8.0, 9.5],), hint=None),
        Case(([3, 9],), hint="two values: df = 1, a wide interval"),
        Case(([5, 5, 5, 5],), hint="no spread: low = mean = high"),
        Case(([8.5],), hint="one value: (m, m, m), no interval can be estimated"),
        Case((forty,), show="40 scores", hint="df = 39 > 30: use z = 1.96 (t95 does that)"),
        Case(([],), hint="no values: raise ValueError"),
    ]
    return run_check("check_mean_ci", mean_ci, cases, reference)


# ================================================================ 08 BISON & NLVR2

_BISON_CASES = [
    ("IMAGE#2", "a bare option"),
    ("Image 1.", "'Image 1' means IMAGE#1"),
    ("The answer is IMAGE#2.", None),
    ("the first image", "'first image' means IMAGE#1"),
    ("The second image matches the caption.", None),
    ("image one", "number words count"),
    ("**IMAGE#1**", "markdown around the option"),
    ("IMAGE#1 does not match, IMAGE#2 does.", "'IMAGE#1 does not match' implies IMAGE#2"),
    ("Not IMAGE#1.", "'not IMAGE#1' implies IMAGE#2"),
    ("The caption describes IMAGE#1, not IMAGE#2.", "both mentions imply IMAGE#1"),
    ("IMAGE#1 shows a red circle and IMAGE#2 shows a blue square. Therefore, the answer is IMAGE#2.",
     "a final answer ('the answer is', 'therefore') wins over earlier mentions"),
    ("IMAGE#1 has two circles. IMAGE#2 has one.", "mentions of both without a verdict: None, never a guess"),
    ("IMAGE#1 or IMAGE#2?", "the question restated is not an answer: None"),
    ("Therefore, the answer (IMAGE#1 or IMAGE#2) is IMAGE#2.",
     "rule 1: drop the listed options (the question restated); IMAGE#2 is then the only mention"),
    ("IMAGE#1. On reflection, the answer is IMAGE#2.", "two final answers: the last one decides"),
    ("IMAGE#12", "IMAGE#12 is not IMAGE#1: None"),
    ("I cannot tell.", "no option: None"),
    ("", "an empty reply: None"),
]

_NLVR2_CASES = [
    ("TRUE", None),
    ("False.", "any case"),
    ("Yes, the statement holds.", "a reply that starts with 'yes' means TRUE"),
    ("No.", "'No.' means FALSE"),
    ("The statement is false.", None),
    ("It is not true.", "'not true' means FALSE"),
    ("The statement is incorrect.", "'incorrect' means FALSE"),
    ("Correct!", "'correct' means TRUE"),
    ("IMAGE#1 has a red circle, so the statement is true.", None),
    ("**TRUE**", "markdown around the option"),
    ("TRUE. The answer is FALSE.", "a final answer wins; the last final answer wins"),
    ("It is true that IMAGE#1 has a circle, but the statement is false.",
     "one claim each way without a final answer: None, never a guess"),
    ("true or false?", "the question restated is not an answer: None"),
    ("So the statement (true or false) is false.",
     "rule 1: drop the listed options (the question restated); 'false' is then the only mention"),
    ("no idea", "'no idea' is not a 'no': None"),
    ("I am not sure.", "no option: None"),
    ("", "an empty reply: None"),
]


def _choice(extract):
    return lambda response: extract(response).choice


def check_extract_bison(extract_bison) -> None:
    """Reference: `sparkles_lite.eval.extraction.extract_bison` (its `.choice`)."""
    from sparkles_lite.eval.extraction import extract_bison as reference

    cases = [Case((r,), hint=h) for r, h in _BISON_CASES]
    return run_check("check_extract_bison", extract_bison, cases, _choice(reference))


def check_extract_nlvr2(extract_nlvr2) -> None:
    """Reference: `sparkles_lite.eval.extraction.extract_nlvr2` (its `.choice`)."""
    from sparkles_lite.eval.extraction import extract_nlvr2 as reference

    cases = [Case((r,), hint=h) for r, h in _NLVR2_CASES]
    return run_check("check_extract_nlvr2", extract_nlvr2, cases, _choice(reference))


def check_wilson_ci(wilson_ci) -> None:
    """Reference: `sparkles_lite.eval.stats.wilson_ci` (95%)."""
    from sparkles_lite.eval.stats import wilson_ci as reference

    cases = [
        Case((57, 100), hint="SparklesChat's BISON accuracy on 100 items"),
        Case((0, 20), hint="0%: the interval is [0, something], not [0, 0]"),
        Case((20, 20), hint="100%: the interval is [something, 1]"),
        Case((1, 1), hint="one item"),
        Case((5, 10), hint="symmetric around 50%"),
        Case((580, 1000), hint="more items, a narrower interval"),
        Case((3, 0), hint="n = 0: raise ValueError"),
        Case((11, 10), hint="more successes than trials: raise ValueError"),
        Case((-1, 10), hint="negative successes: raise ValueError"),
    ]
    return run_check("check_wilson_ci", wilson_ci, cases, reference)


# ================================================================ 09 attention across images

def _as_tensor_compare(expected, got) -> bool:
    import torch

    if isinstance(got, (list, tuple)):
        try:
            got = torch.tensor(got, dtype=torch.float64)
        except Exception:
            return False
    return isinstance(got, torch.Tensor) and same(expected, got.to(expected.dtype))


def check_attention_per_image(attention_per_image) -> None:
    """Reference: `sparkles_lite.viz.attention.attention_per_image`, per-image sums of an attention row over
    `Assembled.image_index` positions."""
    import torch

    from sparkles_lite.viz.attention import attention_per_image as reference

    g = torch.Generator().manual_seed(9)

    def row(n):
        return torch.rand(n, generator=g).softmax(-1)

    m1 = [-1, 0, 0, 0, -1, 1, 1, 1, -1, -1]
    m2 = [-1, -1, 0, 0, -1, 1, 1, -1, 2, 2, -1]
    cases = [
        Case((torch.tensor([0.1, 0.2, 0.3, 0.4]), [-1, 0, 0, -1]), hint="one image: 0.2 + 0.3"),
        Case((row(10), m1), show="row of 10, map " + str(m1), hint="two images, K = 3 positions each"),
        Case((row(11), m2), show="row of 11, map " + str(m2), hint="three images, text in between"),
        Case((row(14), m1), show="row of 14 (4 generated tokens), map of 10 " + str(m1),
             hint="the row is longer than the map: positions past the prompt are generated text"),
        Case((row(5), [-1] * 5), show="row of 5, map of text only", hint="no images: an empty result"),
    ]
    return run_check("check_attention_per_image", attention_per_image, cases, reference,
                     compare=_as_tensor_compare)


def _image_attention_by_layer(attentions, image_index):
    """[layers, heads, T] attention rows -> [layers, n_images]: per-image mass, averaged over heads."""
    from sparkles_lite.viz.attention import attention_per_image

    return attention_per_image(attentions, image_index).mean(dim=1)


def check_image_attention_by_layer(image_attention_by_layer) -> None:
    """Reference: `viz.attention.attention_per_image` for every layer and head, averaged over heads."""
    import torch

    g = torch.Generator().manual_seed(10)

    def rows(*shape):
        return torch.rand(*shape, generator=g).softmax(-1)

    m = [-1, 0, 0, -1, 1, 1, -1]
    cases = [
        Case((rows(2, 1, 7), m), show="attentions [2 layers, 1 head, 7], map " + str(m), hint="one head"),
        Case((rows(3, 4, 7), m), show="attentions [3 layers, 4 heads, 7]", hint="average over heads, per layer"),
        Case((rows(2, 2, 9), m), show="attentions [2, 2, 9] (2 generated tokens), map of 7",
             hint="positions past the map are generated text"),
        Case((rows(1, 3, 5), [0, 0, 1, 1, 2]), show="attentions [1, 3, 5], map [0, 0, 1, 1, 2]",
             hint="three images, no text"),
    ]
    return run_check("check_image_attention_by_layer", image_attention_by_layer, cases,
                     _image_attention_by_layer, compare=_as_tensor_compare)
