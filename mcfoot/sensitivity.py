"""Which prior drives a footprint: variance-based (Sobol'), rank-based (Spearman, PRCC) and
moment-independent (delta) sensitivity measures.

Sobol' indices (:func:`sobol`) push a Saltelli design (SALib) through the *same* sampler as
:func:`mcfoot.simulate`: ``build_plan`` -> unit-space design -> ``normals_from_design`` ->
``evaluate``. The design has one column per independent random stream of the plan
(``design_columns``: one per non-fixed group prior — a host's PUE, a hardware class's power
factor, a size class x hardware utilization — and one latency and one speed column per
model, shared by its prompt sizes as in ``simulate()``). Columns are grouped by **quantity**
(SALib ``groups``): all hosts' PUE columns form the factor ``pue``, all models' latency
columns the factor ``latency``, and so on.
Every (model, prompt) output depends on exactly one column of each group (its model's, its
host, its hardware class, its size class x hardware), so the group index of ``pue`` for
GPT-4o is the Sobol' index of the Azure PUE column for that output, and one design serves
every model at once. Host and hardware priors are shared across models, as in
``simulate()``.

The factors are the *independent* standard normals before copulas. Where a scenario couples
quantities with a Gaussian copula (latency-speed, PUE-WUE), the Cholesky order makes the
first quantity of the block its own factor and the later ones "the part not explained by the
earlier ones": the index of ``speed`` measures speed's variation independent of latency.
Indices of independent factors add up (sum S1 <= 1 <= sum ST; = 1 for additive models).

The cheap measures (:func:`correlations`, :func:`delta`) reuse an existing ``simulate()``
result: each model's inputs are read at their own scope from ``tree["inputs"]`` (its row's
latency and speed, its host's PUE/WUE/CIF, its hardware's and size class's factors). They
see the inputs *after* the copulas, as drawn.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import special

from . import provenance, rng, variables
from ._validate import choice, is_power_of_two, probability, select_ids
from .errors import InputError
from .priors import QUANTITIES, Scenario
from .simulate import SCOPE_DIM, build_plan, design_columns, evaluate, normals_from_design

__all__ = ["correlations", "delta", "prcc", "row_inputs", "saltelli_design", "sobol",
           "sampled_inputs", "sobol_from_outputs", "sobol_function"]

#: names of the row-scoped inputs in ``tree["inputs"]`` -> factor name
_ROW_INPUTS = {name: v.quantity for name, v in variables.ROW_INPUTS.items()}
#: design points evaluated per chunk x slots, bounding memory (~8 bytes each, a few arrays)
_CHUNK_CELLS = 2**22
#: Fieller, Hartley & Pearson (1957), Biometrika 44:470: var(atanh(Spearman r)) ~ 1.06/(n-3)
_FIELLER_SPEARMAN = 1.06


# --------------------------------------------------------------------------- generic Sobol'
def _power_of_two(n) -> int:
    if not is_power_of_two(n) or n < 2:
        raise InputError(f"n must be a power of two >= 2 (Sobol' sequence balance), got {n!r}; "
                         "try 256, 512, 1024 or 2048")
    return int(n)


def _salib_seeds(seed, what: str) -> tuple[np.random.Generator, int]:
    """A Generator for the design and a non-zero int seed for SALib's bootstrap (SALib
    falls back to NumPy's global RNG on a seed of 0 or None)."""
    ss = rng.normalize_seed(seed)
    design = rng.block_generator(ss, f"sensitivity/{what}/design")
    boot = int(rng.block_generator(ss, f"sensitivity/{what}/bootstrap").integers(1, 2**31))
    return design, boot


def saltelli_design(d: int, n: int, groups: list[str] | None = None, seed=0) -> np.ndarray:
    """Saltelli/Sobol' design (SALib, no second-order terms) strictly inside (0, 1)^d:
    ``n * (g + 2)`` points for ``g`` groups (``g = d`` without groups).

    Scrambled Sobol' points are multiples of 2**-30 and may be exactly 0; each is moved to
    the centre of its cell (:func:`mcfoot.rng.open_unit`) so inverse CDFs stay finite.
    """
    from SALib.sample import sobol as sobol_sample

    n = _power_of_two(n)
    problem = {"num_vars": d, "names": [f"x{i}" for i in range(d)],
               "bounds": [[0.0, 1.0]] * d}
    if groups is not None:
        problem["groups"] = list(groups)
    gen = seed if isinstance(seed, np.random.Generator) else _salib_seeds(seed, "sobol")[0]
    u = sobol_sample.sample(problem, n, calc_second_order=False, scramble=True, seed=gen)
    return rng.open_unit(u)


