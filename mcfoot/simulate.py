"""The sampler: priors + catalogue -> DataTree of per-query footprint distributions.

Pipeline (data flows one way):

1. :func:`build_plan` resolves which prior applies to every (quantity, key) the selected
   catalogue rows need and lays rows out on a (model, prompt) grid (:mod:`mcfoot.plan`);
2. :func:`draw_normals` draws every random number up front, one named stream per prior
   (``rng.py``), as independent standard normals — or, with ``sampling="sobol"``, maps
   scrambled Sobol' points (``rng.sobol_blocks``) to the same normals; :func:`normals_from_design`
   maps any design of points in the unit hypercube (e.g. a Saltelli design) the same way;
3. :func:`evaluate` applies copulas and inverse CDFs, then runs the numba kernel (or its NumPy
   twin) over all draws;
4. :func:`simulate` wraps it all and returns an ``xarray.DataTree``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import special

from . import footprint as fp, provenance, rng, variables as V
from ._resources import check_memory as check_memory_available, staggered_empty
from ._validate import DEFAULT_CHUNK, check_draws, choice
from .errors import InputError
from .plan import SCOPE_DIM, Plan, _row_columns, build_plan, design_columns
from .priors import QUANTITIES, Scenario
from .serving import serve_arrays

__all__ = ["BACKENDS", "build_plan", "check_draws", "DEFAULT_CHUNK", "design_columns",
           "draw_normals", "evaluate", "Normals", "normals_from_design", "output_arrays",
           "Plan", "sample_chunk", "SCOPE_DIM", "simulate", "simulate_range"]

#: Sampler backends: the numba kernel and its NumPy twin (the test oracle).
BACKENDS = ("numba", "numpy")


@dataclass
class Normals:
    """Independent standard normals: per group stream (D,), and per row slot (S, D).

    ``source``: optional (S,) slot whose row holds each slot's normals
    (:meth:`Plan.row_sources`; rows sharing a stream are then drawn once, and the other
    rows' contents are undefined); ``None``: every row holds its own."""

    group: dict[str, np.ndarray]
    latency: np.ndarray
    speed: np.ndarray
    source: np.ndarray | None = None

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(latency, speed) normals with every row its own (a copy where rows are shared)."""
        if self.source is None:
            return self.latency, self.speed
        return self.latency[self.source], self.speed[self.source]


def draw_normals(plan: Plan, ss: np.random.SeedSequence, start: int, stop: int,
                 threads: int = 1, out: tuple[np.ndarray, np.ndarray] | None = None,
                 design: rng.Design | None = None, shared: bool = False) -> Normals:
    """Draw ``start..stop-1`` of every stream the plan needs (missing slots stay 0).

    ``out``: optional preallocated (latency, speed) arrays of shape (slots, stop - start) to
    draw the row normals into. ``design``: the run's :class:`mcfoot.rng.Design` (default:
    plain Monte Carlo); with a ``"sobol"`` design the normals are the inverse normal CDF of
    the run's scrambled Sobol' points, one coordinate per :func:`design_columns` entry.
    Each row stream (one per model, :meth:`Plan.row_streams`) is drawn once, into its
    source slot (:meth:`Plan.row_sources`); ``shared=True`` (plain Monte Carlo) leaves it
    there (``Normals.source`` set, the kernel reads it from there), else it is copied to the
    model's other slots.
    """
    n = stop - start
    if design is not None and design.kind == "sobol":
        _no_posterior(plan, "a Sobol' design")
        return _sobol_normals(plan, ss, design, start, stop, out)
    group = {}
    post = plan.scenario.posterior  # a calibrated scenario: shared inputs from its posterior
    idx = None if post is None else post.indices(ss, start, stop)
    for name in plan.group_streams():
        group[name] = stream_normals(post, idx, ss, name, start, stop)
    res = {}
    source = plan.row_sources()
    heads = np.flatnonzero(plan.present & (source == np.arange(plan.n_slots)))
    copies = np.flatnonzero(source != np.arange(plan.n_slots))
    for i, q in enumerate(("latency", "speed")):
        arr = np.zeros((plan.n_slots, n)) if out is None else out[i]
        names = plan.row_streams(q)
        rng.standard_normals_many(ss, [names[i] for i in heads], start, stop, out=arr,
                                  threads=threads, rows=heads)
        arr[~plan.present] = 0.0
        if not shared:
            arr[copies] = arr[source[copies]]
        res[q] = arr
    return Normals(group, res["latency"], res["speed"], source if shared else None)


def stream_normals(post, idx, ss, name: str, start: int, stop: int) -> np.ndarray:
    """Normals of draws ``start..stop-1`` of stream ``name``: the posterior's (rows ``idx``
    of a calibrated scenario's draws, see :mod:`mcfoot.posterior`) where it has the stream,
    else the seed's own."""
    return post.normals(name, idx) if post is not None and name in post else \
        rng.standard_normals(ss, name, start, stop)


