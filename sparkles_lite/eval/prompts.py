"""The paper's BISON and NLVR2 prompts: two images as IMAGE#1 and IMAGE#2, a step-by-step cue,
and a sentence the answer completes. Shared by evaluation and by the lite LM's text pretraining,
so the text oracle sees exactly the prompts the models are evaluated on."""

from __future__ import annotations

from sparkles_lite.data.schema import IMAGE_BLOCK

TWO_IMAGES = f"IMAGE#1{IMAGE_BLOCK} IMAGE#2{IMAGE_BLOCK}"
BISON_CHOICES = ("IMAGE#1", "IMAGE#2")
NLVR2_CHOICES = ("TRUE", "FALSE")


def bison_prompt(caption: str) -> str:
    """Pick which of two images a caption describes."""
    return (f"{TWO_IMAGES} Which image matches the caption: {caption.strip().rstrip('.')}? "
            "Let's think step by step. Therefore, the answer (IMAGE#1 or IMAGE#2) is")


def nlvr2_prompt(statement: str) -> str:
    """Decide whether a statement is true of an image pair."""
    return (f"{TWO_IMAGES} Statement: {statement.strip().rstrip('.')}. Is the statement true or false? "
            "Let's think step by step. Therefore, the answer (TRUE or FALSE) is")


def choice_answer(choice: str) -> str:
    """The full-sentence answer the lite models are taught to give."""
    return f"The answer is {choice}."
