"""An LM with a chat template gets that template: checked against transformers' own
`apply_chat_template` (token ids, and its `{% generation %}` assistant mask) on tiny random Llama and
Qwen2 models whose tokenizers are built here with the `tokenizers` library: a ChatML template that
injects a default system prompt (as Qwen2's does) and a Llama-3-style one that writes its own BOS
and ends turns with `<|eot_id|>`, which is not its EOS."""

from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM,
                          SiglipVisionConfig, SiglipVisionModel)

from sparkles_lite.config import preset
from sparkles_lite.data.schema import ASSISTANT, USER, ImageRef, Message
from sparkles_lite.lite.pretrain import lite_corpus
from sparkles_lite.lite.tasks import LiteGenerator
from sparkles_lite.model.assembly import IGNORE, AssemblyError, ChatFormat, assemble
from sparkles_lite.model.sparkles_chat import SparklesChat
from sparkles_lite.model.tokenizer import train_lite_tokenizer

K = 3
CHATML = (
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}{%- if not (loop.first and message['role'] == 'system') %}"
    "{%- if message['role'] == 'assistant' %}{{- '<|im_start|>assistant\\n' }}"
    "{%- generation %}{{- message['content'] + '<|im_end|>' }}{%- endgeneration %}{{- '\\n' }}"
    "{%- else %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
LLAMA3 = (
    "{{- bos_token }}{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{%- if message['role'] == 'assistant' %}{%- generation %}{{- message['content'] | trim + '<|eot_id|>' }}"
    "{%- endgeneration %}{%- else %}{{- message['content'] | trim + '<|eot_id|>' }}{%- endif %}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
# family -> (specials, bos, eos, the template's end of turn, template, LM class)
FAMILIES = {
    "chatml": (["<|endoftext|>", "<|im_start|>", "<|im_end|>"], None, "<|endoftext|>", "<|im_end|>", CHATML, "qwen2"),
    "llama3": (["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
               "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", LLAMA3, "llama"),
}
TINY_LM = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
               num_key_value_heads=1, max_position_embeddings=1024)


def build_tokenizer(family: str) -> PreTrainedTokenizerFast:
    specials, bos, eos, _, template, _ = FAMILIES[family]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    corpus = lite_corpus(60) + ["system user assistant You are a helpful assistant."]
    bpe.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=600, special_tokens=specials,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                        show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=bos, eos_token=eos, pad_token=eos)
    tok.chat_template = template
    return tok


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("templates")
    torch.manual_seed(0)
    SiglipVisionModel(SiglipVisionConfig(image_size=32, patch_size=8, hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=2)).save_pretrained(root / "siglip")
    for family, (*_, kind) in FAMILIES.items():
        tok = build_tokenizer(family)
        ids = dict(vocab_size=len(tok), eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                   bos_token_id=tok.bos_token_id)
        lm = Qwen2ForCausalLM(Qwen2Config(**ids, **TINY_LM)) if kind == "qwen2" else LlamaForCausalLM(
            LlamaConfig(**ids, **TINY_LM))
        lm.save_pretrained(root / family)
        tok.save_pretrained(root / family)
    return root


@pytest.fixture(scope="module", params=list(FAMILIES))
def model(request, models_dir):
    cfg = preset("lite")
    cfg.name = f"siglip+{request.param}"
    cfg.vision.kind, cfg.vision.path = "hf", str(models_dir / "siglip")
    cfg.lm.kind, cfg.lm.path = "hf", str(models_dir / request.param)
    cfg.lm.text_after_image = ""  # the lite preset's ' ' before </Img> is the lite LM's text view
    cfg.pooling.num_tokens, cfg.pooling.heads = K, 2
    model = SparklesChat.from_config(cfg).eval()
    model.family = request.param
    return model


def user(text: str, *ids: str) -> Message:
    return Message(USER, text, [ImageRef(i) for i in ids])


