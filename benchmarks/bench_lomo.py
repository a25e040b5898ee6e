"""Leave-one-model-out validation of the learned bench physics (issue 23), beside a plain
log-linear regression evaluated the same way.

Grouped: a model's precision and task variants leave together (``-FP8`` with its BF16
weights; Qwen3-30B-A3B Instruct-2507 with Thinking-2507). For each group the physics is
fitted on the other groups only (``mcfoot.benchfit.fit``) and the group's configurations are
predicted as a model never seen (a fresh draw of the model effect at the learned spread),
once with the group's public config-table rows (public configuration, not measurement) and
once with them withheld (KV cache from the size prior, fitted without those rows).

Metrics on the held-out configurations (energy per output token): share inside the 90 %
interval, median P95/P5, median error factor exp(median |log(predicted median / measured)|)
and the median bias (predicted median / measured), overall, per GPU and per architecture;
the B200/H100 ratio (same model, precision, task, GPUs and cap on both) and the
batch-8-to-largest-cap ratio (per series), implied (ratio of predicted medians) vs measured.

Run: ``python -m benchmarks.bench_lomo [--iterations N] [--json out.json]`` (about 10 min
on 2 cores at the defaults).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcfoot import benchfit as bf  # noqa: E402
from mcfoot import benchmodel as bn  # noqa: E402
from mcfoot import benchpredict as bp  # noqa: E402
from mcfoot import rng  # noqa: E402

KEYS = ["model_id", "weight_precision", "task", "gpu_model", "num_gpus"]


def group_of(model_id: str) -> str:
    """The leave-out group: precision and task variants of one model together."""
    return re.sub(r"-(Instruct|Thinking)-2507$", "-2507", re.sub(r"-FP8$", "", model_id))


def physics_lomo(data, iterations, warmup, draws, seed):
    """Per held-out configuration: predicted draws with and without its table rows."""
    out = {"table": [], "withheld": []}
    diag = []
    for g in sorted(set(map(group_of, data.model_id))):
        test = data[data.model_id.map(group_of) == g]
        t0 = time.time()
        fit = bf.fit(data.drop(test.index), seed=seed, warmup=warmup, iterations=iterations,
                     thin=max(iterations // 1000, 1), strict=False)
        cfg = bn.read_configs(test)
        for kind, withhold in (("table", ()), ("withheld", tuple(set(test.model_id)))):
            pred, _ = bp.predict(fit, cfg, draws, rng.normalize_seed(seed), withhold=withhold)
            out[kind].append(pd.DataFrame({"index": test.index,
                                           "q05": np.quantile(pred["energy_per_token_j"], 0.05, 1),
                                           "q50": np.median(pred["energy_per_token_j"], 1),
                                           "q95": np.quantile(pred["energy_per_token_j"], 0.95, 1)}))
        diag.append((g, fit.attrs["rhat_max"], fit.attrs["ess_min"], time.time() - t0))
        print(f"  {g:48s} R-hat {diag[-1][1]:.3f} ESS {diag[-1][2]:5.0f} "
              f"{diag[-1][3]:5.1f} s", file=sys.stderr)
    return {k: pd.concat(v).set_index("index").loc[data.index] for k, v in out.items()}, diag


def design(df, columns=None):
    """Log-linear regression design: log params (total, active), log batch cap, GPU,
    precision, task dummies (the reference level of each dropped)."""
    x = pd.DataFrame({"const": 1.0, "log_total": np.log(df.total_params_billions),
                      "log_active": np.log(df.activated_params_billions),
                      "log_batch": np.log(df.max_num_seqs)}, index=df.index)
    for col, levels in (("gpu_model", ("B200",)), ("weight_precision", ("fp8", "mxfp4")),
                        ("task", ("gpqa", "sourcegraph-fim"))):
        for lev in levels:
            x[f"{col}={lev}"] = (df[col] == lev).astype(float)
    return x if columns is None else x[columns]


def regression_lomo(data):
    """The baseline's LOMO predictions: OLS on the other groups, its nominal 90 % prediction
    interval (Student-t, s^2 (1 + x0' (X'X)^-1 x0)); a dummy constant in training is dropped."""
    rows = []
    for g in sorted(set(map(group_of, data.model_id))):
        test = data[data.model_id.map(group_of) == g]
        train = data.drop(test.index)
        x = design(train)
        x = x.loc[:, x.std() > 0].assign(const=1.0)
        y = np.log(train.energy_per_token_joules)
        beta, *_ = np.linalg.lstsq(x.values, y.values, rcond=None)
        dof = len(y) - x.shape[1]
        s2 = float(((y.values - x.values @ beta) ** 2).sum() / dof)
        x0 = design(test, list(x.columns)).values
        se = np.sqrt(s2 * (1 + np.einsum("ij,jk,ik->i", x0, np.linalg.pinv(x.values.T @ x.values),
                                         x0)))
        mu, t = x0 @ beta, stats.t.ppf(0.95, dof)
        rows.append(pd.DataFrame({"index": test.index, "q05": np.exp(mu - t * se),
                                  "q50": np.exp(mu), "q95": np.exp(mu + t * se)}))
    return pd.concat(rows).set_index("index").loc[data.index]


def metrics(data, pred) -> dict:
    y = data.energy_per_token_joules
    log_err = np.log(pred.q50 / y)
    return {"n": int(len(y)), "coverage90": float(((pred.q05 <= y) & (y <= pred.q95)).mean()),
            "median_p95_p5": float(np.median(pred.q95 / pred.q05)),
            "median_error_factor": float(np.exp(np.median(np.abs(log_err)))),
            "median_bias": float(np.exp(np.median(log_err)))}


def ratios(data, pred) -> dict:
    """B200/H100 and batch-8/largest-cap energy ratios, implied vs measured (medians)."""
    d = data.assign(pred=pred.q50)
    pair = d.pivot_table(index=["model_id", "weight_precision", "task", "num_gpus",
                                "max_num_seqs"], columns="gpu_model",
                         values=["energy_per_token_joules", "pred"]).dropna()
    out = {"b200_h100_pairs": int(len(pair)),
           "b200_h100_measured": float(np.median(pair["energy_per_token_joules"]["B200"] /
                                                 pair["energy_per_token_joules"]["H100"])),
           "b200_h100_implied": float(np.median(pair["pred"]["B200"] / pair["pred"]["H100"]))}
    meas, impl = [], []
    for _, s in d.groupby(KEYS):
        if 8 in set(s.max_num_seqs) and len(s) > 1:
            lo, hi = s[s.max_num_seqs == 8].iloc[0], s.loc[s.max_num_seqs.idxmax()]
            meas.append(lo.energy_per_token_joules / hi.energy_per_token_joules)
            impl.append(lo.pred / hi.pred)
    out |= {"batch8_largest_series": len(meas), "batch8_largest_measured":
            float(np.median(meas)), "batch8_largest_implied": float(np.median(impl))}
    return out


def table(data, preds: dict) -> dict:
    result = {}
    for name, pred in preds.items():
        r = {"all": metrics(data, pred) | ratios(data, pred)}
        for col in ("gpu_model", "architecture"):
            for lev, idx in data.groupby(col).groups.items():
                r[f"{col}={lev}"] = metrics(data.loc[idx], pred.loc[idx])
        result[name] = r
    return result


def show(result: dict) -> None:
    names = list(result)
    print(f"{'subset':38s} " + " ".join(f"{n:>34s}" for n in names))
    print(f"{'':38s} " + " ".join(f"{'cover90 P95/P5 errfac  bias    n':>34s}" for _ in names))
    for sub in result[names[0]]:
        cells = []
        for n in names:
            m = result[n][sub]
            cells.append(f"{m['coverage90']:7.1%} {m['median_p95_p5']:6.2f} "
                         f"{m['median_error_factor']:6.2f} {m['median_bias']:5.2f} {m['n']:4d}")
        print(f"{sub:38s} " + " ".join(f"{c:>34s}" for c in cells))
    for n in names:
        a = result[n]["all"]
        print(f"{n}: B200/H100 energy ratio implied {a['b200_h100_implied']:.2f} vs measured "
              f"{a['b200_h100_measured']:.2f} ({a['b200_h100_pairs']} pairs); batch 8 / "
              f"largest cap implied {a['batch8_largest_implied']:.2f} vs measured "
              f"{a['batch8_largest_measured']:.2f} ({a['batch8_largest_series']} series)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iterations", type=int, default=16000)
    ap.add_argument("--warmup", type=int, default=4000)
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the table as JSON")
    args = ap.parse_args(argv)
    data = bn.load_measurements()
    phys, diag = physics_lomo(data, args.iterations, args.warmup, args.draws, args.seed)
    preds = {"physics (table rows)": phys["table"], "physics (table withheld)": phys["withheld"],
             "log-linear regression": regression_lomo(data)}
    result = table(data, preds)
    show(result)
    worst = max(d[1] for d in diag)
    print(f"fits: {len(diag)} groups, worst R-hat {worst:.3f}, least ESS "
          f"{min(d[2] for d in diag):.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"result": result, "fits": diag}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
