import pytest

from sparkles_lite.eval.judge import SCORE_KEYS, JudgeInput, build_judge_prompt, parse_ratings
from sparkles_lite.lite.judge import judge_reply, read_answer, score_dialogue

IMAGES = [("3", "a big red circle and two small blue squares"), ("7", "a small green triangle"),
          ("9", "a big red circle and a big yellow diamond")]

# (questions, references, correct answers, partly wrong answers)
DIALOGUES = [
    (["What is in IMAGE#3?", "Here is IMAGE#9. What do IMAGE#3 and IMAGE#9 have in common?"],
     ["IMAGE#3 shows a big red circle and two small blue squares.", "Both images have a big red circle."],
     ["IMAGE#3 shows a big red circle and two small blue squares.",
      "IMAGE#3 and IMAGE#9 both have a big red circle."],
     ["IMAGE#9 shows a big red circle and two small blue squares.",
      "Both images have a big yellow diamond."]),
    (["How many circles are there in IMAGE#3 and IMAGE#7 together?",
      "Here is IMAGE#9. Which of IMAGE#3 and IMAGE#9 has more objects?"],
     ["There is one circle in total.", "IMAGE#3 has more objects."],
     ["There is one circle in total: IMAGE#3 has a big red circle.",
      "IMAGE#3 has more objects: it has a big red circle and two small blue squares."],
     ["There are two circles in total.", "IMAGE#9 has more objects: IMAGE#9 has two small blue squares."]),
    (["What do IMAGE#3 and IMAGE#7 have in common?", "Here is IMAGE#9. What is in IMAGE#9?"],
     ["They have nothing in common.", "IMAGE#9 shows a big red circle and a big yellow diamond."],
     ["They have nothing in common.", "IMAGE#9 shows a big red circle and a big yellow diamond."],
     ["Both images have a small green triangle.", "IMAGE#9 shows two small blue squares and a big yellow diamond."]),
]
GARBAGE = ["I like turtles", ""]


def _scores(questions, refs, answers, with_refs=True):
    x = JudgeInput(IMAGES, questions, answers, refs if with_refs else None)
    reply = judge_reply(build_judge_prompt(x))
    parsed = parse_ratings(reply)
    assert parsed.ok, parsed.error
    assert all(parsed.explanations[k] for k in SCORE_KEYS)
    return parsed.scores


@pytest.mark.parametrize("questions,refs,good,bad", DIALOGUES)
def test_correct_beats_partly_wrong_beats_garbage_on_every_criterion(questions, refs, good, bad):
    s_good, s_bad, s_junk = (_scores(questions, refs, a) for a in (good, bad, GARBAGE))
    for k in SCORE_KEYS:
        assert s_good[k] > s_bad[k] >= s_junk[k], (k, s_good, s_bad)
    assert min(s_good.values()) >= 9 and max(s_junk.values()) == 1


def test_without_references_correct_still_wins():
    questions, refs, good, bad = DIALOGUES[0]
    s_good, s_bad = _scores(questions, refs, good, False), _scores(questions, refs, bad, False)
    assert all(s_good[k] >= s_bad[k] for k in SCORE_KEYS) and s_good["A1 C1"] > s_bad["A1 C1"]


def test_reference_answers_score_ten():
    for questions, refs, _, _ in DIALOGUES:
        assert set(_scores(questions, refs, refs).values()) == {10}


def test_attribution_styles():
    scenes = {"3": None, "7": None}
    forward = read_answer("IMAGE#3 shows a big red circle and IMAGE#7 shows a small green triangle.", ["3", "7"], scenes)
    backward = read_answer("There is a big red circle in IMAGE#3 and a small green triangle in IMAGE#7.", ["3", "7"], scenes)
    carry = read_answer("Look at IMAGE#7. It has a small green triangle.", ["3", "7"], scenes)
    for content in (forward, backward):
        assert [(f.text, f.images) for f in content.facts] == [("a big red circle", ("3",)),
                                                               ("a small green triangle", ("7",))]
    assert carry.facts[0].images == ("7",)


def test_cross_turn_inconsistency_lowers_a2_coherence():
    questions = ["What is in IMAGE#3?", "Here is IMAGE#9. What do IMAGE#3 and IMAGE#9 have in common?"]
    refs = ["IMAGE#3 shows a big red circle and two small blue squares.", "Both images have a big red circle."]
    consistent = _scores(questions, refs, [refs[0], "IMAGE#3 and IMAGE#9 both have a big red circle."])
    contradicts = _scores(questions, refs, [refs[0], "IMAGE#3 has three small blue squares and IMAGE#9 has "
                                                     "a big red circle."])
    assert consistent["A2 C2"] > contradicts["A2 C2"]


def test_non_lite_captions_and_non_prompts_are_refused():
    x = JudgeInput([("1", "a dog on a beach")], ["What is in IMAGE#1?", "And?"], ["a", "b"])
    with pytest.raises(ValueError, match="lite-world captions"):
        score_dialogue(x)
    with pytest.raises(ValueError, match="not a judge prompt"):
        judge_reply("Rate this answer please.")


@pytest.mark.parametrize("questions,refs,good,bad", DIALOGUES)
def test_paper_protocol_gets_a_paper_format_reply_that_ranks_the_same_way(questions, refs, good, bad):
    """The paper's prompt gives no references; the offline judge answers in the paper's format, with
    each overall rating the mean of its criteria to two decimals, and still ranks correct over wrong."""
    def scores(answers):
        reply = judge_reply(build_judge_prompt(JudgeInput(IMAGES, questions, answers), "paper"))
        assert reply.startswith("* Evaluating A1\n- (C1) Explanation: ") and "overall rating of A2 is [[" in reply
        parsed = parse_ratings(reply)
        assert parsed.ok, parsed.error
        for a in ("A1", "A2"):
            mean = sum(parsed.scores[f"{a} C{c}"] for c in (1, 2, 3)) / 3
            assert parsed.stated_overall[a] == round(mean, 2)
        return parsed.scores
    s_good, s_bad, s_junk = scores(good), scores(bad), scores(GARBAGE)
    assert sum(s_good.values()) > sum(s_bad.values()) > sum(s_junk.values()) - 1e-9
    assert max(s_junk.values()) == 1
