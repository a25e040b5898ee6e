"""Bench predictions (mcfoot.bench) and the fit of the bench physics (mcfoot.benchfit)."""

from __future__ import annotations

import numpy as np
import pytest

from mcfoot import benchfit as bf
from mcfoot import benchmodel as bn
from mcfoot import benchpredict as bp
from mcfoot import footprint as fp
from mcfoot.cli import main
from mcfoot.errors import InputError

#: the shipped widening of the size priors for unknown architectures
KV_SD = bf.fit_priors().fixed("unknown_architecture", "kv_sd_factor")


@pytest.fixture(scope="module")
def data():
    return bn.load_measurements()


@pytest.fixture(scope="module")
def configs(data):
    keep = ["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen3-30B-A3B-Instruct-2507"]
    return data[data.model_id.isin(keep)].groupby("model_id").head(3).reset_index(drop=True)


def test_shipped_data_loads_whole(data):
    assert len(data) == 348 and data.model_id.nunique() == 17
    assert data.attrs["hash"].startswith("sha256:")
    assert set(data.model_id) <= set(bn.model_configs().index)


@pytest.mark.parametrize("column, value, words", [
    ("gpu_model", "A100", "unknown 'A100'"), ("weight_precision", "int4", "unknown 'int4'"),
    ("task", "chat", "unknown 'chat'"), ("architecture", "RNN", "unknown 'RNN'"),
    ("total_params_billions", 0, "must be > 0"), ("activated_params_billions", -1, "> 0"),
    ("max_num_seqs", 0, "integer >= 1"), ("num_gpus", 1.5, "integer >= 1"),
    ("activated_params_billions", 1e4, "exceed total_params_billions"),
    ("data_parallel", 16, "integer from 1 to num_gpus"),
])
def test_bad_input_names_row_and_column(configs, column, value, words):
    bad = configs.copy()
    bad[column] = bad[column].astype(object)
    bad.loc[1, column] = value
    with pytest.raises(InputError) as e:
        bn.read_configs(bad)
    msg = str(e.value)
    assert f"row 3 (line 3), column '{column}'" in msg and words in msg
    assert "row 2 " not in msg  # only the bad row


def test_missing_column(configs):
    with pytest.raises(InputError, match="column 'task': missing"):
        bn.read_configs(configs.drop(columns="task"))


def test_cli_bad_input_exits_2_writes_nothing(configs, tmp_path, capsys):
    bad = configs.assign(gpu_model="A100")
    path, out = tmp_path / "bad.csv", tmp_path / "out.nc"
    bad.to_csv(path, index=False)
    assert main(["bench", str(path), "--fit", "prior", "-o", str(out), "--draws", "50"]) == 2
    assert "column 'gpu_model'" in capsys.readouterr().err and not out.exists()


def test_measured_columns_are_not_inputs(configs):
    a = bp.bench(configs, scenario="prior", draws=200, seed=1)
    b = bp.bench(configs.assign(avg_batch_size=1.0, energy_per_token_joules=99.0),
                 scenario="prior", draws=200, seed=1)
    np.testing.assert_array_equal(a.energy_per_token_j, b.energy_per_token_j)


def test_result_units_provenance_and_seed(configs):
    a = bp.bench(configs, scenario="prior", draws=300, seed=3)
    assert a.energy_per_token_j.dims == ("config", "draw")
    assert a.energy_per_request_j.attrs["units"] == "J/request"
    assert a.avg_power_w.attrs["units"] == "W" and a.running_batch.attrs["units"] == "request"
    assert a.attrs["result_kind"] == "bench" and a.attrs["data_hash"].startswith("sha256:")
    np.testing.assert_allclose(a.energy_per_request_j,
                               a.energy_per_token_j * configs.avg_output_len.values[:, None])
    b = bp.bench(configs, scenario="prior", draws=300, seed=3)
    c = bp.bench(configs, scenario="prior", draws=300, seed=4)
    np.testing.assert_array_equal(a.energy_per_token_j, b.energy_per_token_j)
    assert not np.array_equal(a.energy_per_token_j, c.energy_per_token_j)


