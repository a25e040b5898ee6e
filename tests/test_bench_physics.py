"""The bench extensions of the serving physics (mcfoot.footprint, mcfoot.benchmodel):
data-parallel replicas and attention FLOPs, in analytic cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mcfoot import benchmodel as bn
from mcfoot import footprint as fp

#: H100-like datasheet and efficiencies (test inputs, not priors)
HW = dict(spec_tokens=1.0, tdp_w=700.0, memory_gb=80.0, bandwidth_tb_s=3.35,
          peak_tflops=989.4, bandwidth_efficiency=0.6, compute_efficiency=0.4, power_low=0.4,
          power_high=0.8, host_power_w=0.0, memory_utilization=0.9, weight_memory_share=1.0,
          max_batch=512.0, idle_fraction=0.0)
BW, FL = 3.35e12 * 0.6, 989.4e12 * 0.4  # bytes/s and FLOP/s of one GPU


def params(active=8.0, ratio=1.0, kv=131.072, gpus=1.0, **kw):
    return fp.serving_parameters(active_params=active, moe_total_ratio=ratio,
                                 bytes_per_param=2.0, kv_cache_kb=kv, accelerators=gpus,
                                 **HW, **kw)


def test_one_replica_and_no_attention_terms_leave_the_physics_unchanged():
    """The defaults reproduce decode_step_s's weight term and the per-sequence work of
    compute, KV reads and state exactly (the catalogue's serving physics)."""
    p = params(ratio=4.0)
    for batch in (1.0, 7.0, 300.0):
        b = p["seq_compute_s"] + p["seq_kv_s_per_token"] * 900.0
        assert fp.weight_stream_s(batch, p) + batch * fp.per_sequence_s(900.0, p) == \
            fp.decode_step_s(batch, p["weight_read_s"], p["log_unused_share"], b)


def test_dense_replicas_each_stream_the_weights():
    """r data-parallel replicas of a dense model on n GPUs: each streams all W at n / r GPUs'
    bandwidth per step, so the instance's weight time is r W / (n BW) and the energy per
    token at batch B is that of one replica at B / r."""
    one, four = params(gpus=4.0), params(gpus=4.0, replicas=4.0)
    w = 8e9 * 2.0
    assert fp.weight_stream_s(64.0, four) == pytest.approx(4 * w / (4 * BW), rel=1e-12)
    e4 = fp.decode_energy_per_token_j(64.0, 500.0, four)
    single = params(gpus=1.0)
    assert e4 == pytest.approx(fp.decode_energy_per_token_j(16.0, 500.0, single), rel=1e-12)
    assert e4 > fp.decode_energy_per_token_j(64.0, 500.0, one)
    # each dense replica holds the weights: the KV cache gets what is left of 4 x 80 GB
    free = 4 * 80e9 * 0.9 - 4 * w
    assert four["kv_capacity_tokens"] == pytest.approx(free / 131.072e3, rel=1e-12)


def test_moe_replicas_stream_the_experts_their_share_touches():
    """MoE (R = total / active): each of r ranks reads the share 1 - (1 - 1/R)^(B/r) of the
    weights; the experts are stored once (sharded)."""
    r, ratio, batch = 8.0, 10.0, 16.0
    p = params(active=3.0, ratio=ratio, gpus=8.0, replicas=r)
    w = 3e9 * ratio * 2.0
    expect = r * w / (8 * BW) * (1 - (1 - 1 / ratio) ** (batch / r))
    assert fp.weight_stream_s(batch, p) == pytest.approx(expect, rel=1e-12)
    assert p["kv_capacity_tokens"] == pytest.approx((8 * 80e9 * 0.9 - w) / 131.072e3)
    # more replicas at the same batch: more expert reads (fewer shared per step)
    assert fp.weight_stream_s(batch, p) > fp.weight_stream_s(batch, params(
        active=3.0, ratio=ratio, gpus=8.0))


def test_attention_flops_per_sequence():
    """Per-sequence work at context L: 2 N FLOP at F, + the KV cache (kv B/token) read at BW
    and a kv FLOP per context token at F."""
    a, kv = 4.0, 65.536
    p = params(kv=kv, attention_flop_per_kv_byte=a)
    for ctx in (300.0, 5000.0):
        expect = 2 * 8e9 / FL + kv * 1e3 * ctx * (1 / BW + a / FL)
        assert fp.per_sequence_s(ctx, p) == pytest.approx(expect, rel=1e-12)


def test_prefill_attention_over_the_causal_half_of_the_input():
    p0 = params()
    p1 = params(attention_flop_per_kv_byte=4.0)
    t_in, t_out = 2000.0, 100.0
    e0, s0 = fp.bench_energy_per_token_j(1.0, t_in, t_out, p0)
    e1, s1 = fp.bench_energy_per_token_j(1.0, t_in, t_out, p1)
    attn = 4.0 * 131.072e3 / FL  # s per context token
    decode_extra = attn * (t_in + 0.5 * t_out)
    prefill_extra = t_in / t_out * attn * 0.5 * t_in
    assert s1 - s0 == pytest.approx(decode_extra + prefill_extra, rel=1e-9)
    assert e1 - e0 == pytest.approx(700 * 0.8 * (decode_extra + prefill_extra), rel=1e-9)


def test_attention_intensity_of_gqa_and_mla():
    a = bn.attention_intensity()
    assert a["Qwen/Qwen3-8B"] == 32 / 8  # GQA group
    assert a["openai/gpt-oss-20b"] == 64 / 8
    assert a["deepseek-ai/DeepSeek-V3.1"] == pytest.approx(128 * (2 * 512 + 64) / (512 + 64))
    mu, sd = bn.intensity_prior(2, sd_factor=1.5)
    assert np.all(sd > 0) and np.all(np.exp(mu) > 2) and np.all(np.exp(mu) < 242)



def test_a_withheld_model_leaves_the_unknown_architecture_priors():
    """Leave-one-model-out: the intensity and state priors learn from the table less the
    withheld model (an id not in the table is ignored), so its own row cannot inform them."""
    t = bn.model_configs()
    m = "deepseek-ai/DeepSeek-V3.1"  # MLA: the intensity furthest from the GQA models
    x = np.log(bn.attention_intensity(t.drop(index=[m])).to_numpy(float))
    mu, sd = bn.intensity_prior(1, (m, "not/in-the-table"), sd_factor=1.5)
    assert mu[0] == x.mean() and sd[0] == x.std(ddof=1) * 1.5
    assert bn.intensity_prior(1, sd_factor=1.5)[0][0] != mu[0]
    hybrid = t.index[t.mamba_state_bytes_per_seq_bf16.notna()][0]
    kind = bn.ARCHITECTURES[2]
    kept, _ = bn.state_prior([10.0], [kind], (hybrid,), sd_factor=1.5)
    assert kept[0] != bn.state_prior([10.0], [kind], sd_factor=1.5)[0][0]

def test_replicas_from_the_parallelism_columns():
    base = pd.DataFrame({"num_gpus": [8, 8, 8, 4], "tensor_parallel": [1, 2, 8, np.nan],
                         "expert_parallel": [8, 1, 1, np.nan],
                         "data_parallel": [8, np.nan, 1, np.nan]})
    np.testing.assert_array_equal(bn.replicas(base), [8.0, 4.0, 1.0, 1.0])
    np.testing.assert_array_equal(bn.replicas(base[["num_gpus"]]), [1.0] * 4)


def test_b200_low_precision_factor_and_fits_without_it():
    """The B200 factor multiplies the precision's factor on B200's FP8/FP4 runs only; a fit
    file without it (written before it existed) predicts as if it were 1."""
    from mcfoot import benchpredict as bp
    from mcfoot import rng

    data = bn.load_measurements()
    cfg = bn.read_configs(pd.concat([
        data[(data.gpu_model == "B200") & (data.weight_precision == "fp8")].head(2),
        data[(data.gpu_model == "H100") & (data.weight_precision == "fp8")].head(1),
        data[(data.gpu_model == "B200") & (data.weight_precision == "bfloat16")].head(1)]))
    fit = bp.load_fit("bench")
    name = "low_precision_gpu_factor__B200"
    one = fit.assign({name: fit[name] * 0 + 1.0})
    half = fit.assign({name: fit[name] * 0 + 0.5})

    def energy(f):
        out, _ = bp.predict(f, cfg, 64, rng.normalize_seed(1))
        return out["energy_per_token_j"]

    np.testing.assert_array_equal(energy(fit.drop_vars(name)), energy(one))
    changed = np.any(energy(half) != energy(one), axis=1)
    np.testing.assert_array_equal(changed, [True, True, False, False])
