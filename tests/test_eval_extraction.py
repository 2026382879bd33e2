import pytest

from sparkles_lite.eval.extraction import extract_bison, extract_nlvr2

I1, I2 = "IMAGE#1", "IMAGE#2"

BISON_CASES = [
    ("IMAGE#2", I2),
    (" IMAGE#1.", I1),
    ("The answer is IMAGE#2.", I2),
    ("the answer is image #1", I1),
    ("Image 1", I1),
    ("image 2.", I2),
    ("**IMAGE#2**", I2),
    ("Answer: Image 2", I2),
    ("The first image matches the caption.", I1),
    ("The caption describes the second image.", I2),
    ("It is the left image.", I1),
    ("not IMAGE#1", I2),
    ("IMAGE#1 does not match, IMAGE#2 does.", I2),
    ("IMAGE#1 doesn't match the caption; IMAGE#2 matches it.", I2),
    ("IMAGE#1 shows a big red circle while IMAGE#2 shows two small blue squares. "
     "Therefore, the answer (IMAGE#1 or IMAGE#2) is IMAGE#2.", I2),
    ("IMAGE#1 shows a red circle and IMAGE#2 shows a blue square. The caption describes IMAGE#2.", I2),
    ("At first I thought IMAGE#1, but the answer is IMAGE#2.", I2),
    ("The answer is IMAGE#1. Wait, no: the answer is IMAGE#2.", I2),
    ("IMAGE#2 is the correct answer because IMAGE#1 has no square.", I2),
    ("IMAGE#2, because IMAGE#1 has a green triangle instead.", I2),
    ("The answer is not IMAGE#1.", I2),
    ("So image one.", I1),
    ("I would choose Image 2.", I2),
    ("IMAGE#1 matches the caption better.", I1),
    ("IMAGE#1 shows a red circle. IMAGE#2 shows a blue square.", None),
    ("Both images show circles.", None),
    ("It could be IMAGE#1 or IMAGE#2.", None),
    ("Neither IMAGE#1 nor IMAGE#2 matches the caption.", None),
    ("IMAGE#1 matches the colour but IMAGE#2 matches the shape.", None),
    ("", None),
    ("I cannot tell.", None),
    ("IMAGE#12 is interesting", None),
]

NLVR2_CASES = [
    ("TRUE", "TRUE"),
    (" FALSE.", "FALSE"),
    ("The answer is TRUE.", "TRUE"),
    ("the answer is false", "FALSE"),
    ("True", "TRUE"),
    ("Yes.", "TRUE"),
    ("No, the statement is false.", "FALSE"),
    ("Yes, both images have a red circle.", "TRUE"),
    ("The statement is correct.", "TRUE"),
    ("The statement is incorrect.", "FALSE"),
    ("The statement is not true.", "FALSE"),
    ("That's wrong: IMAGE#2 has more objects.", "FALSE"),
    ("It is not false.", "TRUE"),
    ("IMAGE#1 has two objects and IMAGE#2 has three. Therefore, the answer (TRUE or FALSE) is FALSE.", "FALSE"),
    ("There are no red circles in IMAGE#1, so the statement is false.", "FALSE"),
    ("The correct answer is TRUE.", "TRUE"),
    ("Answer: **False**", "FALSE"),
    ("The statement is true, not false.", "TRUE"),
    ("There are three circles in the two images. So the answer is TRUE.", "TRUE"),
    ("It might be true or false.", None),
    ("I am not sure.", None),
    ("", None),
    ("IMAGE#1 has a red circle. IMAGE#2 has a big square.", None),
    ("The left image is true to life but the statement is false.", "FALSE"),
]


@pytest.mark.parametrize("response,expected", BISON_CASES)
def test_bison_extraction(response, expected):
    got = extract_bison(response)
    assert got.choice == expected, got.reason
    assert got.reason


@pytest.mark.parametrize("response,expected", NLVR2_CASES)
def test_nlvr2_extraction(response, expected):
    got = extract_nlvr2(response)
    assert got.choice == expected, got.reason


def test_table_is_large_enough():
    assert len(BISON_CASES) + len(NLVR2_CASES) >= 30
    assert len(BISON_CASES) >= 30


def test_unparsable_reason_says_why():
    assert "ambiguous" in extract_bison("IMAGE#1 shows a cat. IMAGE#2 shows a dog.").reason
    assert extract_nlvr2("").reason == "empty response"


# The cases listed in the comments of the official `extract_answer` (HYPJUDY/Sparkles evaluate.py),
# with (what the comment says it returns, what that function returns when run, what this package
# returns). The two official columns were read from the comment and by running the function on the
# same text; they disagree with each other twice. Where this package differs, the docstring of
# `extraction` says why.
OFFICIAL_CASES = [
    ("nlvr2", "Therefore, we cannot determine if the statement is true or false", None, None, None),
    ("nlvr2", 'Therefore, the statement "A man is sitting" cannot be true and is FALSE.', "FALSE", None, None),
    ("nlvr2", "Therefore, the answer is TRUE for Image#2 and FALSE for Image#1. In conclusion, there is one true "
              "and one false statement in this comparison.", None, None, "TRUE"),
    ("bison", "Therefore, IMAGE#2 is not the correct match.", None, "IMAGE#2", "IMAGE#1"),
    ("bison", "Therefore, the answer is IMAGE#1, because it more closely matches the caption than IMAGE#2.",
     "IMAGE#1", "IMAGE#1", "IMAGE#1"),
    # the official function needs the word "Therefore": the lite models' own answers never have it
    ("bison", "The answer is IMAGE#2.", None, None, "IMAGE#2"),
]


@pytest.mark.parametrize("task,reply,comment,official,ours", OFFICIAL_CASES)
def test_official_parser_cases(task, reply, comment, official, ours):
    extract = extract_bison if task == "bison" else extract_nlvr2
    assert extract(reply).choice == ours
