import json
from types import SimpleNamespace

import httpx2
import openai
import pytest

from sparkles_lite.data.fake_llm_server import FakeLLMServer
from sparkles_lite.eval.judge import (SCORE_KEYS, SYSTEM_PROMPT, Judge, JudgeInput, build_judge_prompt, format_rating,
                                      parse_judge_prompt, parse_ratings)

GOOD = "\n".join(format_rating(k, 7, "fine") for k in SCORE_KEYS)
INPUT = JudgeInput([("3", "a big red circle"), ("9", "a small blue square")],
                   ["What is in IMAGE#3?", "Here is IMAGE#9. What is in IMAGE#9?"],
                   ["IMAGE#3 shows a big red circle.", "A square. </answer_2> <script>"],
                   ["IMAGE#3 shows a big red circle.", "IMAGE#9 shows a small blue square."])
PROMPT = build_judge_prompt(INPUT)


def test_prompt_round_trip_and_content():
    back = parse_judge_prompt(PROMPT)
    assert back.images == INPUT.images and back.questions == INPUT.questions
    assert back.references == INPUT.references and back.answers[0] == INPUT.answers[0]
    assert "</answer_2> <script>" not in back.answers[1] and "<script>" in back.answers[1]
    assert "IMAGE#3: a big red circle" in PROMPT and all(c in PROMPT for c in ("C1", "C2", "C3"))
    no_refs = parse_judge_prompt(build_judge_prompt(JudgeInput(INPUT.images, INPUT.questions, INPUT.answers)))
    assert no_refs.references is None and "reference" not in build_judge_prompt(
        JudgeInput(INPUT.images, INPUT.questions, INPUT.answers)).split("<images>")[1]


@pytest.mark.parametrize("reply,error", [
    (GOOD, None),
    ("Sure!\n" + GOOD.replace("[[7]]", "[[ 7 ]]") + "\nThanks", None),
    (GOOD.replace("Rating:", "**Rating:**").replace("A1 C1", "- **A1 C1"), None),
    (GOOD.replace("A1 C2 Rating: [[7]]", "A1 C2 Rating: 7"), "A1 C2: rating not in [[n]] form"),
    (GOOD.replace("A2 C1 Rating: [[7]]", "A2 C1 Rating: [[seven]]"), "A2 C1: rating 'seven' is not an integer"),
    (GOOD.replace("A2 C3 Rating: [[7]]", "A2 C3 Rating: [[11]]"), "A2 C3: rating 11 is outside 1-10"),
    (GOOD.replace("A2 C3 Rating: [[7]]", "A2 C3 Rating: [[0]]"), "outside 1-10"),
    (GOOD.replace("A1 C1 Rating: [[7]]", "A1 C1 Rating: [[7.5]]"), "not an integer"),
    ("\n".join(GOOD.splitlines()[:4]), "missing A2 C2, A2 C3"),
    (GOOD + "\nA1 C1 Rating: [[3]]", "rated twice"),
    ("", "missing A1 C1"),
])
def test_parse_ratings(reply, error):
    parsed = parse_ratings(reply)
    if error is None:
        assert parsed.ok and parsed.scores == {k: 7 for k in SCORE_KEYS} and parsed.explanations["A1 C1"] == "fine"
    else:
        assert not parsed.ok and error in parsed.error


def _completion(content):
    return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=content))])


class FakeClient:
    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.requests = []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def create(self, **kwargs):
        self.requests.append(kwargs)
        out = self.outcomes.pop(0)
        if isinstance(out, Exception):
            raise out
        return out


REQ = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")


def _judge(tmp_path, outcomes, **kw):
    sleeps = []
    client = FakeClient(outcomes)
    return Judge(model="m", cache_dir=tmp_path, client=client, sleep=sleeps.append, **kw), client, sleeps


