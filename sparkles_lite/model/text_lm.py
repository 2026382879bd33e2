"""The language model on its own, reading text: used to pretrain the lite LM and to measure the
text oracle (the LM given true scene words where images go)."""

from __future__ import annotations

import torch

from sparkles_lite.data.schema import Message
from sparkles_lite.model.assembly import assemble, collate

STOP = "###"


def answer_text(tokenizer, ids: list[int]) -> str:
    """Generated ids -> answer: cut at the first `###` (one token in the lite tokenizer, several
    in real ones), special tokens and padding dropped."""
    stop = tokenizer.convert_tokens_to_ids(STOP)
    if stop in ids:
        ids = ids[:ids.index(stop)]
    return tokenizer.decode(ids, skip_special_tokens=True).split(STOP)[0].strip()


def stop_kwargs(tokenizer, pad_id: int) -> dict:
    stop = tokenizer.convert_tokens_to_ids(STOP)
    if stop is not None and stop != tokenizer.unk_token_id:
        return {"eos_token_id": stop, "pad_token_id": pad_id}
    return {"stop_strings": [STOP], "tokenizer": tokenizer, "pad_token_id": pad_id}


@torch.no_grad()
def generate_text_batch(lm, tokenizer, conversations: list[list[Message]], max_new_tokens: int = 40,
                        max_length: int = 512) -> list[str]:
    """Greedy answers to text-only conversations, batched with left padding."""
    pad = tokenizer.pad_token_id
    prompts = [assemble(m, tokenizer, 0, max_length, add_generation_prompt=True) for m in conversations]
    batch = collate(prompts, pad, padding_side="left").to(lm.device)
    out = lm.generate(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                      max_new_tokens=max_new_tokens, do_sample=False, **stop_kwargs(tokenizer, pad))
    return [answer_text(tokenizer, row.tolist()) for row in out[:, batch.input_ids.shape[1]:]]
