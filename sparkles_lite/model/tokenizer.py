"""The lite LM's tokenizer: a byte-level BPE the project trains (the shipped one on the lite world's
text, `sparkles_lite.lite.pretrain.lite_corpus`; notebook 10's tiny stand-ins on photo dialogues).

Byte-level so any text round-trips exactly (a student can type anything); trained until every
lite word is one token, so the tiny LM spends no capacity on spelling. Digits are split one by
one, so `IMAGE#804` is `IMAGE`, `#`, `8`, `0`, `4` and unseen ids still tokenize.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from sparkles_lite.data.schema import IMAGE_TOKEN, IMG_CLOSE, IMG_OPEN, SEP
from sparkles_lite.versions import require

BOS, PAD = "<s>", "<pad>"
SPECIAL_TOKENS = [PAD, BOS, SEP, IMG_OPEN, IMG_CLOSE, IMAGE_TOKEN]

# Vicuna-v0 style, as in MiniGPT-4 and SparklesChat: ###Human: q1###Assistant: a1###Human: q2###Assistant: a2###
# (one `###` between turns: an answer's stop marker opens the next turn). Must agree with
# `assembly.render_conversation` (tests/test_model_tokenizer.py checks that it does).
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}{% if loop.first or messages[loop.index0 - 1]['role'] != 'assistant' %}"
    + SEP + "{% endif %}Human: {{ message['content'] }}"
    "{% else %}" + SEP + "Assistant: {% generation %}{{ message['content'] }}" + SEP + "{% endgeneration %}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "{% if not messages or messages[-1]['role'] != 'assistant' %}" + SEP + "{% endif %}Assistant:{% endif %}"
)


def train_lite_tokenizer(texts: list[str], vocab_size: int = 2000) -> PreTrainedTokenizerFast:
    """Train on the given texts; the vocabulary stops growing once every word is one token."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=1, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return wrap_tokenizer(tok)


def wrap_tokenizer(tok: Tokenizer) -> PreTrainedTokenizerFast:
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=SEP, pad_token=PAD,
                                   additional_special_tokens=[IMG_OPEN, IMG_CLOSE, IMAGE_TOKEN],
                                   clean_up_tokenization_spaces=False)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    require("transformers")  # the shipped files are in transformers 5's format; 4.x dies deep inside
    tok = PreTrainedTokenizerFast.from_pretrained(str(path))
    # The template is code, not data: a copy saved before a template fix (the shipped one ends the
    # generation prompt with a space the model never saw in training) must not win over
    # `assembly.render_conversation`.
    tok.chat_template = CHAT_TEMPLATE
    return tok