def dialogue(with_images: bool) -> list[Message]:
    img = "<Img><ImageHere></Img>" if with_images else ""
    return [user(f"What is in IMAGE#1{img}?", *(["1"] if with_images else [])), Message(ASSISTANT, "a red circle."),
            user(f"And IMAGE#2{img} and IMAGE#3{img}?", *(["2", "3"] if with_images else [])),
            Message(ASSISTANT, "two squares.")]


def as_dicts(messages: list[Message]) -> list[dict]:
    return [{"role": m.role, "content": m.content} for m in messages]


def reference(tok, messages: list[Message], **kwargs) -> dict:
    return tok.apply_chat_template(as_dicts(messages), tokenize=True, return_dict=True, **kwargs)


def test_text_only_ids_are_the_templates_ids(model):
    messages, tok = dialogue(with_images=False), model.tokenizer
    assert model.chat_format.template
    assert model.assemble(messages).input_ids == reference(tok, messages)["input_ids"]
    prompt = model.assemble(messages[:3], add_generation_prompt=True)
    assert prompt.input_ids == reference(tok, messages[:3], add_generation_prompt=True)["input_ids"]
    text = tok.decode(prompt.input_ids)
    if model.family == "chatml":  # the default system prompt the template injects is kept, in no message
        assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")
        n_preamble = len(tok("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n",
                             add_special_tokens=False).input_ids)
        assert set(prompt.message_index[:n_preamble]) == {-1} and prompt.message_index[n_preamble] == 0
    else:  # exactly one BOS: the template writes it, nothing is added
        assert prompt.input_ids.count(tok.bos_token_id) == 1 and prompt.input_ids[0] == tok.bos_token_id


def test_with_images_removing_image_positions_gives_the_templates_ids(model):
    messages, tok = dialogue(with_images=True), model.tokenizer
    a = model.assemble(messages)
    image_id = model.image_token_id
    ours = [t for t, i in zip(a.input_ids, a.image_index) if i < 0]
    theirs = [t for t in reference(tok, messages)["input_ids"] if t != image_id]
    assert ours == theirs
    assert a.n_images == 3 and [a.image_index.count(n) for n in range(3)] == [K, K, K]
    assert all(a.input_ids[p] == image_id for p, i in enumerate(a.image_index) if i >= 0)


@pytest.mark.parametrize("with_images", [False, True])
def test_labels_are_exactly_the_assistant_spans(model, with_images):
    """transformers' assistant mask (the template's `{% generation %}` blocks) marks the same tokens
    our labels supervise: each answer and the end-of-turn token after it, nothing else."""
    messages, tok = dialogue(with_images), model.tokenizer
    a = model.assemble(messages)
    text_positions = [p for p, i in enumerate(a.image_index) if i < 0]
    ours = [int(a.labels[p] != IGNORE) for p in text_positions]
    ref = reference(tok, messages, return_assistant_tokens_mask=True)
    theirs = [m for t, m in zip(ref["input_ids"], ref["assistant_masks"]) if t != model.image_token_id]
    assert ours == theirs
    assert all(l == IGNORE or l == t for l, t in zip(a.labels, a.input_ids))
    runs, run = [], []
    for label in a.labels + [IGNORE]:
        if label != IGNORE:
            run.append(label)
        elif run:
            runs.append(tok.decode(run))
            run = []
    eot = FAMILIES[model.family][3]
    assert runs == ["a red circle." + eot, "two squares." + eot]
    assert model.chat_format.stop_text == eot


class WantsToSay:
    """A forward hook on the LM head that makes greedy decoding write the given tokens in turn."""

    def __init__(self, ids: list[int]):
        self.ids, self.step = ids, 0

    def __call__(self, module, inputs, logits):
        boost = torch.zeros_like(logits[:, -1])
        boost[:, self.ids[min(self.step, len(self.ids) - 1)]] = 1e4
        self.step += 1
        return torch.cat([logits[:, :-1], (logits[:, -1] + boost).unsqueeze(1)], dim=1)


