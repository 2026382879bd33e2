"""Training: trainable parameters, schedules, resume, data-parallel on 2 CPU processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch

from sparkles_lite.assets import LITE_LM, NAMED_MODELS
from sparkles_lite.lite.training import train_lite
from sparkles_lite.model.sparkles_chat import SparklesChat
from sparkles_lite.train import common
from sparkles_lite.train.common import length_grouped_batches
from sparkles_lite.train.finetune import finetune_args


def test_only_pooling_and_projection_train():
    model = SparklesChat.from_pretrained("lite")
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"pooling", "projection"}
    counts = model.parameter_counts()
    assert counts["trainable"] == counts["pooling"] + counts["projection"] < counts["lm"] / 20


def test_cosine_schedule_warms_up_then_decays():
    lrs = [common.cosine_lr(p / 100, 1.0) for p in range(101)]
    assert lrs[0] < lrs[5] and max(lrs) <= 1.0
    assert abs(lrs[-1] - 0.1) < 1e-6 and lrs[50] > lrs[90]


def test_batches_round_to_a_multiple_of_64_only_on_a_gpu():
    assert common.pad_multiple(torch.device("cpu")) == 1
    assert common.pad_multiple(torch.device("cuda")) == 64  # a device name; no GPU needed to build it


def test_measures_read_as_sentences_and_batch_order_is_one_function():
    from sparkles_lite.train.finetune import format_measures

    assert format_measures({"heldout_loss": 2.15892493724823, "select_accuracy": 0.23}) == \
        "held-out loss 2.159, select accuracy 23.0%"
    assert format_measures({"heldout_loss": None}) == "held-out loss not measured"
    a, b = common.shuffle_rng(3), common.shuffle_rng(3)
    assert length_grouped_batches(list(range(100)), 8, a) == length_grouped_batches(list(range(100)), 8, b)
    assert common.shuffle_rng(3).random() != common.shuffle_rng(3, step=1).random()  # a resumed run draws on


def test_step_budget_progress_uses_steps_or_time():
    budget = common.StepBudget(max_steps=10, minutes=None)
    assert budget.progress(5) == 0.5 and budget.done(10) and not budget.done(9)
    timed = common.StepBudget(max_steps=10**9, minutes=1e-9)
    assert timed.done(1)


def test_length_grouped_batches_cover_everything_once():
    import random
    lengths = [random.Random(i).randint(5, 200) for i in range(300)]
    batches = length_grouped_batches(lengths, 16, random.Random(0))
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(300))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 60  # grouped: far less padding than random batches (~190)


def _args(tmp_path, **kw):
    base = dict(stage=2, out=str(tmp_path / "run"), init="minigpt4-lite", n_train=24, batch_size=4,
                eval_n=0, quiet=True, log_every=1, checkpoint_every=2, max_steps=3)
    base.update(kw)
    return finetune_args(**base)


def test_finetune_lowers_heldout_loss_saves_and_resumes(tmp_path):
    first = train_lite(_args(tmp_path, max_steps=4, lr=1e-3, n_train=48, batch_size=8))
    assert first["steps"] == 4 and first["after"]["heldout_loss"] < first["before"]["heldout_loss"]
    assert (tmp_path / "run" / "trainable.safetensors").exists()
    resumed = train_lite(_args(tmp_path, max_steps=6, lr=1e-3, n_train=48, batch_size=8))
    assert resumed["steps"] == 6  # continued from the step-4 checkpoint, not from 0
    reloaded = SparklesChat.from_pretrained(tmp_path / "run")
    meta = json.loads((tmp_path / "run" / "sparkles_config.json").read_text())
    assert set(meta["trainable_tensors"]) == {n for n, p in reloaded.named_parameters() if p.requires_grad}
    # the metrics carry every run behind the init weights, so continued runs keep the whole history
    shipped = json.loads((NAMED_MODELS["minigpt4-lite"] / "train_metrics.json").read_text())
    assert len(resumed["earlier_runs"]) == len(shipped["earlier_runs"]) + 1
    chained = train_lite(_args(tmp_path, out=str(tmp_path / "next"), init=str(tmp_path / "run"), max_steps=1))
    assert chained["earlier_runs"][-1]["steps"] == 6
    assert len(chained["earlier_runs"]) == len(resumed["earlier_runs"]) + 1


def _torchrun(out, *args: str) -> subprocess.CompletedProcess:
    """`torchrun --nproc-per-node 2` on the CPU (gloo), stage 2 from the shipped stage-1 projection."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "sparkles_lite", "train", "--stage", "2", "--init", "minigpt4-lite", "--out", str(out),
           "--batch-size", "2", "--eval-n", "0", "--n-val", "4", "--quiet", "--log-every", "1", "--device", "cpu",
           *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _step_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith('{"step"')]