def test_unreadable_replies_are_asked_again_with_backoff_then_cached(tmp_path):
    outcomes = [SimpleNamespace(choices=None),  # what the client makes of a `{}` body
                _completion(""),  # no content
                _completion("I think it is good."),  # no ratings: unreadable, asked again
                _completion(GOOD)]
    judge, client, sleeps = _judge(tmp_path, outcomes, max_attempts=5, backoff_s=0.5)
    j = judge.judge(PROMPT)
    assert j.ok and j.scores["A2 C3"] == 7 and j.attempts == 4 and not j.cached
    assert sleeps == [0.5, 1.0, 2.0]
    assert client.requests[0]["temperature"] == 0.0 and client.requests[0]["messages"][-1]["content"] == PROMPT
    again = judge.judge(PROMPT)  # from disk: no request
    assert again.cached and again.scores == j.scores and len(client.requests) == 4
    entry = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert entry["ok"] and len(entry["attempts"]) == 4 and entry["attempts"][0]["error"].startswith("UnreadableReply")


@pytest.mark.parametrize("error", [openai.APIConnectionError(request=REQ),
                                   openai.RateLimitError("slow", response=httpx2.Response(429, request=REQ), body=None)])
def test_transport_errors_are_asked_again_within_the_attempts(tmp_path, error):
    """A lost connection or a rate limit may pass on a second try: asked again, with backoff, as long as
    `max_attempts` allows (the client itself retries nothing, so the attempts bound the waiting)."""
    judge, client, sleeps = _judge(tmp_path, [error, _completion(GOOD)], max_attempts=4)
    j = judge.judge(PROMPT)
    assert j.ok and j.attempts == 2 and sleeps == [1.0] and len(client.requests) == 2
    judge, client, sleeps = _judge(tmp_path / "once", [error, _completion(GOOD)], max_attempts=1)
    j = judge.judge(PROMPT)
    assert not j.ok and type(error).__name__ in j.error and j.attempts == 1 and sleeps == []
    assert not judge.is_cached(PROMPT)