def test_bench_energy_analytic_dense_batch_one():
    """Dense model, batch 1, no prefill: energy per token = P_lo * W/BW + P_hi * b."""
    p = fp.serving_parameters(8.0, 1.0, 2.0, 131.072, 1.0, 700.0, 80.0, 3.35, 989.4, 0.6, 0.4,
                              0.4, 0.8, 0.0, 0.9, 1.0, 64.0, 0.0, accelerators=1.0)
    e, s = fp.bench_energy_per_token_j(1.0, 0.0, 100.0, p)
    bw, fl = 3.35e12 * 0.6, 989.4e12 * 0.4
    b = 2 * 8e9 / fl + 131.072e3 * 50.0 / bw
    assert e == pytest.approx(700 * 0.4 * 16e9 / bw + 700 * 0.8 * b, rel=1e-12)
    assert s == pytest.approx(16e9 / bw + b, rel=1e-12)
    e_big, _ = fp.bench_energy_per_token_j(64.0, 0.0, 100.0, p)
    assert e_big < e  # the weight stream is shared by the batch


def test_compute_speedup_default_is_datasheet_ratio():
    args = (8.0, 1.0, 1.0, 131.0, 1.0, 700.0, 80.0, 3.35, 989.4, 0.6, 0.4, 0.4, 0.8, 0.0,
            0.9, 1.0, 64.0, 0.0)
    a = fp.serving_parameters(*args, accelerators=1.0)
    b = fp.serving_parameters(*args, accelerators=1.0, compute_speedup=2.0)
    assert a["prefill_s_per_token"] == b["prefill_s_per_token"]


def _simulated(data, truth_z, lay, seed):
    """Measurements simulated from the physics itself at known parameters, no model effects,
    small residuals."""
    prob = bf.problem(data)
    v = lay.natural(truth_z[None])
    th = bf._gather(v, prob.c, prob.fixed)
    tin = np.stack([v[f"input_tokens/{t}"] for t in bn.TASKS])[prob.task_index]
    ph = bn.bench_physics(bn.columns(prob.c), th, prob.kv[:, None], tin,
                          prob.c["state_known"][:, None],
                          intensity=prob.c["intensity_known"][:, None])
    g = np.random.default_rng(seed)
    return data.assign(
        energy_per_token_joules=ph["energy_per_token_j"][:, 0] * np.exp(
            0.03 * g.standard_normal(len(data))),
        avg_power_watts=ph["avg_power_w"][:, 0] * np.exp(0.03 * g.standard_normal(len(data))))


def test_mode_recovers_parameters_of_simulated_bench(data):
    lay = bf.problem(data).layout
    n = len(lay.names) - len(lay.models)
    truth = lay.mean.copy()
    named = {"bandwidth_efficiency/H100": 0.75, "bandwidth_efficiency/B200": 0.5,
             "power_fraction_memory_bound/H100": 0.45, "input_tokens/sourcegraph-fim": 5000.0}
    for k, x in named.items():
        i = lay.names.index(k)
        truth[i] = np.log(x) if lay.transform[i] == "log" else np.log(x / (1 - x))
    truth[n:] = 0.0
    truth[lay.names.index("discrepancy/model_scale")] = np.log(0.05)
    sim = _simulated(data, truth, lay, 0)
    mode, cov = bf.find_mode(bf.problem(sim))
    got = lay.natural(mode)
    for k, x in named.items():
        sd = np.sqrt(cov[lay.names.index(k), lay.names.index(k)])
        assert abs(np.log(got[k]) - np.log(x)) < max(3 * sd, 0.05), k


def test_sampler_reproducible_from_seed(data):
    small = data.groupby("model_id").head(4)
    a = bf.fit(small, seed=5, chains=2, warmup=200, iterations=400, thin=4, strict=False)
    b = bf.fit(small, seed=5, chains=2, warmup=200, iterations=400, thin=4, strict=False)
    np.testing.assert_array_equal(a.model_effect, b.model_effect)
    assert a.attrs["fit_hash"] == b.attrs["fit_hash"] and "acceptance" in a.attrs


