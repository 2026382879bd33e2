"""The one loopback server class (behind the fake LLM and the offline judge) and the one OpenAI-client
helper (behind the judge and the LLM data generator), tested with the real `openai` client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from types import SimpleNamespace

import openai
import pytest

from sparkles_lite.local_server import LoopbackServer
from sparkles_lite.openai_client import LOOPBACK_KEY, UnreadableReply, is_loopback_url, make_client, reply_text


def _post(url: str, raw: bytes) -> tuple[int, dict, dict]:
    req = urllib.request.Request(url + "/chat/completions", data=raw, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def test_the_real_client_reads_every_kind_of_reply(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    replies = iter(["hello", {"choices": None}, 418])
    with LoopbackServer(lambda request: next(replies), "m-1") as srv:
        client = make_client(srv.base_url, max_retries=0)
        completion = client.chat.completions.create(model="asked", messages=[{"role": "user", "content": "hi"}])
        assert reply_text(completion) == "hello" and completion.model == "asked"
        with pytest.raises(UnreadableReply, match="no choices"):
            reply_text(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}]))
        with pytest.raises(openai.APIStatusError) as e:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert e.value.status_code == 418
        assert [m.id for m in client.models.list().data] == ["m-1"]


def test_bad_requests_and_answer_bugs_are_json_errors_never_dropped_connections():
    def answer(request):
        if request.get("boom"):
            raise KeyError("a bug")
        raise ValueError("not a judge prompt")

    with LoopbackServer(answer, "m", retry_after_ms=7) as srv:
        status, headers, body = _post(srv.base_url, b"{not json")
        assert status == 400 and "error" in body
        status, headers, body = _post(srv.base_url, json.dumps({"messages": []}).encode())
        assert status == 400 and body["error"]["message"] == "not a judge prompt"
        assert headers.get("retry-after-ms") == "7"
        status, _, body = _post(srv.base_url, json.dumps({"boom": True}).encode())
        assert status == 500 and "KeyError" in body["error"]["message"]
        status, _, _ = _post(srv.base_url.replace("/v1", "/v2"), b"{}")
        assert status == 404


def test_binds_only_to_loopback_and_frees_its_port():
    with pytest.raises(ValueError, match="binds only to loopback"):
        LoopbackServer(lambda r: "x", "m", host="0.0.0.0")
    srv = LoopbackServer(lambda r: "x", "m").start()
    srv.close()
    assert not srv.thread.is_alive()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(srv.base_url + "/models", timeout=2)


def test_keys_a_remote_api_needs_and_a_loopback_server_does_not(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert make_client("http://127.0.0.1:9/v1").api_key == LOOPBACK_KEY
    assert make_client("http://localhost:9/v1", max_retries=5).max_retries == 5
    with pytest.raises(RuntimeError, match="OPENAI_API_KEY"):
        make_client("https://api.openai.com/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert make_client("https://api.openai.com/v1").api_key == "sk-env"
    assert make_client("https://api.openai.com/v1", api_key="sk-given").api_key == "sk-given"
    assert [is_loopback_url(u) for u in ("http://127.0.0.2:1", "http://[::1]:8/v1", "https://example.com", None)] \
        == [True, True, False, False]


@pytest.mark.parametrize("completion, reason", [
    (SimpleNamespace(choices=[]), "no choices"),
    (SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content="  "))]), "no message content"),
    (SimpleNamespace(choices=[SimpleNamespace(message=None)]), "no message content"),
    (SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content="half a"), finish_reason="length")]),
     "cut off"),
])
def test_reply_text_names_what_is_missing(completion, reason):
    with pytest.raises(UnreadableReply, match=reason):
        reply_text(completion)
