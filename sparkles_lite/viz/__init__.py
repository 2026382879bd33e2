"""Visualisation for the notebooks: attention across images (`attention`), what removing an image does
to an answer (`influence`), both lenses over an evaluation set (`reference`), all pure torch/numpy, and
their matplotlib figures (`plots`)."""

from sparkles_lite.viz.attention import AttentionSummary, image_attention, patch_attention, pooling_attention
from sparkles_lite.viz.influence import InfluenceSummary, image_influence
from sparkles_lite.viz.reference import ReferenceStat, reference_stat, reference_table

__all__ = ["AttentionSummary", "InfluenceSummary", "ReferenceStat", "image_attention", "image_influence",
           "patch_attention", "pooling_attention", "reference_stat", "reference_table"]