def test_unseen_model_gets_wider_interval(configs):
    seen = bp.bench(configs.iloc[:1], draws=2000, seed=0)
    unseen = bp.bench(configs.iloc[:1].assign(model_id="someone/new-8B"), draws=2000, seed=0)
    assert bool(seen.model_in_fit[0]) and not bool(unseen.model_in_fit[0])
    assert not bool(unseen.architecture_from_table[0])

    def width(ds):
        q = np.quantile(ds.energy_per_token_j.values[0], [0.05, 0.95])
        return q[1] / q[0]

    assert width(unseen) > 1.2 * width(seen)


def test_kv_prior_holds_withheld_models():
    t = bn.model_configs()
    inside = 0
    for m in t.index:
        mu, sd = bn.kv_prior([t.total_params_billions[m]], [bn._kinds([m])[0]], exclude=(m,),
                             sd_factor=KV_SD)
        z = (np.log(t.kv_bytes_per_token_bf16[m] / 1e3) - mu[0]) / sd[0]
        inside += abs(z) < 1.645
    assert inside >= 0.75 * len(t)


def test_shipped_fit_converged():
    fit = bp.load_fit("bench")
    assert fit.attrs["converged"] == 1 and fit.attrs["rhat_max"] <= bf.RHAT_MAX
    assert fit.attrs["data_hash"] == bf._frame_hash(bn.load_measurements())
    assert fit.attrs["priors_hash"] == bf.fit_priors().hash  # refit after editing the priors


def test_recurrent_state_costs_energy(configs):
    """A hybrid's Mamba state is read and written per sequence per step: more state, more
    energy per token (at the same parameters)."""
    p0 = fp.serving_parameters(9.0, 1.0, 2.0, 16.4, 1.0, 700.0, 80.0, 3.35, 989.4, 0.6, 0.4,
                               0.5, 0.9, 0.0, 0.9, 1.0, 256.0, 0.0, accelerators=1.0)
    p1 = fp.serving_parameters(9.0, 1.0, 2.0, 16.4, 1.0, 700.0, 80.0, 3.35, 989.4, 0.6, 0.4,
                               0.5, 0.9, 0.0, 0.9, 1.0, 256.0, 0.0, accelerators=1.0,
                               state_kb_per_seq=72769.5)
    assert p1["seq_state_s"] == pytest.approx(2 * 72769.5e3 / (3.35e12 * 0.6))
    e0, _ = fp.bench_energy_per_token_j(256.0, 300.0, 500.0, p0)
    e1, _ = fp.bench_energy_per_token_j(256.0, 300.0, 500.0, p1)
    assert e1 > 1.2 * e0
    mu, sd = bn.state_prior([12.0, 12.0], ["Mamba-Transformer Hybrid", "MoE"], sd_factor=KV_SD)
    assert np.isfinite(mu[0]) and sd[0] > 0 and mu[1] == -np.inf


def test_lab_entry_through_bench_physics_given_normals_equals_seeded():
    from mcfoot import rng
    from mcfoot.evidence import load_evidence

    e = next(x for x in load_evidence() if x.kind == "lab")
    a = bp.lab_evidence_prediction(e, 500, 7)
    ss = rng.normalize_seed(7)
    normals = {n: rng.standard_normals(ss, n, 0, 500) for n in bp.lab_streams(e)}
    np.testing.assert_array_equal(a, bp.lab_evidence_prediction(e, 500, 0, normals=normals))
    assert np.all(a > 0)


def test_cli_json_csv_and_draws_file(configs, tmp_path, capsys):
    import json

    import xarray as xr

    path, out, table = tmp_path / "cfg.csv", tmp_path / "draws.nc", tmp_path / "t.csv"
    configs.to_csv(path, index=False)
    assert main(["bench", str(path), "--fit", "prior", "--draws", "100", "--json", "-q",
                 "-o", str(out), "--csv", str(table)]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert len(rows) == len(configs) and rows[0]["energy_per_token_j"]["units"] == "J/token"
    med = rows[0]["energy_per_token_j"]["median"]
    assert rows[0]["energy_per_token_j"]["lower"] < med < rows[0]["energy_per_token_j"]["upper"]
    with xr.open_datatree(out) as t:
        assert t["/"].ds.energy_per_token_j.shape == (len(configs), 100)
    assert "energy_per_token_j median [J/token]" in table.read_text()