def _no_posterior(plan: Plan, what: str) -> None:
    """A calibrated scenario's shared inputs are resampled posterior draws, which a design of
    points in the unit hypercube cannot express: refuse rather than sample the prior."""
    if plan.scenario.posterior is not None:
        raise InputError(f"scenario '{plan.scenario.name}' is calibrated: its shared inputs "
                         f"are posterior draws, which {what} cannot address; use plain Monte "
                         f"Carlo draws (design='mc'), or the base scenario")




def normals_from_design(plan: Plan, design: np.ndarray) -> Normals:
    """Map a design ``(D, len(design_columns(plan)))`` in the open unit hypercube to normals.

    Each column becomes the standard normal with that CDF value; copulas are then applied
    by :func:`evaluate` exactly as for random draws.
    """
    _no_posterior(plan, "a unit-space design")
    cols = design_columns(plan)
    design = np.asarray(design, dtype=float)
    if design.ndim != 2 or design.shape[1] != len(cols):
        raise InputError(f"design must have shape (points, {len(cols)}), got {design.shape}")
    if not np.all((design > 0) & (design < 1)):
        raise InputError("design points must lie strictly inside (0, 1)")
    normals = _empty_normals(plan, len(design))
    _fill_normals(plan, special.ndtri(design), normals, 0)
    return normals


def _empty_normals(plan: Plan, n: int, out=None) -> Normals:
    lat, spd = (np.zeros((plan.n_slots, n)), np.zeros((plan.n_slots, n))) if out is None \
        else out
    lat[~plan.present] = 0.0
    spd[~plan.present] = 0.0
    return Normals({name: np.empty(n) for name in plan.group_streams()}, lat, spd)


def _fill_normals(plan: Plan, z: np.ndarray, normals: Normals, offset: int) -> None:
    """Write normals ``z`` (points, design columns) at draws ``offset..offset+points-1``."""
    sl = slice(offset, offset + len(z))
    for i, arr in enumerate(normals.group.values()):  # group_streams order = design order
        arr[sl] = z[:, i]
    n_g, rows = len(normals.group), np.flatnonzero(plan.present)
    lat_cols, idx = _row_columns(plan, "latency")  # one column per model, shared by prompts
    normals.latency[rows, sl] = z[:, n_g + idx[rows]].T
    normals.speed[rows, sl] = z[:, n_g + len(lat_cols) + idx[rows]].T


def _sobol_normals(plan: Plan, ss, design: rng.Design, start: int, stop: int,
                   out=None) -> Normals:
    """Normals of draws ``start..stop-1`` of a Sobol' design (see :func:`draw_normals`)."""
    normals = _empty_normals(plan, stop - start, out)
    dims = len(design_columns(plan))
    for offset, z in rng.sobol_normals(ss, design, dims, start, stop):
        _fill_normals(plan, z, normals, offset)
    return normals


