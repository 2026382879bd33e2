"""The language model on its own, reading text: used to pretrain the lite LM and to measure the
text oracle (the LM given true scene words where images go). The lite LM reads the paper's `###`
format; its answers end at the `###` token."""

from __future__ import annotations

import torch

from sparkles_lite.data.schema import Message
from sparkles_lite.model.assembly import ChatFormat, assemble, collate


@torch.no_grad()
def generate_text_batch(lm, tokenizer, conversations: list[list[Message]], max_new_tokens: int = 40,
                        max_length: int = 512) -> list[str]:
    """Greedy answers to text-only conversations in the paper's format, batched with left padding."""
    pad = tokenizer.pad_token_id
    fmt = ChatFormat.for_tokenizer(tokenizer, template=False)
    prompts = [assemble(m, tokenizer, 0, max_length, add_generation_prompt=True) for m in conversations]
    batch = collate(prompts, pad, padding_side="left").to(lm.device)
    out = lm.generate(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                      max_new_tokens=max_new_tokens, do_sample=False, **fmt.generate_kwargs(tokenizer, pad))
    return [fmt.answer_text(tokenizer, row.tolist()) for row in out[:, batch.input_ids.shape[1]:]]
