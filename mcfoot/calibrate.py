"""Learn from measurements: condition a scenario's shared inputs on published figures.

:func:`calibrate` returns a DataTree in ArviZ's conventions (groups ``prior``,
``posterior``, ``log_likelihood``, ``observed_data``, ``sample_stats``, the calibrated
scenario in ``calibration`` and, optionally, the posterior footprints ``footprint``,
``inputs``, ``catalogue`` of every catalogue row); :func:`calibrated_scenario` turns it into
a scenario that ``simulate`` (and everything built on it) accepts, and the file it is
written to is accepted as ``scenario="posterior.nc"``. :func:`loo` checks the calibration
out of sample.

**Measurement model** (constants in ``mcfoot/data/measurement.toml``). An entry ``e``
publishes ``y_e`` for a variable (or a sum of variables: e.g. operational plus embodied
carbon) at its own boundary, for one catalogue model, a weighted mix of models, or a lab
configuration, and a statistic (mean or median over queries). In each draw ``i`` of the
scenario's shared inputs ``theta_i`` (hardware power, serving regime, host factors, model
sizes: every group-level input; one draw = one state of the world):

- the *prediction* ``mu_e(theta_i)`` is that statistic of the footprint over queries:
  the footprint of each model of the entry is evaluated at ``query_points`` fixed points of
  the latency/speed normals (query-level randomness, integrated out by a lattice rule, the
  same points for every draw) and reduced by the mean or median; a mix is the mixture of
  its models' query distributions (weighted mean, weighted median of the pooled points);
- token counts the source states are used as they are; a token count the source does not
  state is one unknown per entry (a discrete prior in the evidence file, drawn per draw
  from the stream ``evidence/ID/output_tokens`` or ``.../input_tokens``): what a source
  calls its "typical" query is one number we do not know, not a spread of queries, so it
  is calibrated jointly with the shared inputs. Entries of one disclosure (same id prefix)
  about the same models with the same token prior share it (Google's four figures are
  about one median prompt);
- ``log y_e = log mu_e(theta_i) + eps_e``, ``eps_e ~ Normal(0, sigma_e^2)``, with
  ``sigma_e = max(stated log-sd, floor)`` (a lognormal error; the floor where a source
  gives none). Entries are independent given ``theta``.

A provider's figure informs another provider's estimate only through inputs both use: the
scenario's scopes are the sharing structure. Hardware-class inputs (accelerator power,
power-vs-batch and efficiency relations in ``serving``; the attributed share per size class
and hardware in ``default``) are a regime shared by every provider on that hardware; host
inputs (PUE, WUE, grid) and model inputs (parameter counts, hardware choice) are each
provider's own deviations from it. :func:`loo` measures how far each entry moves each
headline model's interval.

**Inference** (``tempering.py``): importance weights on prior draws with Pareto smoothing
(PSIS), or, when those are degenerate (k̂ above threshold, ESS below ``min_ess``), adaptive
tempering with pCN rejuvenation moves through the same sampler; a run that cannot reach a
trustworthy posterior raises :class:`~mcfoot.errors.CalibrationError`.
"""

from __future__ import annotations

import contextlib
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import special

from . import _arviz, catalogue as cat, distributions as dists, provenance, rng, tempering
from . import variables as V
from .errors import CalibrationError, InputError
from .posterior import GROUP, Posterior, attach
from .priors import QUANTITIES, Scenario, load_scenario
from .simulate import SCOPE_DIM, Normals, _group_values, build_plan, evaluate, simulate

#: kernel output of each footprint variable an entry may name (the variable registry)
VARIABLE_KEYS = {name: v.kernel_key for name, v in V.FOOTPRINT.items()}
STATISTICS = ("mean", "median")


def _settings() -> dict:
    with resources.files("mcfoot.data").joinpath("measurement.toml").open("rb") as f:
        return tomllib.load(f)


SETTINGS = _settings()
FLOOR = float(SETTINGS["error"]["floor_log_sd"])
CONFLICT_TAIL = float(SETTINGS["conflict"]["tail_probability"])
#: Largest |z| the normal -> uniform -> inverse-CDF map resolves: Phi(8.3) rounds to 1 in
#: double precision (numerical fact, not an assumption).
Z_EDGE = 8.0
#: shipped entries left out by default (measurement.toml [evidence], with reasons)
NOT_CALIBRATED = tuple(SETTINGS["evidence"]["not_calibrated"])


def query_points(n: int | None = None, g: int | None = None) -> np.ndarray:
    """The (2, n) lattice of latency/speed normals that integrates query-level randomness
    (``measurement.toml [query]``)."""
    n = int(SETTINGS["query"]["query_points"]) if n is None else n
    g = int(SETTINGS["query"]["lattice_generator"]) if g is None else g
    i = np.arange(n)
    u = np.stack([(i + 0.5) / n, np.mod((i * g + 0.5) / n, 1.0)])
    return special.ndtri(u)