def test_generation_stops_at_the_templates_end_of_turn_token(model):
    """The Llama-3-style template ends a turn with `<|eot_id|>`, not its EOS `<|end_of_text|>`: the
    answer must stop there all the same (both are stop tokens)."""
    tok = model.tokenizer
    eot, eos = tok.convert_tokens_to_ids(FAMILIES[model.family][3]), tok.eos_token_id
    assert eot != eos and model.chat_format.stop_ids == (eot, eos)
    word = tok("Hello", add_special_tokens=False).input_ids
    hook = model.lm.get_output_embeddings().register_forward_hook(WantsToSay(word + [eot, *word]))
    try:
        out = model.generate([user("Hi")], [], max_new_tokens=10)
    finally:
        hook.remove()
    assert out.token_ids == word + [eot] and out.text == "Hello"


def test_turns_dropped_for_length_keep_the_template(model):
    messages = dialogue(with_images=True)
    full, tail = model.assemble(messages), assemble(messages[2:], model.tokenizer, K, 1000, template=True)
    with pytest.warns(UserWarning, match=r"dropped messages 0-1 \(1 image\(s\) with them\)"):
        a = assemble(messages, model.tokenizer, K, max_length=len(full) - 1, template=True)
    assert a.input_ids == tail.input_ids and a.labels == tail.labels and a.dropped_messages == [0, 1]


def test_a_template_that_rewrites_earlier_turns_is_an_error():
    """As templates that strip the reasoning from earlier answers do: turn by turn, no prefix holds."""
    tok = build_tokenizer("chatml")
    tok.chat_template = ("{%- for m in messages %}{{- '<|im_start|>' + m['role'] + '\\n' }}"
                         "{{- m['content'] | upper if m['role'] == 'assistant' and not loop.last else m['content'] }}"
                         "{{- '<|im_end|>\\n' }}{%- endfor %}"
                         "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")
    with pytest.raises(AssemblyError, match="rewrites earlier turns"):
        assemble(dialogue(with_images=False), tok, K, 1000, template=True)


def test_a_template_without_an_end_of_turn_token_is_an_error():
    tok = build_tokenizer("chatml")
    tok.chat_template = ("{%- for m in messages %}{{- m['role'] + ': ' + m['content'] + '\\n' }}{%- endfor %}"
                         "{%- if add_generation_prompt %}{{- 'assistant: ' }}{%- endif %}")
    with pytest.raises(AssemblyError, match="no end-of-turn token"):
        ChatFormat.for_tokenizer(tok, template=True)


def test_the_lite_template_is_the_papers_format():
    """The lite tokenizer's chat template and `render` (the paper's `###` format) give the same ids and
    labels: rendered by jinja and located by prefixes, or written by hand."""
    tok = train_lite_tokenizer(lite_corpus(60))
    for ex in (LiteGenerator(3).dialogue(), LiteGenerator(4).example("select")):
        by_template = assemble(ex.messages, tok, K, 1000, template=True)
        by_render = assemble(ex.messages, tok, K, 1000)
        assert by_template.input_ids == by_render.input_ids and by_template.labels == by_render.labels
        assert by_template.image_index == by_render.image_index
        prompt = ex.messages[:1]
        assert (assemble(prompt, tok, K, 1000, add_generation_prompt=True, template=True).input_ids
                == assemble(prompt, tok, K, 1000, add_generation_prompt=True).input_ids)
    assert ChatFormat.for_tokenizer(tok, template=True).stop_ids == ChatFormat.for_tokenizer(tok, False).stop_ids


def test_the_lite_lm_keeps_the_papers_format_though_its_tokenizer_has_a_template():
    model = SparklesChat.from_config(preset("lite"), load_backbones=False)
    assert model.tokenizer.chat_template and not model.chat_format.template
    assert model.chat_format.stop_text == "###"
    assert model.chat_format.stop_ids == (model.tokenizer.convert_tokens_to_ids("###"),)