def sobol_from_outputs(y: np.ndarray, n_factors: int, *, ci_prob: float = 0.95,
                       num_resamples: int = 100, seed: int = 1) -> dict[str, np.ndarray]:
    """First- and total-order indices (Saltelli 2010 / Jansen estimators, SALib) from the
    outputs ``y`` of a :func:`saltelli_design` with ``n_factors`` factors (groups). A
    constant output has no variance to apportion: all indices NaN."""
    from SALib.analyze import sobol as sobol_analyze

    y = np.asarray(y, float)
    keys = ("S1", "S1_conf", "ST", "ST_conf")
    if not np.all(np.isfinite(y)):
        raise InputError("the model returned non-finite outputs for some design points")
    if np.ptp(y) <= np.finfo(float).eps * max(1.0, float(np.abs(y).max())):
        return {k: np.full(n_factors, np.nan) for k in keys}
    problem = {"num_vars": n_factors, "names": [f"g{i}" for i in range(n_factors)],
               "bounds": [[0.0, 1.0]] * n_factors}
    r = sobol_analyze.analyze(problem, y, calc_second_order=False, conf_level=ci_prob,
                              num_resamples=num_resamples, seed=seed)
    return {k: np.asarray(r[k], float) for k in keys}


def sobol_function(func: Callable[[np.ndarray], np.ndarray], names: list[str], n: int = 1024,
                   *, groups: list[str] | None = None, seed=0, ci_prob: float = 0.95,
                   num_resamples: int = 100) -> xr.Dataset:
    """Sobol' indices of any vectorised ``func`` of the unit hypercube.

    ``func(u)`` takes design points ``u`` of shape (points, len(names)) in (0, 1) — map them
    through inverse CDFs inside — and returns outputs of shape (points,). With ``groups``
    (one label per name) indices are per group. Returns a Dataset over ``input`` with
    ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (conf = half-width of the bootstrap interval).
    """
    ci_prob = probability("ci_prob", ci_prob)
    design_gen, boot = _salib_seeds(seed, "sobol")
    u = saltelli_design(len(names), n, groups, design_gen)
    labels = list(dict.fromkeys(groups)) if groups is not None else list(names)
    y = np.asarray(func(u), float).reshape(len(u))
    res = sobol_from_outputs(y, len(labels), ci_prob=ci_prob,
                             num_resamples=num_resamples, seed=boot)
    ds = xr.Dataset({k: ("input", v) for k, v in res.items()}, coords={"input": labels})
    return _index_attrs(ds, "output", ci_prob).assign_attrs(
        method="Sobol' first/total order (Saltelli 2010 design, SALib)", n_base=n,
        model_runs=len(u))


def _index_attrs(ds: xr.Dataset, variable: str, ci_prob: float) -> xr.Dataset:
    pct = f"{100 * ci_prob:g}%"
    names = {"S1": "first-order Sobol' index", "ST": "total-order Sobol' index"}
    for k, long in names.items():
        if k in ds:
            ds[k].attrs = {"units": "1", "long_name": f"{long} of {variable}"}
            ds[f"{k}_conf"].attrs = {"units": "1", "long_name":
                                     f"half-width of the {pct} bootstrap interval of {k}"}
    return ds


# ------------------------------------------------------------------------ Sobol' of mcfoot
def _factor_of_columns(plan) -> list[str]:
    """The factor (quantity) each design column belongs to; a joint block's shared stream
    (e.g. the bench fit's posterior, ``bench/posterior``) is one factor under its own name."""
    stream_q = {p.stream: p.stream if p.dist.shared_stream else q
                for q, ps in plan.priors.items() for p in ps if not p.dist.is_fixed}
    out = []
    for col in design_columns(plan):
        q = stream_q.get(col) or col.split("/", 1)[0]
        out.append(q)
    return out


def _unit(q: str) -> str:
    return QUANTITIES[q].unit if q in QUANTITIES else "(joint block)"


