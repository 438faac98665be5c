"""The byte-level GPT: model, training loop (checkpoints, resume, early stop), sampling, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from prover_data.certificates.corpus import export
from prover_data.errors import InputError
from prover_data.manifest import CharGPTTrainer, load_manifest
from prover_models.chargpt.model import CharGPT, GPTConfig, sample_next
from prover_models.chargpt.sample import body, jaccard, sample, shingles
from prover_models.chargpt.train import lr_at, train
from tests.conftest import SAMPLE

# A tiny model on the bundled sample. Attention dropout sends CPU attention to its slow
# reference kernel, so dropout is on only where a test needs it (resume: the random state).
TINY = dict(context_length=256, d_model=32, n_layers=2, n_heads=4, d_mlp=64, dropout=0.0, peak_lr=3e-3,
            final_lr=3e-4, warmup_steps=5, epochs=6, tokens_per_batch=4096, micro_batch_size=8, patience=100,
            log_every=2)


def _manifest(directory: Path, **overrides) -> Path:
    path = directory / "tiny.toml"
    chargpt = "\n".join(f"{k} = {v!r}" for k, v in {**TINY, **overrides}.items())
    path.write_text(
        f'name = "tiny"\ndata_root = "{SAMPLE.as_posix()}"\n[sources]\ntrajectories = ["trajectories/*.parquet"]\n'
        'theorem_index = "theorem_index.json"\n[sources.base_pairs]\npath = "leandojo/benchmark4.json"\n'
        '[filters]\nown_state_sources = ["iter_1_negatives"]\n[certificates]\nstates = "first"\n'
        f'[train.chargpt]\n{chargpt}\n', encoding="utf-8")
    return path


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: on a shared 2-core runner, a second OpenMP thread mostly waits."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The bundled sample's certificates (initial states only, the shorter form)."""
    tmp = tmp_path_factory.mktemp("corpus")
    manifest = load_manifest(_manifest(tmp))
    export(manifest, tmp / "certificates")
    return manifest, tmp / "certificates"


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    manifest, certificates = corpus
    out = tmp_path_factory.mktemp("run") / "chargpt"
    summary = train(manifest, certificates, out, device="cpu", log=lambda _: None)
    return out, summary


def test_parameter_count_at_the_plans_config():
    model = CharGPT(GPTConfig.from_trainer(CharGPTTrainer()))
    assert model.num_parameters() == 9_917_760
    assert model.head.weight is model.embed.weight
    decay, no_decay = model.optimizer_groups(0.1)
    assert len(decay["params"]) == 8 * 4  # q/k/v, out, MLP up and down of each layer
    assert len(no_decay["params"]) == 1 + 8 * 2 + 1  # the tied embedding, the RMSNorm gains
    assert CharGPT(GPTConfig(positional="learned")).num_parameters() == 9_917_760 + 512 * 320


def test_cached_generation_matches_the_full_forward_pass():
    torch.manual_seed(0)
    model = CharGPT(GPTConfig(context_length=64, d_model=32, n_layers=2, n_heads=4, d_mlp=64)).eval()
    idx = torch.randint(0, 256, (2, 40))
    full, _ = model(idx)
    h, past = model._trunk(idx[:, :30])
    h, _ = model._trunk(idx[:, 30:31], past)
    assert torch.allclose(model.head(h)[:, -1], full[:, 30], atol=1e-5)


def test_temperature_and_nucleus():
    logits = torch.tensor([[0.0, 3.0, 2.9, -1.0]])
    assert sample_next(logits, 0.0, 0.9).item() == 1
    g = torch.Generator().manual_seed(0)
    draws = {sample_next(logits, 1.0, 0.01, g).item() for _ in range(50)}
    assert draws == {1}  # the nucleus of top_p 0.01 is the single most likely byte
    draws = {sample_next(logits, 1.0, 0.9, g).item() for _ in range(200)}
    assert draws == {1, 2}  # bytes 0 and 3 lie outside the 0.9 nucleus


def test_schedule_warms_up_then_decays_to_the_final_rate():
    cfg = CharGPTTrainer(warmup_steps=10, peak_lr=3e-4, final_lr=3e-5)
    assert lr_at(0, cfg, 100) == pytest.approx(3e-5)
    assert lr_at(9, cfg, 100) == pytest.approx(3e-4)
    assert lr_at(10, cfg, 100) == pytest.approx(3e-4)
    assert lr_at(100, cfg, 100) == pytest.approx(3e-5)
    assert lr_at(55, cfg, 100) == pytest.approx((3e-4 + 3e-5) / 2)


def test_loss_decreases_and_the_best_three_checkpoints_are_kept(trained):
    out, summary = trained
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()
              if json.loads(line)["kind"] == "epoch"]
    assert len(epochs) == 6 and summary["finished"] and summary["early_stop"] is None
    assert epochs[-1]["val_loss"] < epochs[0]["val_loss"] - 0.3
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"] - 0.3
    assert all(e["val_perplexity"] == pytest.approx(2.718281828 ** e["val_loss"]) for e in epochs)
    best3 = sorted(epochs, key=lambda e: (e["val_loss"], e["epoch"]))[:3]
    assert sorted(p.name for p in out.glob("epoch_*.pt")) == sorted(f"epoch_{e['epoch']:03d}.pt" for e in best3)
    assert (out / "last.pt").is_file() and (out / "curve.png").stat().st_size > 10_000
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["optimizer"]["state"] and ckpt["epoch"] == 6
    config = json.loads((out / "config.json").read_text())
    assert set(config["trainer"]) == {f for f in CharGPTTrainer.__dataclass_fields__}
    assert config["derived"]["parameters"] == summary["parameters"]
    assert config["derived"]["grad_accum"] == 2  # 4096 tokens / (8 rows x 256 bytes)


