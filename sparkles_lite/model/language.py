"""Language models: the lite Llama built from a config, or any Hugging Face causal LM."""

from __future__ import annotations

from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, PreTrainedModel

from sparkles_lite.config import LMConfig


def build_lite_lm(cfg: LMConfig, vocab_size: int, attn_implementation: str = "sdpa") -> LlamaForCausalLM:
    """A tiny Llama (rotary positions, RMSNorm, SwiGLU), randomly initialised."""
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
                         num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads,
                         intermediate_size=cfg.intermediate, max_position_embeddings=cfg.max_positions,
                         rope_theta=cfg.rope_theta, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
                         pad_token_id=0, attn_implementation=attn_implementation)
    return LlamaForCausalLM(config)


def load_lm(path: str, attn_implementation: str = "sdpa", **kwargs) -> PreTrainedModel:
    """Any causal LM from a local directory or hub id (the lite LM is saved the same way)."""
    return AutoModelForCausalLM.from_pretrained(path, attn_implementation=attn_implementation, **kwargs)
