"""BISON and NLVR2 prompts: two images as IMAGE#1 and IMAGE#2, a step-by-step cue, and the sentence
the answer completes ("Therefore, the answer (IMAGE#1 or IMAGE#2) is").

Two styles (`PROMPT_STYLES`), both in this project's words:

* `lite` (the default): one line, the question and the cue. Shared by evaluation and by the lite LM's
  text pretraining, so the text oracle sees exactly the prompts the models are evaluated on.
* `paper`: several sentences, as the paper's prompts are (`evaluate.py` in HYPJUDY/Sparkles): look
  closely at the two images, the caption or statement quoted, what the task needs, and an instruction
  to start with "Let's think step by step." and end with the answer sentence. For real chat models;
  the lite LM never saw it.
"""

from __future__ import annotations

from sparkles_lite.data.schema import IMAGE_BLOCK

TWO_IMAGES = f"IMAGE#1{IMAGE_BLOCK} IMAGE#2{IMAGE_BLOCK}"
BISON_CHOICES = ("IMAGE#1", "IMAGE#2")
NLVR2_CHOICES = ("TRUE", "FALSE")
PROMPT_STYLES = ("lite", "paper")
BISON_CUE = "Therefore, the answer (IMAGE#1 or IMAGE#2) is"
NLVR2_CUE = "Therefore, the answer (TRUE or FALSE) is"


def _check(style: str) -> None:
    if style not in PROMPT_STYLES:
        raise ValueError(f"unknown prompt style {style!r}; expected one of {PROMPT_STYLES}")


def bison_prompt(caption: str, style: str = "lite") -> str:
    """Pick which of two images a caption describes."""
    _check(style)
    caption = caption.strip().rstrip(".")
    if style == "paper":
        return (f"Look closely at two similar images, IMAGE#1{IMAGE_BLOCK} and IMAGE#2{IMAGE_BLOCK}.\n"
                "Decide which of the two images the caption below describes best.\n"
                f"Caption: '{caption}'.\n"
                "Telling them apart takes fine-grained visual reasoning about the caption and each image. "
                "Let's think step by step.\n"
                f'Begin your reply with "Let\'s think step by step." and finish it with "{BISON_CUE}".')
    return f"{TWO_IMAGES} Which image matches the caption: {caption}? Let's think step by step. {BISON_CUE}"


def nlvr2_prompt(statement: str, style: str = "lite") -> str:
    """Decide whether a statement is true of an image pair."""
    _check(style)
    statement = statement.strip().rstrip(".")
    if style == "paper":
        return (f"Look closely at a pair of images: IMAGE#1{IMAGE_BLOCK} on the left and IMAGE#2{IMAGE_BLOCK} "
                "on the right.\n"
                "Decide whether the statement below is true of the pair:\n"
                f"'{statement}'\n"
                "Reason about the statement over IMAGE#1 and IMAGE#2 together; it may involve counting, "
                "comparing and relations between objects. Let's think step by step.\n"
                f'Begin your reply with "Let\'s think step by step." and finish it with "{NLVR2_CUE}".')
    return (f"{TWO_IMAGES} Statement: {statement}. Is the statement true or false? "
            f"Let's think step by step. {NLVR2_CUE}")


def choice_answer(choice: str) -> str:
    """The full-sentence answer the lite models are taught to give."""
    return f"The answer is {choice}."