def test_rate_limits_and_server_errors_from_a_real_server(tmp_path, monkeypatch):
    """Against a loopback server, the real client: 429 and 5xx asked again within `max_attempts`, a 400 never."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeLLMServer([429, 503, GOOD]) as srv:
        j = Judge(model="m", cache_dir=tmp_path / "a", base_url=srv.base_url, max_attempts=3, backoff_s=0.01).judge(PROMPT)
        assert j.ok and j.attempts == 3 and len(srv.requests) == 3
    with FakeLLMServer([429, 429, 429, GOOD]) as srv:
        j = Judge(model="m", cache_dir=tmp_path / "b", base_url=srv.base_url, max_attempts=3, backoff_s=0.01).judge(PROMPT)
        assert not j.ok and "RateLimitError" in j.error and len(srv.requests) == 3
    with FakeLLMServer([400, GOOD]) as srv:
        j = Judge(model="m", cache_dir=tmp_path / "c", base_url=srv.base_url, max_attempts=3, backoff_s=0.01).judge(PROMPT)
        assert not j.ok and "BadRequestError" in j.error and len(srv.requests) == 1


def test_failure_is_recorded_never_scored(tmp_path):
    judge, client, _ = _judge(tmp_path, [_completion("A1 C1 Rating: [[12]]")] * 3, max_attempts=3)
    j = judge.judge(PROMPT)
    assert not j.ok and j.scores is None and "outside 1-10" in j.error and j.attempts == 3
    assert not judge.is_cached(PROMPT)


def test_client_errors_are_not_retried(tmp_path):
    bad = openai.BadRequestError("bad", response=httpx2.Response(400, request=REQ), body=None)
    judge, client, sleeps = _judge(tmp_path, [bad], max_attempts=4)
    j = judge.judge(PROMPT)
    assert not j.ok and "BadRequestError" in j.error and j.attempts == 1 and sleeps == []


def test_cache_key_covers_model_prompt_temperature_repeat(tmp_path):
    judge, _, _ = _judge(tmp_path, [])
    keys = {judge.cache_key(PROMPT), judge.cache_key(PROMPT, 1), judge.cache_key(PROMPT + " ")}
    other = Judge(model="m2", cache_dir=tmp_path, client=FakeClient([]))
    hot = Judge(model="m", cache_dir=tmp_path, client=FakeClient([]), temperature=0.7)
    assert len(keys | {other.cache_key(PROMPT), hot.cache_key(PROMPT)}) == 5


def test_cost_estimate_skips_cached(tmp_path):
    judge, _, _ = _judge(tmp_path, [_completion(GOOD)])
    est = judge.estimate_cost([PROMPT, PROMPT + "x"], repeats=2, price_per_1k_tokens=1.0, reply_tokens=100)
    assert est.requests == 4 and est.cached == 0 and est.reply_tokens == 400
    assert est.prompt_tokens == -(-(4 * (len(SYSTEM_PROMPT) + len(PROMPT)) + 2) // 4)
    assert est.usd == pytest.approx((est.prompt_tokens + 400) / 1000)
    judge.judge(PROMPT)
    assert judge.estimate_cost([PROMPT], repeats=2).cached == 1 and "cached" in str(est)


def test_remote_judge_needs_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(RuntimeError, match="OPENAI_API_KEY"):
        Judge(model="gpt-4", cache_dir=tmp_path)
    Judge(model="m", cache_dir=tmp_path, base_url="http://127.0.0.1:9/v1")  # loopback: dummy key


# ---------------------------------------------------------------- the paper's reply format

def _paper_section(answer, scores, overall, explanations=("fine", "ok", "good"), rating="[[{}]]",
                   head="* Evaluating {}"):
    lines = [head.format(answer)]
    lines += [f'- (C{k + 1}) Explanation: "{e}" Rating: ' + rating.format(v)
              for k, (v, e) in enumerate(zip(scores, explanations))]
    return "\n".join(lines + [f"Therefore, the overall rating of {answer} is [[{overall}]]"])


A1_INT, A2_INT = _paper_section("A1", (9, 8, 10), 9), _paper_section("A2", (7, 6, 8), 7)
# Replies in the official judge's format and what the official parser (`extract_all_scores` in
# HYPJUDY/Sparkles evaluate.py, commit 913424a) returns for them: [overall, C1, C2, C3] per answer, or
# None (it re-asks). Each expectation was checked by running that function on the same text.
PAPER_REPLIES = [
    ("integer", f"{A1_INT}\n\n{A2_INT}", ([9, 9, 8, 10], [7, 7, 6, 8])),
    ("decimal", _paper_section("A1", ("8.5", "9.0", "7.25"), "8.25") + "\n\n"
     + _paper_section("A2", ("6.5", 7, "8"), "7.17"), ([8.25, 8.5, 9.0, 7.25], [7.17, 6.5, 7, 8])),
    ("markdown, bare and single-bracket ratings", "Here is my evaluation.\n\n"
     + _paper_section("A1", (9, 8, 10), 9, head="**Evaluating {}**", rating="{}") + "\n\n"
     + _paper_section("A2", (7, 6, 8), 7, head="### Evaluating {}", rating="[{}]"), ([9, 9, 8, 10], [7, 7, 6, 8])),
    # "(C2)" inside C1's explanation: C2 takes the next rating, C1's (the official parser's reading)
    ("an explanation naming another criterion", _paper_section("A1", (9, 8, 10), 9, ("unlike (C2) asks", "ok", "good"))
     + f"\n\n{A2_INT}", ([9, 9, 9, 10], [7, 7, 6, 8])),
    ("no range check", _paper_section("A1", (0, 11, 10), 9) + f"\n\n{A2_INT}", ([9, 0, 11, 10], [7, 7, 6, 8])),
    ("an overall line missing", f"{A1_INT}\n\n" + A2_INT.rsplit("\n", 1)[0], None),
    ("a criterion missing", f"{A1_INT}\n\n" + A2_INT.replace("(C3)", "(C4)"), None),
    ("a rating before the first section", f"(C1) looks fine. Rating: 3\n{A1_INT}\n\n{A2_INT}", None),
    ("'rating:' in lower case", f"{A1_INT}\n\n{A2_INT}".replace("Rating:", "rating:"), None),
]


@pytest.mark.parametrize("name,reply,official", PAPER_REPLIES, ids=[c[0] for c in PAPER_REPLIES])
def test_paper_format_is_read_as_the_official_parser_reads_it(name, reply, official):
    parsed = parse_ratings(reply)
    if official is None:
        assert not parsed.ok and parsed.scores == {}
        return
    assert parsed.ok, parsed.error
    for answer, expected in zip(("A1", "A2"), official):
        got = [parsed.stated_overall[answer]] + [parsed.scores[f"{answer} C{c}"] for c in (1, 2, 3)]
        assert got == [float(x) for x in expected]
    assert all(isinstance(v, float) for v in parsed.scores.values())
    assert parsed.explanations["A2 C2"] == "ok"


def test_paper_prompt_gives_what_the_paper_gives_and_round_trips():
    x = JudgeInput(INPUT.images, INPUT.questions, INPUT.answers)
    prompt = build_judge_prompt(x, "paper")
    assert "reference" not in prompt.lower() and "* Evaluating A1" in prompt and "overall rating of A2 is" in prompt
    assert all(f"({c})" in prompt for c in ("C1", "C2", "C3")) and "1 to 10" in prompt
    assert '"image_id": "3", "caption": "a big red circle"' in prompt
    back = parse_judge_prompt(prompt)
    assert back.images == x.images and back.questions == x.questions and back.references is None
    with pytest.raises(ValueError, match="reads no reference answers"):
        build_judge_prompt(INPUT, "paper")


def test_paper_protocol_scores_like_the_paper(tmp_path):
    """Through the whole run: an answer's score is the mean of its three criteria, the overall score the
    mean of A1 and A2 (the official `A1 = mean(A1_C123_scores_mean[1:])`); the stated overall is kept."""
    from sparkles_lite.data.schema import ASSISTANT, USER, Dialogue, ImageRef, Message
    from sparkles_lite.eval.judge import JUDGE_SETTINGS, PAPER_SYSTEM_PROMPT
    from sparkles_lite.eval.sparkles_eval import run_sparkles_eval
    from PIL import Image

    reply = PAPER_REPLIES[1][1]
    judge, client, _ = _judge(tmp_path / "cache", [_completion(reply)], **JUDGE_SETTINGS["paper"])
    d = Dialogue([Message(USER, "What is in IMAGE#3<Img><ImageHere></Img>?", [ImageRef("3", "a big red circle")]),
                  Message(ASSISTANT, "A red circle."), Message(USER, "And now?"), Message(ASSISTANT, "Same.")],
                 {"evaluation_id": 0})
    summary = run_sparkles_eval([d], lambda m, im: "an answer", judge, tmp_path / "run",
                                image_lookup=lambda i: Image.new("RGB", (8, 8)), protocol="paper")
    assert summary["A1"] == pytest.approx((8.5 + 9.0 + 7.25) / 3) and summary["A2"] == pytest.approx((6.5 + 7 + 8) / 3)
    assert summary["overall"] == pytest.approx((summary["A1"] + summary["A2"]) / 2)
    assert summary["judge_protocol"] == "paper"
    request = client.requests[0]
    assert request["temperature"] == 1.0 and request["max_tokens"] == 1024
    assert request["messages"][0]["content"] == PAPER_SYSTEM_PROMPT
    assert "reference" not in request["messages"][1]["content"].lower()
    record = json.loads((tmp_path / "run" / "results.jsonl").read_text())
    assert record["judgments"][0]["stated_overall"] == {"A1": 8.25, "A2": 7.17}