@dataclass(frozen=True)
class Observation:
    """One published figure as calibration uses it.

    ``models``: ((catalogue model id, weight), ...), weights summing to 1 (one model: weight
    1). ``variables``: footprint variables summed. ``output_tokens``/``input_tokens``: a
    fixed or discrete :class:`~mcfoot.distributions.Distribution` (``None`` input: the
    model's shortest measured prompt). ``per``: ``"query"`` or ``"output_token"``;
    ``factor``: multiplies the prediction into the entry's ``unit`` (e.g. 3600 J per Wh).
    ``log_sd``: the stated log-sd (0: none stated; the floor applies).
    """

    id: str
    value: float
    unit: str
    variables: tuple[str, ...]
    models: tuple[tuple[str, float], ...]
    output_tokens: dists.Distribution
    input_tokens: dists.Distribution | None = None
    statistic: str = "mean"
    per: str = "query"
    factor: float = 1.0
    log_sd: float = 0.0
    source: str = ""
    #: a lab-configuration entry (``mcfoot.evidence.Evidence``), predicted by the scenario's
    #: serving physics at the bench's configuration instead of catalogue rows
    lab: object = None

    def __post_init__(self):
        where = f"evidence entry {self.id!r}"
        if not (math.isfinite(self.value) and self.value > 0):
            raise InputError(f"{where}: value must be a positive number, got {self.value!r}")
        bad = [v for v in self.variables if v not in VARIABLE_KEYS]
        if bad or not self.variables:
            raise InputError(f"{where}: variable(s) {', '.join(bad) or '(none)'} cannot be "
                             f"calibrated on; use {', '.join(VARIABLE_KEYS)}")
        if self.statistic not in STATISTICS:
            raise InputError(f"{where}: statistic {self.statistic!r}; use mean or median")
        if self.per not in ("query", "output_token"):
            raise InputError(f"{where}: per {self.per!r}; use query or output_token")
        w = [x for _, x in self.models]
        if self.lab is None and (not self.models or min(w) <= 0 or abs(sum(w) - 1) > 1e-9):
            raise InputError(f"{where}: model weights must be positive and sum to 1")
        if not (self.log_sd >= 0 and math.isfinite(self.log_sd)):
            raise InputError(f"{where}: log_sd must be >= 0, got {self.log_sd!r}")
        for name, d in (("output_tokens", self.output_tokens),
                        ("input_tokens", self.input_tokens)):
            if d is not None and d.kind not in ("fixed", "discrete"):
                raise InputError(f"{where}: {name} must be a number or a discrete prior "
                                 f"(got {d.kind}); calibration enumerates token counts")

    @property
    def sigma(self) -> float:
        """Log-sd of the measurement error: max(stated, floor)."""
        return max(self.log_sd, FLOOR)

    def token_values(self, which: str) -> np.ndarray:
        d = self.output_tokens if which == "output" else self.input_tokens
        if d is None:
            return np.array([np.nan])
        return np.atleast_1d(np.asarray(d.params["value"] if d.is_fixed else
                                        d.params["values"], float))


@dataclass
class _Layout:
    """Where each observation's rows sit in the evidence plan."""

    slots: list  # per obs: array (models, n_out, n_in) of plan slots
    nuisance: list  # per obs: list of (stream name, Distribution, axis) for unknown tokens
    streams: list = field(default_factory=list)  # particle streams: group + nuisance