def test_data_parallel_with_uneven_batches_and_fewer_examples_than_processes_resumes(tmp_path):
    """5 examples on 2 processes of 2: every epoch ends with a batch of 1, so rank 1's share is empty;
    it must still join the all-reduce (it used to skip it, and the run hung). One log line per step
    (rank 0's), a checkpoint every 2 steps; the resumed run (the same data: a folder is bound to its
    run) continues from it. A run on a single example, fewer than the processes, gives rank 1 nothing
    in any step."""
    first = _torchrun(tmp_path / "ddp", "--n-train", "5", "--max-steps", "4", "--checkpoint-every", "2")
    assert [row["step"] for row in _step_lines(first.stdout)] == [1, 2, 3, 4]
    assert first.stdout.count("before:") == 1 and first.stdout.count("trainable parameters") == 1
    result = json.loads((tmp_path / "ddp" / "train_metrics.json").read_text())
    assert result["steps"] == 4 and result["world_size"] == 2 and result["precision"]["device"] == "cpu"
    assert common.load_checkpoint(tmp_path / "ddp" / "checkpoint.safetensors")["step"] == 4
    again = _torchrun(tmp_path / "ddp", "--n-train", "5", "--max-steps", "6", "--checkpoint-every", "2")
    assert again.stdout.count("resumed at step 4/6") == 1
    assert [row["step"] for row in _step_lines(again.stdout)] == [5, 6]
    assert json.loads((tmp_path / "ddp" / "train_metrics.json").read_text())["steps"] == 6
    assert SparklesChat.from_pretrained(tmp_path / "ddp").parameter_counts()["trainable"] > 0
    single = _torchrun(tmp_path / "one", "--n-train", "1", "--max-steps", "2", "--checkpoint-every", "0")
    assert [row["step"] for row in _step_lines(single.stdout)] == [1, 2]
    assert json.loads((tmp_path / "one" / "train_metrics.json").read_text())["n_train"] == 1


def test_pretrain_vision_resumes_from_checkpoint(tmp_path):
    from sparkles_lite.cli import main
    base = ["pretrain", "--part", "vision", "--out", str(tmp_path), "--batch-size", "8", "--workers", "0",
            "--checkpoint-every", "2", "--quiet", "--log-every", "1"]
    assert main(base + ["--max-steps", "2"]) == 0
    assert main(base + ["--max-steps", "4"]) == 0
    state = common.load_checkpoint(tmp_path / "checkpoint-vision.safetensors")
    assert state["step"] == 4
    assert (tmp_path / "vision" / "model.safetensors").exists()


def test_lm_stream_groups_similar_lengths(tmp_path):
    """One draw gives LENGTH_GROUP full batches with far less padding than a random batch would."""
    from sparkles_lite.config import preset
    from sparkles_lite.lite.pretrain import LENGTH_GROUP, _LMBatcher
    from sparkles_lite.lite.tasks import LiteGenerator
    batcher = _LMBatcher(str(LITE_LM), preset("lite").max_length)
    batches = batcher(LiteGenerator(0), 16)
    assert len(batches) == LENGTH_GROUP
    assert all(ids.shape[0] == 16 for ids, _, _ in batches)
    padding = 1 - sum(int(m.sum()) for _, m, _ in batches) / sum(m.numel() for _, m, _ in batches)
    lengths = torch.cat([m.sum(1) for _, m, _ in batches])
    random_padding = 1 - lengths.float().mean().item() / lengths.max().item()
    assert padding < random_padding / 3


