import json
import urllib.error
import urllib.request

import pytest

from sparkles_lite.eval.judge import SCORE_KEYS, Judge, JudgeInput, build_judge_prompt
from sparkles_lite.lite.judge_server import MODEL_ID, start_judge_server
from sparkles_lite.local_server import check_loopback


@pytest.fixture(scope="module")
def server():
    srv, url = start_judge_server(port=0)
    yield url
    srv.close()


def _post(url, body, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(url + "/chat/completions", data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_real_client_end_to_end(server, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    x = JudgeInput([("3", "a big red circle"), ("9", "two small blue squares")],
                   ["What is in IMAGE#3?", "Here is IMAGE#9. What is in IMAGE#9?"],
                   ["IMAGE#3 shows a big red circle.", "IMAGE#9 shows a big red circle."],
                   ["IMAGE#3 shows a big red circle.", "IMAGE#9 shows two small blue squares."])
    judge = Judge(model=MODEL_ID, cache_dir=tmp_path, base_url=server)
    j = judge.judge(build_judge_prompt(x))
    assert j.ok and set(j.scores) == set(SCORE_KEYS) and j.scores["A1 C1"] == 10 and j.scores["A2 C1"] == 1
    assert judge.judge(build_judge_prompt(x)).cached


def test_models_and_errors(server):
    with urllib.request.urlopen(server + "/models", timeout=5) as r:
        assert json.loads(r.read())["data"][0]["id"] == MODEL_ID
    status, body = _post(server, {"model": "m", "messages": [{"role": "user", "content": "hello"}]})
    assert status == 400 and "not a judge prompt" in body["error"]["message"]
    assert _post(server, None, raw=b"{not json")[0] == 400
    assert _post(server, {"model": "m", "messages": []})[0] == 400
    assert _post(server, {"model": "m", "messages": [{"role": "system", "content": "x"}]})[0] == 400


def test_refuses_non_loopback():
    assert check_loopback("localhost") in ("127.0.0.1", "::1")
    for host in ("0.0.0.0", "8.8.8.8"):
        with pytest.raises(ValueError, match="loopback"):
            start_judge_server(host=host)


def test_clean_shutdown_frees_the_port():
    srv, url = start_judge_server()
    srv.close()
    assert not srv.thread.is_alive()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/models", timeout=2)