class Likelihood:
    """Per-entry log-likelihood of the scenario's shared inputs, as ``tempering.fit``
    needs it: ``self(z)`` with ``z`` (len(streams), n) -> (entries, n)."""

    def __init__(self, scenario: Scenario, observations: list, catalogue=None,
                 backend: str = "numba"):
        self.obs = list(observations)
        if not self.obs:
            raise InputError("no evidence to calibrate on")
        ids = [o.id for o in self.obs]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise InputError(f"evidence id(s) {', '.join(dup)} given twice")
        self.backend = backend
        self.scenario = scenario
        full = catalogue if isinstance(catalogue, xr.Dataset) else cat.load_catalogue(catalogue)
        self.rows = [o for o in self.obs if o.lab is None]
        self.labs = [o for o in self.obs if o.lab is not None]
        if self.labs:
            from .serving import lab_streams

            if scenario.attribution != "serving":
                raise InputError(
                    f"evidence {', '.join(o.id for o in self.labs)} measured a lab "
                    f"configuration, which scenario '{scenario.name}' (attribution "
                    f"'{scenario.attribution}') cannot predict; calibrate the 'serving' "
                    f"scenario, or exclude them")
        self.group, nuis = [], []
        if self.rows:
            req, self.layout = _request_catalogue(full, self.rows)
            self.plan = build_plan(scenario, req)
            self.group = self.plan.group_streams()
            nuis = [n for nu in self.layout.nuisance for n, _, _ in nu]
            self.row_sets = _row_sets(self.layout)
        else:
            self.plan, self.layout = build_plan(scenario, full), None
        self.lab_streams = {o.id: lab_streams(o.lab, scenario) for o in self.labs}
        lab_names = [n for o in self.labs for n in self.lab_streams[o.id]]
        self.streams = list(dict.fromkeys(self.group + nuis + lab_names))
        self.col = {n: i for i, n in enumerate(self.streams)}
        self.q = query_points()
        self.y = np.array([o.value for o in self.obs])
        self.sigma = np.array([o.sigma for o in self.obs])

    def normals(self, ss: np.random.SeedSequence, draws: int) -> np.ndarray:
        """Normals (streams, draws) of the streams the entries read, as a run of the
        scenario with seed ``ss`` draws them (a calibrated scenario: from its posterior)."""
        from .simulate import stream_normals

        post = self.scenario.posterior
        idx = None if post is None else post.indices(ss, 0, draws)
        return np.stack([stream_normals(post, idx, ss, s, 0, draws) for s in self.streams])

    def predict(self, z: np.ndarray) -> np.ndarray:
        """Predicted statistic of every entry in its unit: (entries, n)."""
        n = z.shape[1]
        out = np.empty((len(self.obs), n))
        pos = {o.id: i for i, o in enumerate(self.obs)}
        if self.rows:
            for o, row in zip(self.rows, self._predict_rows(z)):
                out[pos[o.id]] = row
        if self.labs:
            from .serving import lab_evidence_prediction

            for o in self.labs:
                normals = {s: z[self.col[s]] for s in self.lab_streams[o.id]}
                out[pos[o.id]] = lab_evidence_prediction(o.lab, self.scenario, n, 0,
                                                         normals=normals)
        return out

    def _predict_rows(self, z: np.ndarray) -> np.ndarray:
        """Entries' predictions from the plan's rows, evaluating in each draw only the rows
        its token counts select: the draws are grouped by the choice of each set of entries
        sharing rows and token unknowns (Google's four figures: one set), and each group is
        evaluated on its own rows (a slot subset of the plan, the same per-slot arrays; each
        draw and query point is computed independently, so the values equal those of the
        full plan bit for bit)."""
        n, k = z.shape[1], self.q.shape[1]
        group = {s: z[self.col[s]] for s in self.group}
        vals = _group_values(self.plan, Normals(group, np.zeros((0, n)), np.zeros((0, n))), n)
        out = np.empty((len(self.rows), n))
        for members, slots, nuis in self.row_sets:
            choice = [np.zeros(n, np.int64), np.zeros(n, np.int64)]
            for name, d, axis in nuis:
                choice[axis] = _discrete_index(d, z[self.col[name]])
            combo = choice[0] * slots.shape[2] + choice[1]
            for c in np.unique(combo):
                draws = np.flatnonzero(combo == c)
                rows = slots[:, c // slots.shape[2], c % slots.shape[2]]  # (M,)
                res = self._evaluate_rows(rows, draws, vals)
                for e in members:
                    o = self.rows[e]
                    tot = sum(res[VARIABLE_KEYS[v]] for v in o.variables)
                    tot = tot.reshape(len(rows), len(draws), k)  # (M, draws, k)
                    if o.per == "output_token":
                        tot = tot / self.plan.out_tokens[rows][:, None, None]
                    w = np.array([x for _, x in o.models])
                    out[e, draws] = (np.tensordot(w, tot.mean(axis=2), axes=1)
                                     if o.statistic == "mean" else _weighted_median(tot, w))
                    out[e, draws] *= o.factor
        return out

    def _evaluate_rows(self, rows: np.ndarray, draws: np.ndarray, vals: dict) -> dict:
        """Kernel outputs (rows, draws * k) of plan slots ``rows`` at ``draws``, each draw at
        the ``k`` query points."""
        import dataclasses

        k, m = self.q.shape[1], len(rows)
        p = self.plan
        sub = dataclasses.replace(
            p, present=p.present[rows], slot_combo=p.slot_combo[rows],
            slot_host=p.slot_host[rows], out_tokens=p.out_tokens[rows],
            lat_q=p.lat_q[rows], spd_q=p.spd_q[rows], slot_model=p.slot_model[rows],
            in_tokens=p.in_tokens[rows])
        v = {q: a[:, draws] for q, a in vals.items()}
        normals = Normals({}, np.tile(self.q[0], (m, len(draws))),
                          np.tile(self.q[1], (m, len(draws))))
        with _one_thread():
            res, _ = evaluate(sub, normals, self.backend, values=v, repeat=k)
        return res

    def __call__(self, z: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", over="ignore"):
            mu = self.predict(z)
        return _loglik_from(self, mu)


@contextlib.contextmanager
def _one_thread():
    """Run the kernel on the calling thread: calibration evaluates a few rows per call, many
    calls per likelihood; a parallel region per call waits for its worker threads, which on
    a loaded machine costs a scheduler time slice (~5 ms measured) per call, far more than
    the work. Results do not depend on the thread count (the kernel's rows are
    independent)."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _row_sets(layout: _Layout) -> list:
    """Entries that read the same rows with the same token unknowns, evaluated together:
    [(entry indices, slots (M, n_out, n_in), nuisance), ...]."""
    sets: dict = {}
    for e, (slots, nu) in enumerate(zip(layout.slots, layout.nuisance)):
        key = (slots.shape, slots.tobytes(), tuple((n, axis) for n, _, axis in nu))
        sets.setdefault(key, ([], slots, nu))[0].append(e)
    return list(sets.values())


def _discrete_index(d: dists.Distribution, z: np.ndarray) -> np.ndarray:
    """Index into ``d``'s values of the draw with normal ``z`` (the sampler's discrete
    inverse CDF: the value ``d.ppf(Phi(z))``)."""
    vals = np.asarray(d.params["values"], float)
    x = d.ppf(special.ndtr(z))
    return np.searchsorted(vals, x).clip(0, len(vals) - 1) if np.all(np.diff(vals) > 0) \
        else np.array([int(np.flatnonzero(vals == v)[0]) for v in x])


def _weighted_median(vals: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Median over the pooled (model, point) axis of ``vals`` (M, n, k), model m's points
    weighing ``w[m] / k``: the inverted-CDF median of the mixture."""
    m, n, k = vals.shape
    x = np.moveaxis(vals, 1, 0).reshape(n, m * k)
    ww = np.repeat(w / k, k)
    order = np.argsort(x, axis=1, kind="stable")
    xs = np.take_along_axis(x, order, axis=1)
    cw = np.cumsum(ww[order], axis=1)
    j = np.argmax(cw >= 0.5 - 1e-12, axis=1)
    return xs[np.arange(n), j]


def _request_catalogue(full: xr.Dataset, obs: list) -> tuple[xr.Dataset, _Layout]:
    """A catalogue with one row per (entry, model, output tokens, input tokens)."""
    try:
        from .estimate import request_catalogue
    except ImportError:  # pragma: no cover - before `estimate` exists
        request_catalogue = None
    blocks, slots, nuisance, base = [], [], [], 0
    models_all = list(dict.fromkeys(m for o in obs for m, _ in o.models))
    unknown = [m for m in models_all if m not in set(map(str, full.model.values))]
    if unknown:
        raise InputError(f"evidence names model(s) {', '.join(unknown)} not in catalogue "
                         f"{full.attrs.get('source', '(given)')}")
    rows_per_model: dict[str, list] = {m: [] for m in models_all}
    seen: dict[tuple, int] = {}  # entries at the same (model, tokens) share a row
    shared: dict[tuple, str] = {}
    for o in obs:
        t_out, t_in = o.token_values("output"), o.token_values("input")
        nu = []
        for which, d, axis in (("output", o.output_tokens, 0), ("input", o.input_tokens, 1)):
            if d is not None and not d.is_fixed:
                # entries of one disclosure (same id prefix) about the same models with the
                # same token prior describe the same query: one unknown count for all
                key = (source_of(o.id), o.models, which, repr(sorted(d.params.items())))
                name = shared.setdefault(key, f"evidence/{o.id}/{which}_tokens")
                nu.append((name, d, axis))
        nuisance.append(nu)
        idx = np.empty((len(o.models), len(t_out), len(t_in)), np.int64)
        for mi, (m, _) in enumerate(o.models):
            for a, to in enumerate(t_out):
                for b, ti in enumerate(t_in):
                    key = (m, float(to), float(ti))
                    if key not in seen:
                        seen[key] = len(rows_per_model[m])
                        rows_per_model[m].append((to, ti))
                    idx[mi, a, b] = seen[key]
        slots.append(idx)
    width = max(len(v) for v in rows_per_model.values())
    # one request catalogue: model x prompt (r0..r{width-1}); pad with each model's first
    # request (evaluated, never read)
    if request_catalogue is None:
        request_catalogue = _catalogue_rows
    parts = []
    for m in models_all:
        r = rows_per_model[m] + [rows_per_model[m][0]] * (width - len(rows_per_model[m]))
        out_t = np.array([t for t, _ in r], np.int64)
        tin = np.array([t for _, t in r])
        in_t = None if np.isnan(tin).all() else np.where(np.isnan(tin), 0, tin).astype(np.int64)
        parts.append(request_catalogue(full.sel(model=[m]), [m], out_t, in_t))
    req = xr.concat(parts, dim="model", data_vars="different", coords="different",
                    compat="equals", join="exact", combine_attrs="override") \
        if len(parts) > 1 else parts[0]
    n_p = width
    mpos = {m: i for i, m in enumerate(models_all)}
    for e, o in enumerate(obs):
        for mi, (m, _) in enumerate(o.models):
            slots[e][mi] += mpos[m] * n_p
    return req, _Layout(slots, nuisance)


def _catalogue_rows(ds, models, out_t, in_t):
    """Catalogue rows at exactly the requested token counts (without ``estimate``)."""
    m = models[0]
    row = ds.sel(model=m)
    picks = []
    for j, to in enumerate(out_t):
        ok = (row.output_tokens.values == to) & row.present.values
        if in_t is not None:
            ok &= row.input_tokens.values == in_t[j]
        if not ok.any():
            raise InputError(f"{m}: no catalogue row with {to} output tokens")
        picks.append(int(np.flatnonzero(ok)[0]))
    out = ds.isel(prompt=picks)
    return out.assign_coords(prompt=[f"r{j}" for j in range(len(picks))])


def shipped_observations(evidence=None, exclude=(), catalogue=None) -> list:
    """Observations from evidence files (``mcfoot.evidence``; shipped ones by default, less
    ``measurement.toml``'s ``not_calibrated``)."""
    from .evidence import load_evidence  # issue 12's evidence format

    from_file = [observation_from_evidence(e) for e in load_evidence(evidence, catalogue)]
    ids = {o.id for o in from_file}
    bad = [x for x in exclude if x not in ids]
    if bad:
        raise InputError(f"exclude names unknown evidence id(s) {', '.join(bad)}; known: "
                         f"{', '.join(sorted(ids))}")
    skip = set(exclude) | (set(NOT_CALIBRATED) if evidence is None else set())
    return [o for o in from_file if o.id not in skip]


def observation_from_evidence(e) -> Observation:
    """An evidence entry (``mcfoot.evidence.Evidence``) as an Observation: stated
    uncertainty as a log-sd (``relative_sd`` r: ``sqrt(log(1 + r^2))``; an ``interval``
    (low, high) at probability p: ``log(high / low) / (2 z_(1+p)/2)``; ``none``: 0, the floor
    applies)."""
    u = e.uncertainty or {"kind": "none"}
    if u["kind"] == "relative_sd":
        log_sd = math.sqrt(math.log1p(float(u["value"]) ** 2))
    elif u["kind"] == "interval":
        lo, hi, p = float(u["low"]), float(u["high"]), float(u["prob"])
        if not 0 < lo < hi:
            raise InputError(f"evidence entry {e.id!r}: an interval uncertainty needs "
                             f"0 < low < high for a lognormal error, got {lo}, {hi}")
        log_sd = math.log(hi / lo) / (2 * special.ndtri(0.5 + p / 2))
    else:
        log_sd = 0.0
    lab = e if e.kind == "lab" else None
    models = () if lab is not None else tuple(
        (str(m), float(w)) for m, w in next(iter(e.applies_to.values())).items())
    return Observation(id=e.id, value=float(e.value), unit=e.unit, variables=tuple(e.variables),
                       models=models, output_tokens=e.output_tokens.dist,
                       input_tokens=None if e.input_tokens is None else e.input_tokens.dist,
                       statistic=e.statistic, per=e.per, factor=float(e.scale), log_sd=log_sd,
                       source=e.source, lab=lab)


# ---- the public function -------------------------------------------------------------------

def calibrate(scenario: str | Path | Scenario = "serving", evidence=None, *,
              draws: int = 20_000, min_ess: int = 2_000, seed=0, exclude=(),
              method: str = "auto", catalogue=None, footprint: bool = True,
              chunk_draws: int = 8_192, backend: str = "numba",
              allow_conflict: bool = False, sampling: str = "mc",
              replicates: int | None = None) -> xr.DataTree:
    """Condition ``scenario``'s shared inputs on published figures.

    Parameters
    ----------
    scenario : scenario name, TOML path or Scenario (default ``"serving"``).
    evidence : evidence file(s) (default: the shipped ones), or a list of
        :class:`Observation`.
    draws : prior draws (importance sampling) or particles (tempering); also the number of
        equal-weight posterior draws returned.
    min_ess : effective sample size asked for; below it (or with Pareto k̂ above its
        threshold) importance sampling is judged degenerate.
    seed : ``int | SeedSequence | Generator | None`` (recorded).
    exclude : evidence ids left out.
    method : ``"auto"`` (importance sampling, tempering if degenerate), ``"importance"``
        (refuse if degenerate) or ``"tempering"``.
    footprint : add the posterior footprints of every catalogue row (``simulate`` of the
        calibrated scenario, ``draws`` draws, same seed).
    chunk_draws : draws per evaluation chunk (results do not depend on it).
    allow_conflict : go on when an entry is in prior-data conflict (its figure beyond the
        ``measurement.toml`` tail probability of the prior predictive); refused otherwise.
    sampling, replicates : how the prior draws are made (:func:`mcfoot.rng.make_design`):
        ``"mc"`` or ``"sobol"`` (``replicates`` scrambles of a Sobol' sequence over the
        particle streams, group-level inputs first; ``draws`` must be replicates x a power
        of two). The design supplies importance sampling's proposals and tempering's
        initial particles only: self-normalized importance sampling over scrambled Sobol'
        points is consistent (and usually less noisy), but resampling and the tempering
        moves are pseudo-random, so the posterior draws, and the ``footprint`` groups
        simulated from them, are plain Monte Carlo (root attrs ``sampling="mc"``; their
        MCSE uses iid formulas, which for importance sampling hold with n replaced by the
        ESS). The prior design is recorded in the ``prior`` group's attrs (``sampling``,
        ``sampling_replicates``, ...) and as ``prior_sampling*`` in the root attrs; k̂ and
        the ESS are computed as for independent draws (for RQMC proposals the ESS is a
        conservative measure).

    Returns
    -------
    DataTree (ArviZ conventions, ``chain`` of size 1): ``prior`` and ``posterior`` (the
    calibrated inputs' values; posterior equal-weight draws), ``log_likelihood`` and
    ``observed_data`` (variable ``published`` over ``entry``), ``prior_predictive`` /
    ``posterior_predictive`` (``predicted``: each entry's prediction), ``sample_stats``
    (tempering steps), ``calibration`` (the calibrated scenario: weighted normals) and, with
    ``footprint``, the groups of :func:`mcfoot.simulate`. Raises CalibrationError when no
    trustworthy posterior can be returned.
    """
    from .simulate import check_draws

    draws, chunk = check_draws(draws, chunk_draws)
    design = rng.make_design(sampling, draws, replicates)
    ss = rng.normalize_seed(seed)
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if sc.posterior is not None:
        raise InputError(f"scenario '{sc.name}' is already calibrated; calibrate its base "
                         f"scenario on all the evidence at once")
    obs = _observations(evidence, exclude, catalogue)
    lik = Likelihood(sc, obs, catalogue, backend)
    z0 = rng.design_normals(ss, design, lik.streams, 0, draws)
    mu0 = tempering.evaluate(lik.predict, z0, chunk)
    pit0 = pit(lik, mu0, np.full(draws, -math.log(draws)))
    bad = [f"{o.id} (prior predictive tail probability {min(p, 1 - p):.1e}, figure "
           f"{'above' if p > 0.5 else 'below'} the prior)" for o, p in
           zip(lik.obs, pit0) if min(p, 1 - p) < CONFLICT_TAIL]
    if bad and not allow_conflict:
        raise CalibrationError(
            f"prior-data conflict: scenario '{sc.name}' cannot produce "
            f"{'; '.join(bad)}: fix the prior or the entry's boundary, or leave it out "
            f"(exclude=...); allow_conflict=True goes on anyway")
    fit = tempering.fit(lik, z0, ss, min_ess=min_ess, method=method, chunk=chunk)
    far = np.abs(fit.z[:, fit.log_weights > -np.inf]).max(axis=1) > Z_EDGE
    if far.any():
        raise CalibrationError(
            f"the posterior reaches beyond {Z_EDGE:g} prior standard deviations in "
            f"{', '.join(np.asarray(lik.streams)[far][:4])}: the prior's inverse CDF cannot "
            f"represent it (the evidence contradicts the prior); fix the prior or the evidence")
    return _tree(sc, lik, fit, z0, mu0, pit0, ss, draws, footprint, catalogue, backend,
                 method, design)


def pit(lik: Likelihood, mu: np.ndarray, log_weights: np.ndarray) -> np.ndarray:
    """Probability integral transform of each published figure under the predictive
    ``y_rep = mu * exp(sigma * eps)`` over weighted draws: (entries,)."""
    w = np.exp(log_weights - special.logsumexp(log_weights))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (np.log(lik.y)[:, None] - np.log(mu)) / lik.sigma[:, None]
    return special.ndtr(np.nan_to_num(r, nan=-np.inf)) @ w


def _observations(evidence, exclude, catalogue=None) -> list:
    if evidence is not None and not isinstance(evidence, (str, Path)) and all(
            isinstance(o, Observation) for o in evidence):
        obs = list(evidence)
        ids = {o.id for o in obs}
        bad = [x for x in exclude if x not in ids]
        if bad:
            raise InputError(f"exclude names unknown evidence id(s) {', '.join(bad)}")
        return [o for o in obs if o.id not in set(exclude)]
    return shipped_observations(evidence, exclude, catalogue)


def _values(lik: Likelihood, z: np.ndarray) -> xr.Dataset:
    """The calibrated inputs' values at normals ``z`` (streams, n), one variable per
    quantity over its scope's keys, plus each entry's unknown token counts."""
    n = z.shape[1]
    ds = xr.Dataset(coords={"draw": np.arange(n)})
    vals = {}
    if lik.rows:
        normals = Normals({s: z[lik.col[s]] for s in lik.group}, np.zeros((0, n)),
                          np.zeros((0, n)))
        vals = _group_values(lik.plan, normals, n)
    for s in lik.streams:  # the lab entries' own inputs (bench hardware), by stream
        q, *key = s.split("/")
        prior = lik.scenario.priors.get(q, {}).get(tuple(key)) if q != "evidence" else None
        if s not in lik.group and prior is not None:
            ds[s.replace("/", "__")] = ("draw", prior.dist.ppf(special.ndtr(z[lik.col[s]])),
                                        {"units": prior.unit, "long_name":
                                         f"{QUANTITIES[q].long_name} ({'/'.join(key)})"})
    for q, arr in vals.items():
        pri = [p for p in lik.plan.priors[q] if not p.dist.is_fixed]
        if not pri:
            continue
        meta = QUANTITIES[q]
        dim = SCOPE_DIM.get(meta.scope, meta.scope)
        keep = [j for j, p in enumerate(lik.plan.priors[q]) if not p.dist.is_fixed]
        keys = [lik.plan.keys[meta.scope][j] for j in keep]
        labels = ["/".join(k) if isinstance(k, tuple) else str(k) for k in keys]
        ds[q] = xr.DataArray(arr[keep].T, dims=("draw", f"{dim}_{q}"),
                             coords={f"{dim}_{q}": labels},
                             attrs={"units": meta.unit, "long_name": meta.long_name})
    for e, o in enumerate(lik.rows):
        for name, d, axis in lik.layout.nuisance[e]:
            vals_ = np.asarray(d.params["values"], float)[_discrete_index(d, z[lik.col[name]])]
            ds[name.replace("/", "__")] = ("draw", vals_, {
                "units": "tokens", "long_name": f"{name.split('/')[-1].replace('_', ' ')} "
                f"of evidence entry {o.id}"})
    return ds


def _tree(sc, lik, fit, z0, mu_prior, pit0, ss, draws, footprint, catalogue, backend, method,
          design):
    entries = [o.id for o in lik.obs]
    # equal-weight posterior draws: systematic resampling (tempering's are equal already)
    u0 = float(special.ndtr(rng.standard_normals(ss, "calibrate/posterior", 0, 1))[0])
    idx = np.arange(draws) if fit.method == "tempering" else \
        tempering.systematic(fit.log_weights, u0)
    zpost = fit.z[:, idx]
    with np.errstate(invalid="ignore", over="ignore"):
        mu_fit = mu_prior if fit.method == "importance" else \
            tempering.evaluate(lik.predict, fit.z, 8192)
    mu_post = mu_fit[:, idx]
    ll_post = fit.log_lik[:, idx]
    ecoord = {"entry": entries}
    units = [o.unit for o in lik.obs]

    def per_entry(arr, name, long_name):
        return xr.Dataset({name: (("draw", "entry"), arr.T, {"long_name": long_name})},
                          coords={"draw": np.arange(arr.shape[1]), **ecoord,
                                  "unit": ("entry", units)})

    post = Posterior(tuple(lik.streams), fit.z.T, fit.log_weights)
    prior_design = design.record(ss, len(lik.streams))  # the prior draws' design
    run = provenance.run_attrs(lik.plan, ss, draws=draws, backend=backend)
    diag = {"method": fit.method, "method_asked": method, "khat": fit.khat, "ess": fit.ess,
            "khat_threshold": fit.khat_max, "prior_khat": fit.prior_khat,
            "prior_ess": fit.prior_ess, "tempering_steps": len(fit.stages),
            "evidence": ";".join(entries), "measurement_floor_log_sd": FLOOR,
            "query_points": lik.q.shape[1],
            **{f"prior_{k}": v for k, v in prior_design.items()},
            "max_correlation": max((st["correlation"] for st in fit.stages), default=0.0),
            "mixing": tempering.mixing(fit.stages)}
    calib = xr.Dataset(
        {"z": (("draw", "stream"), fit.z.T, {"long_name": "standard normals of the shared "
                                                          "inputs (posterior draws)"}),
         "log_weight": ("draw", fit.log_weights, {"units": "1", "long_name":
                                                  "normalized log weight of the draw"}),
         "log_likelihood": (("draw", "entry"), fit.log_lik.T, {"long_name":
                                                               "log-likelihood per entry"}),
         "predicted": (("draw", "entry"), mu_fit.T,
                       {"long_name": "predicted statistic of each entry (entry's unit)"})},
        coords={"draw": np.arange(draws), "stream": list(lik.streams), **ecoord,
                "unit": ("entry", units)},
        attrs={"base_scenario": sc.files[0] if sc.meta.get("name") is None else
               (sc.name if _is_shipped(sc) else sc.files[0]),
               "base_scenario_hash": sc.hash, "posterior_hash": post.hash,
               "scenario_name": f"{sc.name}+calibrated", **diag})
    obs_ds = xr.Dataset({"published": ("entry", lik.y, {"long_name": "published figure"}),
                         "log_sd": ("entry", lik.sigma, {"units": "1", "long_name":
                                                         "log-sd of the measurement error"}),
                         "prior_pit": ("entry", pit0, {"units": "1", "long_name":
                                       "prior predictive percentile of the figure"})},
                        coords={**ecoord, "unit": ("entry", units)})
    stats = xr.Dataset({("step_size" if k == "step" else k):
                        ("stage", np.array([s[k] for s in fit.stages], float))
                        for k in ("beta", "ess", "khat", "moves", "acceptance", "step",
                                  "inputs", "moved", "correlation")} if fit.stages else {},
                       coords={"stage": np.arange(len(fit.stages))})
    groups = {
        "/": xr.Dataset(attrs=provenance.stamp("calibration", run, **diag)),
        "prior": _values(lik, z0).assign_attrs(prior_design),
        "posterior": _values(lik, zpost),
        "prior_predictive": per_entry(mu_prior, "predicted", "predicted statistic"),
        "posterior_predictive": per_entry(mu_post, "predicted", "predicted statistic"),
        "log_likelihood": per_entry(ll_post, "published", "log-likelihood of the figure"),
        "observed_data": obs_ds,
        "calibration": calib,
    }
    if fit.stages:
        groups["tempering"] = stats
    for k in ("prior", "posterior", "prior_predictive", "posterior_predictive",
              "log_likelihood"):
        groups[k] = _chain(groups[k])
    if footprint:
        calibrated = attach(sc, post)
        t = simulate(calibrated, draws=draws, seed=ss, catalogue=catalogue, backend=backend,
                     progress=False)
        for k in ("footprint", "inputs", "catalogue"):
            groups[k] = t[k].to_dataset()
    return xr.DataTree.from_dict(groups)


def _is_shipped(sc) -> bool:
    from .priors import shipped_scenarios

    return sc.name in shipped_scenarios() and Path(sc.files[0]).parent.name in (
        "_priors", "priors")


def _chain(ds: xr.Dataset) -> xr.Dataset:
    return ds.expand_dims(chain=[0]).transpose("chain", "draw", ...)


def _loglik_from(lik: Likelihood, mu: np.ndarray) -> np.ndarray:
    """Lognormal log density of the figures given predictions ``mu`` (entries, n); a
    prediction that is not a positive finite number has likelihood 0."""
    ok = np.isfinite(mu) & (mu > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (np.log(lik.y)[:, None] - np.log(np.where(ok, mu, 1.0))) / lik.sigma[:, None]
    ll = -0.5 * r * r - np.log(lik.sigma * lik.y * math.sqrt(2 * math.pi))[:, None]
    return np.where(ok, ll, -np.inf)


def calibrated_scenario(result: xr.DataTree | str | Path) -> Scenario:
    """The calibrated scenario of a :func:`calibrate` result (or of its file)."""
    from .posterior import load_calibrated

    if isinstance(result, (str, Path)):
        return load_calibrated(result)
    ds = result[GROUP].to_dataset()
    a = ds.attrs
    base = load_scenario(a["base_scenario"])
    if base.hash != a["base_scenario_hash"]:
        raise InputError(f"calibration was made on scenario {a['base_scenario']} with hash "
                         f"{a['base_scenario_hash']}; it now hashes to {base.hash}")
    post = Posterior(tuple(map(str, ds["stream"].values)), ds["z"].values,
                     ds["log_weight"].values)
    return attach(base, post, name=a.get("scenario_name"))


def inference_data(result: xr.DataTree):
    """The ArviZ groups of a :func:`calibrate` result as ArviZ's own object (InferenceData
    under arviz 0.x, DataTree under 1.x): ``az.loo``, ``az.summary``, ``az.plot_dist`` take
    it."""
    names = ("prior", "posterior", "prior_predictive", "posterior_predictive",
             "log_likelihood", "observed_data")
    return _arviz.to_inference_data({k: result[k].to_dataset() for k in names
                                     if k in result.children})


def to_inference_data(tree: xr.DataTree, group: str | None = None):
    """ArviZ's object for a result: a :func:`calibrate` result's ArviZ groups, or a plain
    :func:`mcfoot.simulate` result's ``footprint`` and ``inputs`` variables as one sample
    group (``group``: default ``"prior"``, the scenario's prior predictive distribution; a
    calibrated scenario's run is a posterior: pass ``group="posterior"``)."""
    if "log_likelihood" in tree.children:
        return inference_data(tree)
    fp_ = tree["footprint"].to_dataset()
    inp = tree["inputs"].to_dataset()
    ds = xr.merge([fp_, inp[[v for v in inp.data_vars if v not in fp_]]],
                  combine_attrs="drop_conflicts", compat="override")
    return _arviz.to_inference_data({group or "prior": ds})


# ---- out of sample ---------------------------------------------------------------------------

def source_of(entry_id: str) -> str:
    """The disclosure an entry comes from: its id's first word (``google-...``)."""
    return entry_id.split("-")[0]


def _groups(entries: list[str], by: str) -> dict[str, list[str]]:
    """Held-out groups: each entry, or each source (the id's first word: one disclosure's
    figures share its method, so leaving one out while keeping its siblings is optimistic)."""
    if by == "entry":
        return {e: [e] for e in entries}
    if by == "source":
        out: dict[str, list[str]] = {}
        for e in entries:
            out.setdefault(source_of(e), []).append(e)
        return out
    raise InputError(f"by must be 'entry' or 'source', got {by!r}")


def _loo_log_weights(cal_ds: xr.Dataset, held: list[str]) -> tuple[np.ndarray, float]:
    """PSIS log weights of the calibration's draws without the entries ``held``, and k̂.

    Importance sampling: the draws are prior draws, weighted by the likelihood of the other
    entries. Tempering: the draws are posterior draws, weighted by 1 / likelihood of the
    held-out entries (PSIS-LOO, Vehtari, Gelman & Gabry 2017)."""
    ll = cal_ds["log_likelihood"].sel(entry=held).values.sum(axis=1)  # (D,)
    if cal_ds.attrs["method"] == "importance":
        raw = cal_ds["log_likelihood"].values.sum(axis=1) - ll
    else:
        raw = -ll
    lw, k, _ = tempering.importance(raw)
    return lw, k


def weighted_quantile(x: np.ndarray, log_weights: np.ndarray, q) -> np.ndarray:
    """Inverted-CDF quantiles ``q`` of ``x`` (..., D) under normalized weights (D,)."""
    w = np.exp(log_weights - special.logsumexp(log_weights))
    order = np.argsort(x, axis=-1, kind="stable")
    xs = np.take_along_axis(x, order, axis=-1)
    cw = np.cumsum(w[order], axis=-1)
    q = np.atleast_1d(q)
    idx = np.stack([np.argmax(cw >= qq - 1e-12, axis=-1) for qq in q], axis=-1)
    return np.take_along_axis(xs, idx, axis=-1)


def headline_energy(result: xr.DataTree, models=None, prompts=None,
                    variable: str = "energy_wh", catalogue=None
                    ) -> tuple[xr.DataArray, np.ndarray]:
    """``variable`` of the headline models (``measurement.toml [headline]``) in every draw
    of the calibration group (its shared inputs; query-level randomness and streams the
    evidence did not involve from the prior, as ``simulate`` draws them), and the draws'
    log weights."""
    cal_ds = result[GROUP].to_dataset()
    models = list(SETTINGS["headline"]["models"] if models is None else models)
    prompts = list(SETTINGS["headline"]["prompts"] if prompts is None else prompts)
    base = load_scenario(cal_ds.attrs["base_scenario"])
    plan = build_plan(base, catalogue, models, prompts)
    ss = np.random.SeedSequence(int(result.attrs["seed_entropy"]))
    d = cal_ds.sizes["draw"]
    from .simulate import draw_normals

    normals = draw_normals(plan, ss, 0, d)
    streams = [str(s) for s in cal_ds["stream"].values]
    z = cal_ds["z"].values
    for j, s in enumerate(streams):
        if s in normals.group:
            normals.group[s] = z[:, j].copy()
    res, _ = evaluate(plan, normals)
    x = res[VARIABLE_KEYS[variable]].reshape(len(plan.models), len(plan.prompts), d)
    da = xr.DataArray(x, dims=("model", "prompt", "draw"),
                      coords={"model": list(plan.models), "prompt": list(plan.prompts)},
                      attrs={"units": V.FOOTPRINT[variable].units})
    return da, cal_ds["log_weight"].values


def loo(result: xr.DataTree, *, by: str = "entry", prob: float = 0.9, models=None,
        prompts=None, catalogue=None) -> xr.Dataset:
    """Leave-one-out check of a :func:`calibrate` result, by reweighting its draws.

    For each held-out group (an entry, or with ``by="source"`` all entries of one source):
    PSIS weights without it (k̂ reported: above ``khat_threshold`` the reweighting is not
    reliable and the row says so), the PIT of each held-out figure in its leave-one-out
    posterior predictive ``mu * exp(sigma * eps)``, whether it falls in the central 50 % and
    90 % intervals, and how much the group narrows the headline models' ``prob`` intervals
    of energy per query: ``1 - log width(all evidence) / log width(without the group)``
    (widths as ratios upper / lower; ``models``/``prompts`` default to the headline ones),
    and how far it moves their medians, ``median_shift = log(median with / without the group)``:
    with ``by="source"`` this is how far one provider's figures move another provider's
    estimate (zero where the two share no input: the posterior there is the prior).
    Coverage over all held-out figures is in the attrs (``coverage_50``, ``coverage_90``).
    """
    cal_ds = result[GROUP].to_dataset()
    obs = result["observed_data"].to_dataset()
    entries = [str(e) for e in obs["entry"].values]
    groups = _groups(entries, by)
    mu = cal_ds["predicted"].values  # (D, E)
    y, sig = obs["published"].values, obs["log_sd"].values
    energy, lw_all = headline_energy(result, models, prompts, catalogue=catalogue)
    a = (1 - prob) / 2
    full = weighted_quantile(energy.values, lw_all, [a, 0.5, 1 - a])
    width_full = full[..., 2] / full[..., 0]
    rows = []
    for g, held in groups.items():
        lw, k = _loo_log_weights(cal_ds, held)
        w = np.exp(lw)
        q = weighted_quantile(energy.values, lw, [a, 0.5, 1 - a])
        narrowing = 1 - np.log(width_full) / np.log(q[..., 2] / q[..., 0])
        shift = np.log(full[..., 1] / q[..., 1])
        for e in held:
            j = entries.index(e)
            with np.errstate(divide="ignore", invalid="ignore"):
                r = (np.log(y[j]) - np.log(mu[:, j])) / sig[j]
            p = float(special.ndtr(np.nan_to_num(r, nan=-np.inf)) @ w)
            med = float(weighted_quantile(mu[:, j], lw, [0.5])[0])
            rows.append({"entry": e, "group": g, "pit": p, "khat": k,
                         "reliable": bool(k <= _arviz.khat_threshold(len(w))),
                         "in_50": bool(0.25 <= p <= 0.75), "in_90": bool(0.05 <= p <= 0.95),
                         "loo_median": med, "published": float(y[j]),
                         "narrowing": narrowing, "shift": shift})
    ds = xr.Dataset(coords={"entry": [r["entry"] for r in rows], "model": energy.model.values,
                            "prompt": energy.prompt.values})
    for key in ("group", "pit", "khat", "reliable", "in_50", "in_90", "loo_median",
                "published"):
        ds[key] = ("entry", np.array([r[key] for r in rows]))
    ds["narrowing"] = (("entry", "model", "prompt"), np.stack([r["narrowing"] for r in rows]),
                       {"units": "1", "long_name": f"1 - log width of the {prob:.0%} energy "
                        "interval with all evidence / without the held-out group"})
    ds["median_shift"] = (("entry", "model", "prompt"), np.stack([r["shift"] for r in rows]),
                   {"units": "1", "long_name": "log(median energy with all evidence / median "
                    "without the held-out group): how far the group moves each headline "
                    "model's estimate"})
    ds["pit"].attrs = {"units": "1", "long_name": "PIT of the held-out figure"}
    ds["loo_median"].attrs = {"long_name": "leave-one-out posterior predictive median",
                              "units_per_entry": ";".join(map(str, obs["unit"].values))}
    ds.attrs = {"by": by, "coverage_50": float(ds["in_50"].mean()),
                "coverage_90": float(ds["in_90"].mean()), "ci_prob": prob,
                "scenario": result.attrs.get("scenario", "")}
    return ds