def test_lm_mixture_reweights_named_tasks_and_rejects_bad_input():
    import pytest

    from sparkles_lite.config import preset
    from sparkles_lite.lite.pretrain import LM_MIXTURE, lm_texts, parse_mixture
    from sparkles_lite.lite.tasks import LiteGenerator
    from sparkles_lite.model.tokenizer import load_tokenizer
    assert parse_mixture(None) == LM_MIXTURE
    mixture = parse_mixture("bison=0.3, nlvr2=0")
    assert mixture["bison"] == 0.3 and mixture["nlvr2"] == 0 and mixture["dialogue"] == LM_MIXTURE["dialogue"]
    only_bison = parse_mixture(",".join(f"{t}={int(t == 'bison')}" for t in LM_MIXTURE))
    tokenizer = load_tokenizer(LITE_LM)
    texts = lm_texts(LiteGenerator(0), tokenizer, 12, preset("lite").max_length, only_bison)
    assert all("matches the caption" in tokenizer.decode(a.input_ids) for a in texts)
    assert LM_MIXTURE["turn2_select"] == 0  # on only when named: a continuation aimed at it
    only_turn2 = parse_mixture(",".join(f"{t}={int(t == 'turn2_select')}" for t in LM_MIXTURE))
    for a in lm_texts(LiteGenerator(0), tokenizer, 12, preset("lite").max_length, only_turn2):
        second_question = tokenizer.decode(a.input_ids).split("###Human:")[2]
        assert "Which image has" in second_question, second_question
    for bad, message in (("bisonn=0.3", "'bisonn=0.3' is not TASK=WEIGHT"), ("bison", "'bison' is not TASK=WEIGHT"),
                         ("bison=lots", "weight of 'bison' is not a number"), ("bison=-1", "is negative"),
                         (",".join(f"{t}=0" for t in LM_MIXTURE), "every task's weight is 0")):
        with pytest.raises(ValueError, match=message):
            parse_mixture(bad)


def test_pretrain_lm_continues_from_saved_weights_and_resumes(tmp_path):
    from sparkles_lite.cli import main
    base = ["pretrain", "--part", "lm", "--init", str(LITE_LM), "--out", str(tmp_path), "--batch-size", "4",
            "--workers", "0", "--checkpoint-every", "1", "--eval-n", "2", "--quiet", "--log-every", "1"]
    assert main(base + ["--max-steps", "1", "--no-resume"]) == 0
    assert main(base[:3] + base[5:] + ["--max-steps", "2"]) == 0  # resumes its own run, no --init
    assert common.load_checkpoint(tmp_path / "checkpoint-lm.safetensors")["step"] == 2
    assert (tmp_path / "lm" / "model.safetensors").exists() and (tmp_path / "lm" / "tokenizer.json").exists()
    # the exported metrics carry the runs behind the init weights, and this run's command line
    shipped = json.loads((LITE_LM / "pretrain_metrics.json").read_text())
    metrics = json.loads((tmp_path / "lm" / "pretrain_metrics.json").read_text())
    assert len(metrics["earlier_runs"]) == len(shipped["earlier_runs"]) + 1
    assert metrics["earlier_runs"][-1]["command"] == shipped["command"]
    assert metrics["command"].startswith("python -m sparkles_lite pretrain --part lm --out")


def test_runs_behind_lists_the_carried_runs_then_the_own_one(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"steps": 3, "history": [1, 2], "earlier_runs": [{"steps": 1}, {"steps": 2}]}))
    assert common.runs_behind(path) == [{"steps": 1}, {"steps": 2}, {"steps": 3, "history": [1, 2]}]
    assert common.runs_behind(path, omit=("earlier_runs", "history")) == [{"steps": 1}, {"steps": 2}, {"steps": 3}]
    assert common.runs_behind(tmp_path / "missing.json") == [] and common.runs_behind(None) == []
