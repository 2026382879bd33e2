"""Visualisation for the notebooks: attention across images (`attention`, pure torch/numpy) and its
matplotlib figures (`plots`)."""

from sparkles_lite.viz.attention import (AttentionSummary, ReferenceStat, image_attention, patch_attention,
                                         pooling_attention, reference_attention_stat)

__all__ = ["AttentionSummary", "ReferenceStat", "image_attention", "patch_attention", "pooling_attention",
           "reference_attention_stat"]