def _group_values(plan: Plan, normals: Normals, n: int) -> dict[str, np.ndarray]:
    """Values of every group-level quantity, shape (n_keys, n), copulas applied."""
    mixed = dict(normals.group)
    for cop in plan.scenario.copulas:
        if QUANTITIES[cop.inputs[0]].scope == "row":
            continue
        scope = QUANTITIES[cop.inputs[0]].scope
        for j in range(len(plan.keys[scope])):
            members = [i for i, q in enumerate(cop.inputs)
                       if not plan.priors[q][j].dist.is_fixed]
            if len(members) < 2:
                continue
            chol = np.linalg.cholesky(cop.corr[np.ix_(members, members)])
            names = [plan.priors[cop.inputs[i]][j].stream for i in members]
            z = chol @ np.stack([normals.group[s] for s in names])
            for s, row in zip(names, z):
                mixed[s] = row
    values = {}
    for q, priors in plan.priors.items():
        arr = np.empty((len(priors), n))
        for j, p in enumerate(priors):
            arr[j] = p.value_at(mixed.get(p.stream))
        values[q] = arr
    return values


def _attributed(plan: Plan, v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What one query is attributed per (combo, variant, draw): power by boundary in kW
    (``accelerator``, ``host``, ``idle``: provisioned but idle capacity) and the hardware's
    amortised manufacturing emissions per hour of node time (``embodied``, g CO2e/h)."""
    hw = plan.combo_hw
    pg, pn = v["gpu_node_power"][hw], v["nongpu_node_power"][hw]
    mode = plan.scenario.attribution
    if mode == "band":
        acc = np.stack([pg * v["gpu_util_min"], pg * v["gpu_util_max"]], axis=1)
        host = np.stack([pn * v["nongpu_util"]] * 2, axis=1)
    elif mode == "share":
        acc = (pg * v["gpu_power_factor"][hw] * v["gpu_util"])[:, None, :]
        host = (pn * v["nongpu_util"])[:, None, :]
    else:
        ug, un = fp.physical_shares(v["gpus"], v["gpus_per_node"][hw], v["batch_size"],
                                    v["gpu_power_fraction"][hw], v["host_load"][hw])
        acc, host = (pg * ug)[:, None, :], (pn * un)[:, None, :]
    idle = fp.idle_power_kw(acc + host, v["idle_fraction"][hw][:, None, :])
    share = v["node_share"] if mode != "physical" else \
        fp.physical_shares(v["gpus"], v["gpus_per_node"][hw], v["batch_size"], 1.0, 1.0)[0]
    rate = fp.embodied_g_per_h(share, v["gpus_per_node"][hw], v["embodied_accelerator"][hw],
                               v["embodied_node"][hw], v["hardware_lifetime"][hw],
                               v["fleet_utilisation"][hw])
    rate = np.broadcast_to(rate[:, None, :], acc.shape)
    return {"accelerator": np.ascontiguousarray(acc), "host": np.ascontiguousarray(host),
            "idle": np.ascontiguousarray(idle), "embodied": np.ascontiguousarray(rate)}


def _row_chol(plan: Plan) -> np.ndarray:
    for cop in plan.scenario.copulas:
        if cop.inputs[0] in ("latency", "speed"):
            order = [cop.inputs.index("latency"), cop.inputs.index("speed")]
            return np.linalg.cholesky(cop.corr[np.ix_(order, order)])
    return np.eye(2)


def _kernel_groups(plan: Plan, values: dict, n: int, repeat: int):
    """The kernel's group-level inputs from the group values of ``n`` draws: attributed
    power by boundary, host factors and the serving parameters (``None`` unless the serving
    attribution, whose derived inputs are added to ``values``), each repeated ``repeat``
    times along draws (see :func:`evaluate`)."""
    serving = None
    if plan.scenario.attribution == "serving":
        serve, extra = serve_arrays(plan, values)
        values.update(extra)
        serving = (plan.in_tokens, plan.slot_model, serve)
        none = np.zeros((len(plan.keys["combo"]), 1, 1))  # no hours x power in this mode
        power = {"accelerator": none, "host": none, "idle": none, "embodied": none}
    else:
        power = _attributed(plan, values)
    host = {v.quantity: np.ascontiguousarray(values[v.quantity]) for v in V.HOST.values()}
    if repeat > 1:  # group-level arrays (..., draws) -> (..., draws * repeat)
        def rep(a):
            return np.ascontiguousarray(np.repeat(a, repeat, axis=-1)) if a.shape[-1] == n \
                else a
        host = {k: rep(a) for k, a in host.items()}
        power = {k: rep(a) for k, a in power.items()}
        if serving is not None:
            serving = (serving[0], serving[1], rep(serving[2]))
    return power, host, serving


def evaluate(plan: Plan, normals: Normals, backend: str = "numba",
             out: dict | None = None, values: dict | None = None, repeat: int = 1
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Footprints for the given normals. Returns (outputs over (slot, draw), group inputs).

    With ``backend="numba"`` the row normals are overwritten by the sampled latency and
    speed (they become ``outputs["latency"]``/``["speed"]``), saving two large arrays.
    ``values``: the group inputs already evaluated (:func:`_group_values` of the same
    normals; calibration evaluates several query points per draw of the group inputs).
    ``repeat``: row-normal columns per draw of the group inputs (``values`` then has
    ``columns / repeat`` draws; the group-level arrays are computed once per draw and
    repeated, column ``j`` reading draw ``j // repeat``).
    """
    choice("backend", backend, BACKENDS, "the numba kernel or its NumPy twin")
    n = normals.latency.shape[1] // repeat
    values = _group_values(plan, normals, n) if values is None else dict(values)
    power, host, serving = _kernel_groups(plan, values, n, repeat)
    n *= repeat
    args = (normals.latency, normals.speed, _row_chol(plan), plan.probs, plan.lat_q,
            plan.spd_q, plan.out_tokens, plan.slot_combo, plan.slot_host,
            power["accelerator"], power["host"], power["idle"], power["embodied"],
            host["pue"], host["wue_site"], host["wue_source"], host["cif"],
            host["cif_market"])
    if backend == "numpy":
        args = (*normals.rows(), *args[2:])
        res = fp.footprint_reference(*args) if serving is None else \
            fp.footprint_reference(*args, serving=serving)
    else:
        s = plan.n_slots
        if out is None:
            out = {k: staggered_empty((s, n), i) for i, k in enumerate(V.kernel_keys())}
            out[V.VARIANTS_KEY] = staggered_empty((power["accelerator"].shape[1], s, n),
                                                  len(out))
        out.setdefault("latency", normals.latency)
        out.setdefault("speed", normals.speed)
        if serving is not None:
            out.setdefault("batch", np.empty((s, n)))
        from ._kernels import footprint as kernel_footprint  # numba only when used

        res = kernel_footprint(*args, out=out, serving=serving, source=normals.source)
    if serving is None:
        values["power_kw"] = power["accelerator"] + power["host"]
    return res, values


def run_bytes(plan: Plan, draws: int, variables=None) -> int:
    """Bytes an in-memory run of ``draws`` draws holds at its peak (derived from the arrays
    :func:`_run` and :func:`_to_tree` allocate, float64): per row slot one array per
    requested footprint (``variables``, default all; the band's two variants as one array
    each) and row input of the registry; per group-level key one input array; per model one
    per host factor; per size class x hardware the attributed power (1 or 2 bounds)."""
    bounds = 2 if plan.scenario.attribution == "band" else 1
    per_slot = sum(a.shape[0] if a.ndim == 3 else 1
                   for a in output_arrays(plan, 0, variables).values())
    per_draw = per_slot * plan.n_slots \
        + len(V.HOST) * len(plan.models) + sum(len(v) for v in plan.priors.values()) \
        + bounds * len(plan.keys["combo"])
    return 8 * per_draw * int(draws)


def check_memory(plan: Plan, draws: int, variables=None) -> None:
    """Refuse an in-memory run that cannot fit, naming the size and the streaming options."""
    check_memory_available(
        run_bytes(plan, draws, variables), f"an in-memory run of {draws:,} draws x "
        f"{int(plan.present.sum())} catalogue rows",
        "use fewer draws, or a bounded-memory run: `mcfoot run --workers 2 --chunk-draws 65536` "
        "(the `dask` extra) writes the file chunk by chunk, and `mcfoot.stream.stream()` "
        "summarises any number of draws")


def simulate(scenario: str | Path | Scenario = "default", draws: int = 10_000, seed=0,
             models=None, prompts=None, *, catalogue=None, backend: str = "numba",
             chunk_draws: int | None = None, threads: int | None = None,
             progress: bool | None = None, sampling: str = "mc",
             replicates: int | None = None, region: str | None = None,
             variables=None) -> xr.DataTree:
    """Monte Carlo footprints of every (model, prompt) under a scenario.

    Parameters
    ----------
    scenario : shipped scenario name (``"paper"``, ``"default"``, ``"physical"``) or a path
        to a TOML file.
    draws : number of Monte Carlo draws.
    seed : ``int | SeedSequence | Generator | None``; recorded in the result's attrs.
    models, prompts : optional selections (catalogue model ids, prompt sizes).
    catalogue : path of a catalogue CSV (default: the shipped study catalogue) or a Dataset.
    backend : ``"numba"`` (fast kernel) or ``"numpy"`` (the reference twin).
    chunk_draws : draws per chunk (results do not depend on it).
    threads : threads for random-number generation (results do not depend on it).
    progress : show a progress bar on stderr (default: when the run has several chunks).
    sampling : ``"mc"`` (independent pseudo-random draws) or ``"sobol"`` (randomized
        quasi-Monte Carlo: ``replicates`` independent scrambles of a Sobol' sequence,
        ``draws / replicates`` points each, a power of two; see :func:`mcfoot.rng.make_design`).
        Means of smooth footprints converge far faster with ``"sobol"``; the Monte Carlo
        error of every estimate then comes from the spread between replicates
        (:mod:`mcfoot.mcse`).
    replicates : independent scrambles for ``sampling="sobol"`` (default 16).
    region : a grid region (``mcfoot priors regions``) whose grid carbon intensity (and
        off-site water intensity, where sourced) replaces every host's; the scenario is
        then named ``NAME@region``.
    variables : per-query footprints to compute and hold (a name or names of
        ``mcfoot.variables.footprint_names``; default all): only these are written, so a run
        that needs ``energy_wh`` alone holds and writes one array per row instead of every
        boundary. The values do not depend on the selection.

    Returns
    -------
    DataTree with groups ``footprint`` (dims draw, model, prompt: ``energy_wh``,
    ``carbon_g``, ``water_site_ml``, ``water_source_ml``, ``water_ml``; ``energy_min_wh`` /
    ``energy_max_wh`` for the study's band; per-model host factors over draw, model),
    ``inputs`` (every sampled input per draw) and ``catalogue`` (the rows used); attrs record
    the seed, scenario and catalogue hashes, the sampling design (``sampling``,
    ``sampling_replicates``, ``sampling_points``, scramble seeds), mcfoot version and
    creation time.
    """
    draws, chunk = check_draws(draws, chunk_draws)
    choice("backend", backend, BACKENDS, "the numba kernel or its NumPy twin")
    design = rng.make_design(sampling, draws, replicates)
    ss = rng.normalize_seed(seed)
    plan = build_plan(scenario, catalogue, models, prompts, region=region)
    variables = V.select_per_query(variables, band=plan.scenario.attribution == "band")
    check_memory(plan, draws, variables)
    if threads is None:
        import numba

        threads = numba.get_num_threads()
    threads = max(1, int(threads))
    bounds = [(s, min(s + chunk, draws)) for s in range(0, draws, chunk)]
    it = bounds
    if progress or (progress is None and len(bounds) > 2):
        from tqdm.auto import tqdm

        it = tqdm(bounds, desc=f"mcfoot {plan.scenario.name}", unit="chunk", leave=False)
    full, variants, values = _run(plan, ss, 0, draws, it, backend, threads, design, variables)
    return _to_tree(plan, full, variants, values, ss, draws, backend, design=design)


def simulate_range(plan: Plan, seed, start: int, stop: int, *, backend: str = "numba",
                   threads: int = 1, design: rng.Design | None = None,
                   variables=None) -> xr.DataTree:
    """Draws ``start..stop-1`` of the run ``simulate(plan's scenario, seed=seed)`` as a
    DataTree whose ``draw`` coordinate is ``start..stop-1``.

    The values equal ``simulate(...).isel(draw=slice(start, stop))`` bit for bit (every random
    number depends only on (seed, stream, draw index)); the root attrs describe the whole
    run's provenance, ``draws`` is this range's length. This is the unit of work of chunked,
    streaming and distributed runs (``mcfoot.stream``, ``mcfoot.distributed``).
    ``design``: the whole run's :class:`mcfoot.rng.Design` (``rng.make_design(sampling,
    draws, replicates)``; default plain Monte Carlo). ``variables``: as in :func:`simulate`.
    """
    if not 0 <= start < stop:
        raise InputError(f"need 0 <= start < stop, got start={start}, stop={stop}")
    if design is not None and design.kind == "sobol" and stop > design.draws:
        raise InputError(f"draws {start}..{stop - 1} are outside the design's "
                         f"{design.draws} draws")
    ss = rng.normalize_seed(seed)
    full, variants, values = _run(plan, ss, start, stop, [(start, stop)], backend,
                                  max(1, int(threads)), design, variables)
    return _to_tree(plan, full, variants, values, ss, stop - start, backend, start=start,
                    design=design)


def output_arrays(plan: Plan, n: int, variables=None) -> dict[str, np.ndarray]:
    """Uninitialised arrays for the kernel outputs of ``n`` draws (``evaluate(out=...)``):
    (slot, draw) per footprint and row input, (variant, slot, draw) under ``VARIANTS_KEY``.

    ``variables``: the per-query footprints wanted (validated names; default every one of
    the scenario): the kernel writes only those (the row inputs latency and speed, and the
    serving batch, always), so memory and bandwidth follow what was asked.
    """
    band = plan.scenario.attribution == "band"
    names = V.select_per_query(variables, band=band)
    per_query = V.per_query()
    keys = [per_query[v].kernel_key for v in names if not per_query[v].band]
    extra = ("batch",) if plan.scenario.attribution == "serving" else ()  # physics' batch
    s_n = plan.n_slots
    out = {k: staggered_empty((s_n, n), i)
           for i, k in enumerate((*keys, *V.row_kernel_keys(), *extra))}
    if any(per_query[v].band for v in names):
        out[V.VARIANTS_KEY] = staggered_empty((len(V.BAND), s_n, n), len(out))
    return out


def sample_chunk(plan: Plan, ss, start: int, stop: int, backend: str = "numba",
                 threads: int = 1, out: dict | None = None,
                 design: rng.Design | None = None):
    """Draws ``start..stop-1`` of the run's ``design`` (default: plain Monte Carlo):
    :func:`draw_normals` + :func:`evaluate`, returning ``(outputs over (slot, draw), group
    inputs)``.

    ``out`` (numba backend; :func:`output_arrays` for ``stop - start`` draws): the row normals
    are drawn straight into ``out["latency"]``/``out["speed"]`` and the kernel overwrites
    them in place with the sampled latency and speed and writes every output into ``out``,
    which is returned (no allocation: a streaming run reuses one set of arrays).
    """
    if backend == "numba" and out is not None:
        normals = draw_normals(plan, ss, start, stop, threads=threads,
                               out=(out["latency"], out["speed"]), design=design,
                               shared=True)
        return evaluate(plan, normals, backend, out=out)
    return evaluate(plan, draw_normals(plan, ss, start, stop, threads=threads, design=design),
                    backend)


def _run(plan: Plan, ss, start: int, stop: int, bounds, backend: str, threads: int,
         design: rng.Design | None = None, variables=None):
    """Evaluate the chunks ``bounds`` (covering ``start..stop``) into whole-range arrays of
    the requested ``variables`` (:func:`output_arrays`)."""
    n = stop - start
    full = output_arrays(plan, n, variables)
    group_chunks: list[dict] = []
    single = len(bounds) == 1
    buf = None  # numba: one set of chunk arrays, reused while the chunk size stays
    for s, e in bounds:
        if backend == "numba" and single:  # one chunk: straight into the result (no copies)
            _, values = sample_chunk(plan, ss, s, e, backend, threads, out=full, design=design)
        else:
            if backend == "numba" and (buf is None or buf["latency"].shape[1] != e - s):
                buf = None
                buf = output_arrays(plan, e - s, variables)
            res, values = sample_chunk(plan, ss, s, e, backend, threads, out=buf,
                                       design=design)
            for k in full:
                full[k][..., s - start:e - start] = res[k]
        group_chunks.append(values)
    variants = full.pop(V.VARIANTS_KEY, None)
    if single:
        return full, variants, group_chunks[0]
    values = {k: np.concatenate([g[k] for g in group_chunks], axis=-1) for k in group_chunks[0]}
    return full, variants, values


def _into(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    dst[...] = src
    return dst


def _grid(plan: Plan, a: np.ndarray) -> np.ndarray:
    """(slot, draw) -> view (draw, model, prompt)."""
    return np.moveaxis(a.reshape(len(plan.models), len(plan.prompts), -1), -1, 0)


def _inputs_group(plan, full, values, coords) -> xr.Dataset:
    """The ``inputs`` group of a run: sampled row inputs, serving's derived inputs, every
    group-level prior's draws (units, long name, kinds) and the attributed power."""
    inp = xr.Dataset(coords={"draw": coords["draw"], "model": coords["model"],
                             "prompt": coords["prompt"],
                             "hardware": list(plan.keys["hardware"]),
                             "host": list(plan.keys["host"]),
                             "size_class_hardware": [f"{s}/{h}" for s, h in plan.keys["combo"]]})
    for name, v in V.ROW_INPUTS.items():
        inp[name] = (v.dims, _grid(plan, full[v.kernel_key]), v.attrs)
    if "batch" in full:  # serving attribution: the physics' derived inputs
        for name, v in V.SERVING.items():
            arr = _grid(plan, full[v.kernel_key]) if v.dims[-1] == "prompt" else \
                values[v.kernel_key].T
            inp[name] = (v.dims, arr, v.attrs)
    for q, arr in values.items():
        if q == "power_kw" or q in V.SERVING:
            continue
        meta = QUANTITIES[q]
        priors = plan.priors[q]
        inp[q] = (("draw", SCOPE_DIM[meta.scope]), arr.T,
                  {"units": meta.unit, "long_name": meta.long_name,
                   "dist": ";".join(p.dist.kind for p in priors)})
    if "power_kw" in values:
        pw = values["power_kw"]
        names = ("min", "max") if pw.shape[1] == 2 else ("value",)
        power = V.DERIVED["power_kw"]
        inp[power.name] = (power.dims, np.moveaxis(pw, -1, 0), power.attrs)
        inp = inp.assign_coords(bound=list(names))
    return inp


def _to_tree(plan, full, variants, values, ss, draws, backend, start=0,
             design: rng.Design | None = None) -> xr.DataTree:
    coords = {"draw": np.arange(start, start + draws), "model": list(plan.models),
              "prompt": list(plan.prompts)}
    fpt = xr.Dataset(coords=coords)
    for name, v in V.FOOTPRINT.items():
        if v.kernel_key in full:  # the requested ones (simulate's ``variables``)
            fpt[name] = (v.dims, _grid(plan, full[v.kernel_key]), v.attrs)
    if variants is not None:
        for i, (name, v) in enumerate(V.BAND.items()):
            fpt[name] = (v.dims, _grid(plan, variants[i]), v.attrs)
    host_idx = plan.slot_host.reshape(len(plan.models), -1)[:, 0]
    for name, v in V.HOST.items():
        fpt[name] = (v.dims, values[v.quantity][host_idx].T, v.attrs)
    for col in ("company", "size_class", "hardware", "host"):
        fpt = fpt.assign_coords({col: ("model", plan.catalogue[col].values.astype(str))})

    inp = _inputs_group(plan, full, values, coords)
    attrs = provenance.stamp(
        "simulate", provenance.run_attrs(plan, ss, draws, backend, design),
        title="mcfoot per-query footprint distributions",
        method="Jegham et al. 2025 (arXiv 2505.09598) footprint equations")
    catalogue = plan.catalogue.copy()
    catalogue.attrs = {}  # provenance lives in the root attrs; keep the variables' units
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs=attrs), "footprint": fpt,
                                  "inputs": inp, "catalogue": catalogue})
    return tree