def sobol(scenario: str | Path | Scenario = "default", models=None, prompts=None,
          variable: str = "energy_wh", n: int = 1024, seed=0, *, catalogue=None,
          backend: str = "numba", ci_prob: float = 0.95,
          num_resamples: int = 100, log: bool = False) -> xr.Dataset:
    """First- and total-order Sobol' indices of a footprint, per (model, prompt).

    Parameters
    ----------
    scenario, models, prompts, catalogue, backend : as for :func:`mcfoot.simulate`.
    variable : footprint variable (``energy_wh``, ``carbon_g``, ``water_ml``, ...).
    n : base sample size (a power of two); the sampler runs ``n * (k + 2)`` times for ``k``
        uncertain quantities.
    seed : design scrambling and bootstrap seed (``int | SeedSequence | Generator``).
    ci_prob, num_resamples : probability and resamples of the bootstrap interval of the
        indices.
    log : apportion the variance of ``log(variable)`` instead (for multiplicative, heavy-
        tailed outputs, where a few extreme draws dominate the variance and the estimators
        are unstable); needs a positive variable.

    Returns
    -------
    Dataset over (input, model, prompt) with ``S1``, ``S1_conf``, ``ST``, ``ST_conf``
    (``*_conf``: half-width of the bootstrap interval); ``input`` = the uncertain quantities
    of the scenario (e.g. ``latency``, ``speed``, ``pue``, ``gpu_util``), with their units as
    the ``input_units`` coordinate. Absent (model, prompt) rows are NaN. See the module
    docstring for the grouping and for copulas.
    """
    choice("variable", variable, variables.FOOTPRINT)
    n = _power_of_two(n)
    ci_prob = probability("ci_prob", ci_prob)
    plan = build_plan(scenario, catalogue, models, prompts)
    cols = design_columns(plan)
    if not cols:
        raise InputError(f"scenario {plan.scenario.name!r} has no uncertain input for the "
                         "selection: nothing to apportion")
    groups = _factor_of_columns(plan)
    labels = list(dict.fromkeys(groups))
    ss = rng.normalize_seed(seed)
    design_gen, boot = _salib_seeds(ss, "sobol")
    u = saltelli_design(len(cols), n, groups, design_gen)
    key = variables.FOOTPRINT[variable].kernel_key
    y = np.empty((plan.n_slots, len(u)))
    step = max(1, _CHUNK_CELLS // plan.n_slots)
    for s in range(0, len(u), step):
        res, _ = evaluate(plan, normals_from_design(plan, u[s:s + step]), backend)
        y[:, s:s + step] = res[key]
    shape = (len(labels), len(plan.models), len(plan.prompts))
    out = {k: np.full(shape, np.nan) for k in ("S1", "S1_conf", "ST", "ST_conf")}
    if log:
        ok = y[plan.present]
        if not np.all(ok > 0):
            raise InputError(f"log=True needs {variable} > 0 at every design point; "
                             f"it reaches {float(ok.min()):g}")
        y = np.log(y)
    for slot in np.flatnonzero(plan.present):
        m, p = divmod(int(slot), len(plan.prompts))
        r = sobol_from_outputs(y[slot], len(labels), ci_prob=ci_prob,
                               num_resamples=num_resamples, seed=boot)
        for k in out:
            out[k][:, m, p] = r[k]
    ds = xr.Dataset({k: (("input", "model", "prompt"), v) for k, v in out.items()},
                    coords={"input": labels, "model": list(plan.models),
                            "prompt": list(plan.prompts),
                            "input_units": ("input", [_unit(q) for q in labels])})
    _index_attrs(ds, variable, ci_prob)
    ds.attrs = provenance.stamp(
        "sensitivity", provenance.run_attrs(plan, ss, backend=backend),
        method="Sobol' first- and total-order indices, Saltelli (2010) design and "
               "estimators (SALib), factors grouped by quantity",
        variable=f"log({variable})" if log else variable,
        variable_units=variables.units(variable),
        n_base=n, model_runs=len(u), design_columns=len(cols),
        ci_prob=ci_prob, num_resamples=num_resamples,
        note="factors are the independent normals before copulas; in a copula block "
             "later quantities stand for their part independent of earlier ones")
    return ds


# ------------------------------------------------------- measures from a simulate() result
def _tree_parts(tree: xr.DataTree, variable: str):
    if not isinstance(tree, xr.DataTree) or not {"footprint", "inputs"} <= set(tree.children):
        raise InputError("expected the DataTree of mcfoot.simulate() (groups 'footprint' and "
                         "'inputs')")
    fp, inp = tree["footprint"].to_dataset(), tree["inputs"].to_dataset()
    known = [v for v in fp.data_vars if set(fp[v].dims) == {"draw", "model", "prompt"}]
    if variable not in known:
        raise InputError(f"unknown footprint variable {variable!r}; known: {', '.join(known)}")
    return fp, inp


def _pick(values, wanted, what: str) -> list[str]:
    have = [str(v) for v in values]
    if wanted is None:
        return have
    return select_ids(what, [wanted] if isinstance(wanted, str) else [str(w) for w in wanted],
                      have, "the result")


def _scope_keys(inp: xr.DataTree, fp: xr.DataTree, sel: list[str]):
    """The scope keys that reach the models ``sel`` (hosts, hardware classes, size-class /
    hardware pairs, models: one set per scope dimension) and, under the serving
    attribution, each draw's drawn hardware index per model (else None)."""
    meta = {c: [str(x) for x in fp[c].sel(model=sel).values] for c in
            ("host", "hardware", "size_class")}
    keys = {"host": set(meta["host"]), "hardware": set(meta["hardware"]),
            "size_class_hardware": {f"{s}/{h}" for s, h in
                                    zip(meta["size_class"], meta["hardware"])},
            "model": set(sel)}
    # serving attribution: a model's hardware is drawn (hardware_index); its hardware inputs
    # are those of the accelerators it may run on, or, for one model by quantity, the value
    # at each draw's choice
    choice = inp["hardware_index"].sel(model=sel).values.astype(np.int64) \
        if "hardware_index" in inp else None
    if choice is not None:
        keys["hardware"] = {str(inp.hardware.values[i]) for i in np.unique(choice)}
    return keys, choice


def sampled_inputs(tree: xr.DataTree, models: list[str] | None = None,
                   rows: list[tuple[str, str]] | str = (), *, by_quantity: bool = False
                   ) -> tuple[list[str], np.ndarray, list[str]]:
    """The per-draw sampled inputs that reach the given models, each at its own scope.

    Host, hardware and size-class inputs are kept for the hosts / hardware classes / size
    classes of ``models`` (all when ``None``); latency and speed for the (model, prompt)
    ``rows`` (``"all"``: every present row). Derived inputs (``power_kw``) and inputs that are
    not finite or do not vary in the run (fixed priors: they explain nothing) are left out.

    Returns (labels, X of shape (draws, k), units). Labels name the scope
    (``pue[Azure]``, ``latency_s[o3/short]``), or with ``by_quantity`` only the quantity
    (``pue``, ``latency``: for one row, where each quantity has one column).
    """
    inp, fp = tree["inputs"], tree["footprint"]
    sel = list(fp.model.values) if models is None else list(models)
    keys, choice = _scope_keys(inp, fp, sel)
    labels, cols, units = [], [], []
    for name in inp.data_vars:
        if name in variables.DERIVED or name in variables.SERVING:
            continue
        da = inp[name]
        if name in variables.ROW_INPUTS:
            want = [(str(m), str(p)) for m in da.model.values for p in da.prompt.values] \
                if rows == "all" else list(rows)
            picked = [(variables.ROW_INPUTS[name].quantity if by_quantity else
                       f"{name}[{m}/{p}]", da.sel(model=m, prompt=p).values) for m, p in want]
        else:
            dim = next((d for d in da.dims if d in SCOPE_DIM.values()), None)
            if dim is None:
                continue
            if choice is not None and dim == "hardware" and by_quantity and len(sel) == 1:
                x = np.take_along_axis(da.transpose("draw", "hardware").values, choice[:, :1],
                                       axis=1)[:, 0]
                picked = [(str(name), x)]
            else:
                picked = [(str(name) if by_quantity else f"{name}[{k}]",
                           da.sel({dim: k}).values) for k in da[dim].values
                          if str(k) in keys[dim]]
        for label, x in picked:
            x = np.asarray(x, float)
            if np.all(np.isfinite(x)) and np.ptp(x) > 0:
                labels.append(label)
                cols.append(x)
                units.append(str(da.attrs.get("units", "")))
    x = np.stack(cols, axis=1) if cols else np.empty((fp.sizes["draw"], 0))
    return labels, x, units


def row_inputs(tree: xr.DataTree, model: str, prompt: str) -> tuple[list[str], np.ndarray,
                                                                     list[str]]:
    """The sampled inputs that reach one (model, prompt), named by quantity
    (:func:`sampled_inputs`). Returns (names, X of shape (draws, k), units)."""
    return sampled_inputs(tree, [model], [(model, prompt)], by_quantity=True)


def _rank_corrcoef(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Correlation matrix of the ranks (average ties) of the columns of x (draw, k) and y."""
    from scipy import stats  # imported when used: ~0.5 s

    return np.corrcoef(stats.rankdata(np.column_stack([x, y]), axis=0), rowvar=False)


def spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of each column of ``x`` (draw, k) with ``y`` (draw,)."""
    return _rank_corrcoef(x, y)[:-1, -1]


def _rank_corr(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman correlation and PRCC of each column of x with y (ranks, average ties).

    PRCC is the correlation between the rank residuals of x_j and y after a linear
    regression on the ranks of all other inputs — equivalently ``-P_jy / sqrt(P_jj P_yy)``
    with ``P`` the inverse of the rank correlation matrix of (x, y).
    """
    c = _rank_corrcoef(x, y)
    spearman = c[:-1, -1]
    try:
        p = np.linalg.inv(c)
    except np.linalg.LinAlgError:
        raise InputError("inputs are perfectly rank-correlated with each other; PRCC is "
                         "undefined (drop one of them)") from None
    d = np.sqrt(np.diag(p))
    prcc = -p[:-1, -1] / (d[:-1] * d[-1])
    return spearman, np.clip(prcc, -1.0, 1.0)


def _fisher_interval(r: np.ndarray, n: int, controlled: int, prob: float, factor: float = 1.0):
    """Fisher z interval of a (partial) correlation with ``controlled`` variables partialled
    out: atanh(r) +- z * sqrt(factor / (n - 3 - controlled))."""
    if n - 3 - controlled <= 0:
        return np.full_like(r, np.nan), np.full_like(r, np.nan)
    half = special.ndtri(0.5 + prob / 2) * np.sqrt(factor / (n - 3 - controlled))
    z = np.arctanh(np.clip(r, -1 + 1e-15, 1 - 1e-15))
    return np.tanh(z - half), np.tanh(z + half)


def prcc(x: np.ndarray, y: np.ndarray, ci_prob: float = 0.95) -> dict[str, np.ndarray]:
    """Spearman rank correlation and partial rank correlation (PRCC) of each column of ``x``
    (draws, k) with ``y`` (draws,), with Fisher-z intervals (Spearman: Fieller et al. 1957
    variance 1.06/(n-3); PRCC: 1/(n-3-(k-1)))."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise InputError(f"x must be (draws, k) and y (draws,), got {x.shape} and {y.shape}")
    n, k = x.shape
    if n < k + 4:
        raise InputError(f"need more draws than inputs + 3 for PRCC, got {n} draws and {k} "
                         "inputs")
    sp, pr = _rank_corr(x, y)
    sl, su = _fisher_interval(sp, n, 0, ci_prob, _FIELLER_SPEARMAN)
    pl, pu = _fisher_interval(pr, n, k - 1, ci_prob)
    return {"spearman": sp, "spearman_lower": sl, "spearman_upper": su,
            "prcc": pr, "prcc_lower": pl, "prcc_upper": pu}


def _per_row(tree, variable, models, prompts, fn, keys):
    fp, _ = _tree_parts(tree, variable)
    models = _pick(fp.model.values, models, "model")
    prompts = _pick(fp.prompt.values, prompts, "prompt")
    rows, inputs, units = {}, {}, {}
    for m in models:
        for p in prompts:
            y = fp[variable].sel(model=m, prompt=p).values
            if np.all(np.isnan(y)):
                continue  # absent from the catalogue
            names, x, u = row_inputs(tree, m, p)
            if not names or np.ptp(y) == 0:
                continue
            rows[m, p] = (names, fn(x, y))
            inputs.update(dict.fromkeys(names))
            units.update(zip(names, u))
    if not rows:
        raise InputError("no (model, prompt) in the selection has a varying footprint and "
                         "varying inputs")
    labels = list(inputs)
    data = {k: np.full((len(labels), len(models), len(prompts)), np.nan) for k in keys}
    for (m, p), (names, res) in rows.items():
        i = [labels.index(q) for q in names]
        for k in keys:
            data[k][i, models.index(m), prompts.index(p)] = res[k]
    return xr.Dataset({k: (("input", "model", "prompt"), v) for k, v in data.items()},
                      coords={"input": labels, "model": models, "prompt": prompts,
                              "input_units": ("input", [units[q] for q in labels])})


def correlations(tree: xr.DataTree, variable: str = "energy_wh", models=None, prompts=None,
                 ci_prob: float = 0.95) -> xr.Dataset:
    """Spearman rank correlation and PRCC of every sampled input with a footprint, per
    (model, prompt), from an existing :func:`mcfoot.simulate` result (no new runs).

    Returns a Dataset over (input, model, prompt) with ``spearman``, ``prcc`` and their
    Fisher-z interval bounds (``*_lower``, ``*_upper``). Inputs that do not vary for a row are
    NaN there.
    """
    probability("ci_prob", ci_prob)
    keys = ("spearman", "spearman_lower", "spearman_upper", "prcc", "prcc_lower", "prcc_upper")
    ds = _per_row(tree, variable, models, prompts, lambda x, y: prcc(x, y, ci_prob), keys)
    pct = f"{100 * ci_prob:g}%"
    for k in keys:
        base = k.split("_")[0]
        what = {"spearman": "Spearman rank correlation",
                "prcc": "partial rank correlation coefficient"}[base]
        bound = k[len(base) + 1:]
        ds[k].attrs = {"units": "1", "long_name": (f"{what} with {variable}" if not bound else
                                                   f"{bound} bound of the {pct} Fisher-z "
                                                   f"interval of the {what}")}
    ds.attrs = _tree_attrs(tree, variable) | {
        "method": "Spearman rank correlation and PRCC (rank regression residuals)",
        "ci_prob": float(ci_prob)}
    return ds


def _tree_attrs(tree, variable) -> dict:
    return provenance.stamp("sensitivity", tree.attrs, variable=variable)


def _one_blas_thread():
    """SALib's delta runs thousands of tiny 1-D KDEs; multi-threaded BLAS makes each one
    several times slower (much more on a busy machine). Use one BLAS thread when
    ``threadpoolctl`` is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def delta(tree: xr.DataTree, variable: str = "energy_wh", models=None, prompts=None, *,
          ci_prob: float = 0.95, num_resamples: int = 100, seed=0) -> xr.Dataset:
    """Borgonovo's moment-independent delta and a given-data first-order Sobol' estimate
    per input (SALib ``analyze.delta``, Plischke et al. 2013), per (model, prompt), from an
    existing :func:`mcfoot.simulate` result. Unlike Sobol' indices, delta is defined for
    correlated inputs and looks at the whole output distribution, not only its variance.

    Returns a Dataset over (input, model, prompt) with ``delta``, ``delta_conf``, ``S1``,
    ``S1_conf`` (conf = half-width of the bootstrap interval). Cost grows with draws x
    inputs x ``num_resamples``: a few thousand draws suffice.
    """
    from SALib.analyze import delta as salib_delta

    ci_prob = probability("ci_prob", ci_prob)
    ss = rng.normalize_seed(seed)
    _, boot = _salib_seeds(ss, "delta")

    def run(x, y):
        problem = {"num_vars": x.shape[1], "names": [f"x{i}" for i in range(x.shape[1])],
                   "bounds": [[float(c.min()), float(c.max())] for c in x.T]}
        # SALib seeds NumPy's global RNG, resets the warning filters to "once" and replaces
        # warnings.formatwarning: contain all three (its notices are recorded and dropped).
        state, fmt = np.random.get_state(), warnings.formatwarning
        try:
            with _one_blas_thread(), warnings.catch_warnings(record=True):
                r = salib_delta.analyze(problem, x, y, num_resamples=num_resamples,
                                        conf_level=ci_prob, seed=boot)
        finally:
            np.random.set_state(state)
            warnings.formatwarning = fmt
        return {"delta": r["delta_raw"], "delta_conf": r["delta_raw_conf"],
                "S1": r["S1"], "S1_conf": r["S1_conf"]}

    keys = ("delta", "delta_conf", "S1", "S1_conf")
    ds = _per_row(tree, variable, models, prompts, run, keys)
    pct = f"{100 * ci_prob:g}%"
    ds["delta"].attrs = {"units": "1", "long_name": f"Borgonovo delta of {variable}"}
    ds["S1"].attrs = {"units": "1",
                      "long_name": f"first-order Sobol' index of {variable} (given data)"}
    for k in ("delta", "S1"):
        ds[f"{k}_conf"].attrs = {"units": "1", "long_name":
                                 f"half-width of the {pct} bootstrap interval of {k}"}
    ds.attrs = _tree_attrs(tree, variable) | {
        "method": "delta moment-independent measure (Borgonovo 2007; Plischke, Borgonovo "
                  "& Smith 2013 given-data estimator, SALib, raw bootstrap)",
        "ci_prob": ci_prob, "num_resamples": num_resamples,
        "bootstrap_seed": rng.seed_record(ss)}
    return ds