def test_resume_matches_an_uninterrupted_run(corpus, tmp_path):
    _, certificates = corpus
    manifest = load_manifest(_manifest(tmp_path, dropout=0.1, epochs=2))
    whole = train(manifest, certificates, tmp_path / "whole", device="cpu", log=lambda _: None)
    steps = whole["steps_done"]
    stopped = train(manifest, certificates, tmp_path / "cut", max_steps=steps // 2 + 1, device="cpu",
                    log=lambda _: None)
    assert not stopped["finished"] and stopped["steps_done"] == steps // 2 + 1
    with pytest.raises(InputError, match="already holds a run"):
        train(manifest, certificates, tmp_path / "cut", device="cpu", log=lambda _: None)
    resumed = train(manifest, certificates, tmp_path / "cut", resume="auto", device="cpu", log=lambda _: None)
    assert resumed["best"] == whole["best"] and resumed["steps_done"] == steps
    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    with pytest.raises(InputError, match="other trainer settings"):
        train(manifest, certificates, tmp_path / "cut", epochs=3, resume="auto", device="cpu", log=lambda _: None)


def test_early_stopping_on_a_plateau(corpus, tmp_path):
    _, certificates = corpus
    flat = load_manifest(_manifest(tmp_path, peak_lr=0.0, final_lr=0.0, patience=2))  # val loss never improves
    summary = train(flat, certificates, tmp_path / "run", device="cpu", log=lambda _: None)
    assert summary["early_stop"] and summary["epochs_done"] == 3 and summary["finished"]


def test_a_missing_corpus_names_the_command_that_writes_it(corpus, tmp_path):
    manifest, _ = corpus
    with pytest.raises(InputError, match="export-certificates"):
        train(manifest, tmp_path / "none", tmp_path / "run", device="cpu", log=lambda _: None)


def test_sampler_bytes_validity_and_memorization_report(trained):
    out, _ = trained
    report = sample(out / "last.pt", n=3, max_new_tokens=48, seed=1, device="cpu")
    assert len(report["samples"]) == 3
    for s in report["samples"]:
        assert s["token_ids_in_vocab"] and s["text"].startswith(s["prompt"]) and s["prompt"].startswith("@T ")
        assert s["valid"] == (s["first_error"] is None)
        assert 0.0 <= s["similarity"] <= 1.0
    assert 0.0 <= report["valid_share"] <= 1.0 and 0.0 <= report["near_duplicate_share"] <= 1.0
    again = sample(out / "last.pt", n=3, max_new_tokens=48, seed=1, device="cpu")
    assert [s["text"] for s in again["samples"]] == [s["text"] for s in report["samples"]]


def test_near_duplicate_measure():
    a = "@T x\n@C h : 0 < a\n@G ⊢ a ^ 2 > 0\n@P positivity\n@E\n"
    renamed = a.replace("@T x", "@T y.z : 0 < a → a ^ 2 > 0")
    other = "@T x\n@C f : ℝ → ℝ\n@G ⊢ f 3 = 9\n@P nlinarith [sq_nonneg (f 1)]\n@E\n"
    assert jaccard(shingles(body(a)), shingles(body(renamed))) == 1.0
    assert jaccard(shingles(body(a)), shingles(body(other))) < 0.9


def test_cli_train_then_sample(corpus, tmp_path, cli):
    manifest, certificates = corpus
    proc = cli("train-chargpt", str(manifest.path), "--certificates", str(certificates), "--out",
               str(tmp_path / "run"), "--epochs", "1", "--device", "cpu", "--json", env=ONE_THREAD, check=True)
    summary = json.loads(proc.stdout)
    assert summary["epochs_done"] == 1 and summary["checkpoints"] == ["epoch_001.pt"]
    proc = cli("sample-chargpt", str(tmp_path / "run" / "epoch_001.pt"), "--n", "2", "--max-new-tokens", "16",
               "--device", "cpu", "--out", str(tmp_path / "samples.txt"), "--json", env=ONE_THREAD, check=True)
    report = json.loads(proc.stdout)
    assert len(report["samples"]) == 2 and (tmp_path / "samples.txt").read_text(encoding="utf-8")


def test_cli_epochs_override_caps_the_warmup_so_the_run_decays(corpus, tmp_path, cli):
    _, certificates = corpus
    # One row per step: 54 steps in the one epoch, where the manifest's warmup asks for 100.
    manifest = _manifest(tmp_path, warmup_steps=100, micro_batch_size=1, tokens_per_batch=256, log_every=1)
    proc = cli("train-chargpt", str(manifest), "--certificates", str(certificates), "--out", str(tmp_path / "run"),
               "--epochs", "1", "--device", "cpu", "--json", env=ONE_THREAD, check=True)
    total = json.loads((tmp_path / "run" / "config.json").read_text())["derived"]["total_steps"]
    assert total == 54
    assert ("train.chargpt.warmup_steps = 100 is more than 10% of this 54-step run (--epochs 1); "
            "using warmup_steps = 5") in proc.stderr
    lrs = [json.loads(line)["lr"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
           if json.loads(line)["kind"] == "step"]
    assert len(lrs) == total and max(lrs) == pytest.approx(TINY["peak_lr"])
    assert lrs[:6] == pytest.approx([TINY["peak_lr"] * s / 5 for s in (1, 2, 3, 4, 5, 5)])  # warmup, cosine from 5 ...
    assert all(a > b for a, b in zip(lrs[5:], lrs[6:])) and lrs[-1] < TINY["peak_lr"] / 5  # ... down to final_lr
