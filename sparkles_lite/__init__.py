"""sparkles-lite: SparklesChat (multi-image dialogue) small enough to learn from on a laptop CPU."""

__version__ = "0.1.0"
