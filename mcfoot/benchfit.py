"""Learn the bench physics from the ML.ENERGY v3 measurements (``mcfoot/data/bench_fit.nc``).

The model, per measured configuration i of model m (``mcfoot/data/bench_priors.toml``):

    log E_i = log E_phys(theta; i) + delta_m + eps_i,   delta_m ~ t_nu(0, tau),
                                                        eps_i   ~ t_nu(0, sigma)
    log P_i = log P_phys(theta; i) + eta_i,             eta_i   ~ t_nu(0, sigma_P)

E energy per output token, P the instance's mean GPU power, ``E_phys``/``P_phys`` the serving
physics (:func:`mcfoot.benchmodel.bench_physics`); theta: achieved bandwidth and compute and the
two power fractions per GPU type, a compute factor per low precision (on H100) and one for
B200's low-precision kernels on top, the mean input tokens per task. The per-model effect
delta_m and the residual have learned scales with heavy (Student-t) tails, so a model unlike
the others widens the interval for a model never seen instead of breaking coverage.

Inference: the posterior mode (L-BFGS-B on the unconstrained parameters), then adaptive
random-walk Metropolis (Haario et al. 2001, Bernoulli 7:223) in several chains started near
the mode, the proposal's covariance learned in warm-up and frozen for sampling; R-hat and
ESS by ArviZ (``mcfoot._arviz``). A fit whose chains did not mix (R-hat > ``RHAT_MAX``, ESS
< ``ESS_MIN``) raises :class:`CalibrationError` unless ``strict=False`` (then it says so in
its attrs). ``python -m mcfoot.benchfit -o mcfoot/data/bench_fit.nc`` writes the shipped fit.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import optimize, special

from . import benchmodel as bn
from . import provenance, rng
from .catalogue import file_hash
from .errors import CalibrationError, InputError, PriorsError
from .fitprior import HARDWARE, SHIPPED, fit_dataset

__all__ = ["FitPriors", "Layout", "SHIPPED", "fit", "fit_priors", "load_fit", "main",
           "prior_fit", "summary", "to_dataset"]

GPUS = ("H100", "B200")
LOW_PRECISIONS = ("fp8", "mxfp4")
#: GPU types whose low-precision kernels get a factor of their own (H100 is the reference)
LOW_PRECISION_GPUS = ("B200",)
SCALES = ("model_scale", "residual_scale", "power_scale")
#: Convergence thresholds (Vehtari et al. 2021, Bayesian Analysis 16:667: R-hat < 1.01 for
#: final results, 1.05 as the looser screening value used here; ESS > 100 per quantity).
RHAT_MAX, ESS_MIN = 1.05, 100.0
#: Metropolis: optimal random-walk scale 2.38^2 / dim (Roberts, Gelman and Gilks 1997).
RW_SCALE = 2.38
TRANSFORMS = ("logit", "log", "fixed")
Z90 = special.ndtri(0.95)  # the standard normal's 95 % point


@dataclass(frozen=True)
class FitPriors:
    """The priors of ``mcfoot/data/bench_priors.toml``: per entry (transform, mean, sd) on the
    transformed scale, or a fixed value."""
    entries: dict
    path: str
    hash: str

    def fixed(self, table: str, key: str) -> float:
        return float(self.entries[table][key]["value"])

    def normal(self, table: str, key: str) -> tuple[str, float, float]:
        e = self.entries[table][key]
        f = {"logit": special.logit, "log": np.log}[e["transform"]]
        mid, lo, hi = (f(float(e[k])) for k in ("median", "p5", "p95"))
        return e["transform"], mid, ((mid - lo) + (hi - mid)) / (2 * Z90)


@functools.cache
def fit_priors(path: str | None = None) -> FitPriors:
    """Read and validate ``mcfoot/data/bench_priors.toml`` whole (every problem at once)."""
    p = Path(path) if path else bn._data_path("bench_priors.toml")
    doc = tomllib.loads(p.read_text())
    need = {**{t: GPUS for t in HARDWARE}, "precision_compute_factor": LOW_PRECISIONS,
            "low_precision_gpu_factor": LOW_PRECISION_GPUS,
            "input_tokens": bn.TASKS, "discrepancy": ("nu", *SCALES),
            "unknown_architecture": ("kv_sd_factor",), "memory_utilization": ("all",)}
    problems = [f"[{t}] misses entries {sorted(set(keys) - set(doc.get(t, {})))}"
                for t, keys in need.items() if set(keys) - set(doc.get(t, {}))]
    problems += [f"unknown table [{t}]" for t in doc if t not in need and t != "meta"]
    for t in need:
        for k, e in doc.get(t, {}).items():
            tr = e.get("transform")
            fields = ("value",) if tr == "fixed" else ("median", "p5", "p95")
            if tr not in TRANSFORMS or any(f not in e for f in fields) or "source" not in e:
                problems.append(f"[{t}.{k}] needs transform in {TRANSFORMS}, "
                                f"{', '.join(fields)} and a source")
            elif tr != "fixed" and not (0 < e["p5"] < e["median"] < e["p95"]
                                        and (tr == "log" or e["p95"] < 1)):
                problems.append(f"[{t}.{k}] needs 0 < p5 < median < p95 (< 1 for logit)")
    if problems:
        raise PriorsError(problems, str(p))
    return FitPriors({t: doc[t] for t in need}, str(p), file_hash(p))


@dataclass
class Layout:
    """The unconstrained parameter vector: names, prior means and sds, transforms."""
    names: list
    mean: np.ndarray
    sd: np.ndarray
    transform: list
    models: tuple

    @classmethod
    def build(cls, pri: FitPriors, models) -> Layout:
        rows = [(f"{t}/{g}", *pri.normal(t, g)) for t in HARDWARE for g in GPUS]
        rows += [(f"precision_compute_factor/{p}", *pri.normal("precision_compute_factor", p))
                 for p in LOW_PRECISIONS]
        rows += [(f"low_precision_gpu_factor/{g}", *pri.normal("low_precision_gpu_factor", g))
                 for g in LOW_PRECISION_GPUS]
        rows += [(f"input_tokens/{t}", *pri.normal("input_tokens", t)) for t in bn.TASKS]
        rows += [(f"discrepancy/{s}", *pri.normal("discrepancy", s)) for s in SCALES]
        names, tr, mean, sd = zip(*rows)
        return cls(list(names) + [f"model_effect/{m}" for m in models],
                   np.array(mean + (0.0,) * len(models)), np.array(sd + (1.0,) * len(models)),
                   list(tr) + ["effect"] * len(models), tuple(models))

    def natural(self, z: np.ndarray) -> dict[str, np.ndarray]:
        """Natural-scale values of ``z`` (..., P) by name."""
        f = {"logit": special.expit, "log": np.exp, "effect": lambda x: x}
        return {n: f[t](z[..., i]) for i, (n, t) in enumerate(zip(self.names, self.transform))}


def _gather(values: dict, c: dict, nu_fixed: dict) -> dict:
    """Per-configuration parameter arrays (C, K) from natural values (K,) by name."""
    th = {}
    idx = {g: i for i, g in enumerate(GPUS)}
    for q in HARDWARE:
        th[q] = np.stack([values[f"{q}/{g}"] for g in GPUS])[[idx[g] for g in c["gpu"]]]
    one = np.ones_like(values[f"{HARDWARE[0]}/{GPUS[0]}"])
    # a fit without a parameter (an older file, or bfloat16 and H100: the reference) has 1
    th["precision_compute_factor"] = np.stack([
        values.get(f"precision_compute_factor/{p}", one) *
        (values.get(f"low_precision_gpu_factor/{g}", one) if p in LOW_PRECISIONS else one)
        for p, g in zip(c["precision"], c["gpu"])])
    th["memory_utilization"] = nu_fixed["memory_utilization"]
    return th


def _t_logpdf(x, scale, nu):
    """Student-t log density at ``x`` with ``scale`` and ``nu`` degrees of freedom."""
    const = special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
    return const - 0.5 * (nu + 1) * np.log1p((x / scale) ** 2 / nu) - np.log(scale)


@dataclass
class Problem:
    """The measured data and everything the log posterior needs, built once."""
    layout: Layout
    c: dict
    kv: np.ndarray
    log_e: np.ndarray
    log_p: np.ndarray
    model_index: np.ndarray
    task_index: np.ndarray
    nu: float
    fixed: dict

    def log_post(self, z: np.ndarray) -> np.ndarray:
        """Log posterior (up to a constant) of unconstrained ``z`` (K, P) -> (K,)."""
        z = np.atleast_2d(z)
        lay = self.layout
        v = lay.natural(z)
        th = _gather(v, self.c, self.fixed)
        tin = np.stack([v[f"input_tokens/{t}"] for t in bn.TASKS])[self.task_index]
        ph = bn.bench_physics(bn.columns(self.c), th, self.kv[:, None], tin,
                              self.c["state_known"][:, None],
                              intensity=self.c["intensity_known"][:, None])
        n_fixed = len(lay.names) - len(lay.models)
        effects = z[:, n_fixed:].T  # (M, K)
        tau, sigma, sigma_p = (v[f"discrepancy/{s}"] for s in SCALES)
        with np.errstate(invalid="ignore", divide="ignore"):
            r_e = self.log_e[:, None] - np.log(ph["energy_per_token_j"]) - \
                effects[self.model_index]
            r_p = self.log_p[:, None] - np.log(ph["avg_power_w"])
        lp = _t_logpdf(r_e, sigma, self.nu).sum(0) + _t_logpdf(r_p, sigma_p, self.nu).sum(0)
        lp += _t_logpdf(effects, tau, self.nu).sum(0)
        zf = z[:, :n_fixed]
        from scipy import stats  # imported when used: `mcfoot --help` stays without it

        lp += stats.norm.logpdf(zf, lay.mean[:n_fixed], lay.sd[:n_fixed]).sum(1)
        return np.where(np.isfinite(lp), lp, -np.inf)


def problem(data, pri: FitPriors | None = None) -> Problem:
    """The fit problem of measured rows ``data`` (a DataFrame with the data file's columns)."""
    pri = pri or fit_priors()
    df = bn.read_configs(data)
    models = tuple(dict.fromkeys(df.model_id))
    c = bn.config_arrays(df)
    if np.isnan(c["kv_known"]).any():
        raise InputError("every fitted model needs its row in model_configs.csv")
    return Problem(Layout.build(pri, models), c, c["kv_known"],
                   np.log(data["energy_per_token_joules"].to_numpy(float)),
                   np.log(data["avg_power_watts"].to_numpy(float)),
                   np.array([models.index(m) for m in df.model_id]),
                   np.array([bn.TASKS.index(t) for t in df.task]),
                   pri.fixed("discrepancy", "nu"),
                   {"memory_utilization": pri.fixed("memory_utilization", "all")})


#: Finite-difference step on the unconstrained scale (prior sds are ~0.3-1.5 there).
FD_STEP = 1e-4


def _gradient(prob: Problem, x: np.ndarray, h: float = FD_STEP) -> np.ndarray:
    """Central-difference gradient of the log posterior, all 2P points in one evaluation."""
    e = h * np.eye(len(x))
    lp = prob.log_post(np.concatenate([x + e, x - e]))
    return (lp[:len(x)] - lp[len(x):]) / (2 * h)


def _hessian(prob: Problem, x: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """Central-difference Hessian of the log posterior (the Jacobian of :func:`_gradient`)."""
    cols = [(_gradient(prob, x + h * u) - _gradient(prob, x - h * u)) / (2 * h)
            for u in np.eye(len(x))]
    hess = np.array(cols)
    return 0.5 * (hess + hess.T)


def find_mode(prob: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mode (unconstrained, L-BFGS-B from the prior means) and the inverse of the
    negative Hessian there (a Laplace covariance; eigenvalues floored so it is definite)."""
    res = optimize.minimize(lambda x: -prob.log_post(x[None])[0], prob.layout.mean.copy(),
                            jac=lambda x: -_gradient(prob, x), method="L-BFGS-B",
                            options={"maxiter": 2000})
    w, vec = np.linalg.eigh(-_hessian(prob, res.x))
    w = np.maximum(w, 1e-6 * w.max())
    return res.x, (vec / w) @ vec.T


def sample(prob: Problem, mode, cov, ss, *, chains=4, warmup=6000, iterations=32000,
           thin=32) -> tuple[np.ndarray, dict]:
    """Adaptive Metropolis: ``chains`` chains from the mode with Laplace-scale jitter; the
    covariance re-estimated from the warm-up history every 500 steps, then frozen. Returns
    draws (chain, draw, P) and diagnostics (acceptance per chain)."""
    gen = rng.block_generator(ss, "benchfit/metropolis")
    dim = len(mode)
    chol = np.linalg.cholesky(cov)
    x = mode + 0.5 * gen.standard_normal((chains, dim)) @ chol.T
    lp = prob.log_post(x)
    scale = RW_SCALE / np.sqrt(dim)
    history, kept, accepted = [], [], np.zeros(chains)
    for it in range(warmup + iterations):
        prop = x + scale * gen.standard_normal((chains, dim)) @ chol.T
        lq = prob.log_post(prop)
        take = np.log(gen.random(chains)) < lq - lp
        x[take], lp[take] = prop[take], lq[take]
        if it < warmup:
            history.append(x.copy())
            if (it + 1) % 500 == 0 and it + 1 >= 1000:
                h = np.concatenate(history[len(history) // 2:])
                chol = np.linalg.cholesky(np.cov(h.T) + 1e-10 * np.eye(dim))
        else:
            accepted += take
            if (it - warmup) % thin == thin - 1:
                kept.append(x.copy())
    return np.stack(kept, axis=1), {"acceptance": accepted / iterations}


def fit(data=None, *, seed=0, chains: int = 4, warmup: int = 6000, iterations: int = 32000,
        thin: int = 32, strict: bool = True) -> xr.Dataset:
    """The posterior of the bench physics given measured rows ``data`` (default: the shipped
    348), as a Dataset over (``chain``, ``draw``) of every parameter on its natural scale
    and ``model_effect`` over ``model``; attrs: inputs' hashes, method, acceptance, R-hat
    and ESS (their worst values), ``converged``."""
    from . import _arviz

    data = bn.load_measurements() if data is None else data
    ss = rng.normalize_seed(seed)
    prob = problem(data)
    mode, cov = find_mode(prob)
    draws, diag = sample(prob, mode, cov, ss, chains=chains, warmup=warmup,
                         iterations=iterations, thin=thin)
    ds = to_dataset(prob.layout, draws)
    rhat, ess = _arviz.rhat_ess(ds)
    ok = bool(rhat <= RHAT_MAX and ess >= ESS_MIN)
    pri = fit_priors()
    ds.attrs = provenance.stamp(
        "bench_fit", name="bench", seed=rng.seed_record(ss), seed_entropy=str(ss.entropy),
        method=f"posterior mode (L-BFGS-B), then adaptive Metropolis, {chains} chains x "
               f"{iterations} steps after {warmup} warm-up, thinned by {thin}",
        acceptance=";".join(f"{a:.3f}" for a in diag["acceptance"]), rhat_max=float(rhat),
        ess_min=float(ess), converged=int(ok), priors_hash=pri.hash,
        data_hash=_frame_hash(data), configs_hash=file_hash(bn._data_path("model_configs.csv")),
        gpu_specs_hash=file_hash(bn._data_path("gpu_specs.csv")),
        precisions_hash=file_hash(bn._data_path("precisions.csv")), rows=len(data),
        models=";".join(prob.layout.models), nu=prob.nu,
        memory_utilization=prob.fixed["memory_utilization"])
    ds.attrs["fit_hash"] = "sha256:" + hashlib.sha256(b"".join(
        np.ascontiguousarray(ds[k].values).tobytes() for k in sorted(ds.data_vars))).hexdigest()
    if strict and not ok:
        raise CalibrationError(f"bench fit did not mix: R-hat {rhat:.3f} (<= {RHAT_MAX}), "
                               f"ESS {ess:.0f} (>= {ESS_MIN}); run longer (--iterations)")
    return ds


def _frame_hash(df) -> str:
    return "sha256:" + hashlib.sha256(df.to_csv(index=False).encode()).hexdigest()


def to_dataset(lay: Layout, draws: np.ndarray) -> xr.Dataset:
    """Natural-scale posterior Dataset from unconstrained draws (chain, draw, P)."""
    v = lay.natural(draws)
    ds = xr.Dataset(coords={"chain": np.arange(draws.shape[0]),
                            "draw": np.arange(draws.shape[1])})
    for n, t in zip(lay.names, lay.transform):
        if t != "effect":
            ds[n.replace("/", "__")] = (("chain", "draw"), v[n])
    eff = np.stack([v[f"model_effect/{m}"] for m in lay.models], -1) if lay.models else \
        np.zeros(draws.shape[:2] + (0,))
    ds["model_effect"] = (("chain", "draw", "model"), eff, {"units": "1 (log)"})
    ds.coords["model"] = list(lay.models)
    return ds


def summary(fit_ds: xr.Dataset, prob: float = 0.9) -> list[tuple[str, float, float, float]]:
    """(parameter, median, lower, upper) of the ``prob`` equal-tailed interval of every
    parameter of a fit (model effects by model)."""
    q = [0.5, (1 - prob) / 2, (1 + prob) / 2]
    rows = []
    for k in fit_ds.data_vars:
        x = fit_ds[k].values.reshape(-1, *fit_ds[k].shape[2:])
        if k == "model_effect":
            rows += [(f"model_effect/{m}", *np.quantile(x[:, i], q))
                     for i, m in enumerate(fit_ds.model.values)]
        else:
            rows.append((k.replace("__", "/"), *np.quantile(x, q)))
    return rows


def prior_fit(draws: int = 4000, seed=0) -> xr.Dataset:
    """A 'fit' that learned nothing: every parameter drawn from its prior
    (``mcfoot/data/bench_priors.toml``)."""
    lay = Layout.build(fit_priors(), ())
    ss = rng.normalize_seed(seed)
    z = lay.mean + lay.sd * rng.standard_normals_many(ss, [f"benchfit/prior/{n}" for n in
                                                           lay.names], 0, draws).T
    ds = to_dataset(lay, z[None])
    pri = fit_priors()
    ds.attrs = provenance.stamp("bench_fit", name="prior", priors_hash=pri.hash,
                                fit_hash=pri.hash, nu=pri.fixed("discrepancy", "nu"),
                                memory_utilization=pri.fixed("memory_utilization", "all"))
    return ds


def load_fit(scenario) -> xr.Dataset:
    """The fit a bench prediction uses: ``"bench"`` (shipped), ``"prior"``, a fit Dataset,
    or the path of a fit file (read by :func:`mcfoot.fitprior.fit_dataset`)."""
    if isinstance(scenario, xr.Dataset):
        return scenario
    if scenario == "prior":
        return prior_fit()
    return fit_dataset(scenario)


def main(argv=None) -> int:
    """``python -m mcfoot.benchfit -o FILE``: fit the shipped measurements, write the fit."""
    ap = argparse.ArgumentParser(prog="python -m mcfoot.benchfit", description=__doc__.split(
        "\n")[0])
    ap.add_argument("-o", "--output", default=None, help="fit file (.nc) to write")
    ap.add_argument("--summary", default=None, metavar="FIT",
                    help="print the medians and 90%% intervals of a fit ('bench': shipped)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iterations", type=int, default=32000)
    ap.add_argument("--warmup", type=int, default=6000)
    args = ap.parse_args(argv)
    if args.summary:
        for name, med, lo, hi in summary(load_fit(args.summary)):
            print(f"{name:58s} {med:10.4g} [{lo:.4g}, {hi:.4g}]")
        return 0
    if not args.output:
        ap.error("give -o FILE (fit and write) or --summary FIT")
    ds = fit(seed=args.seed, iterations=args.iterations, warmup=args.warmup)
    ds.to_netcdf(args.output)
    print(f"bench fit: R-hat max {ds.attrs['rhat_max']:.3f}, ESS min {ds.attrs['ess_min']:.0f}, "
          f"acceptance {ds.attrs['acceptance']}; written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
