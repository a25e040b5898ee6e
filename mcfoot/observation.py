"""A published figure and how a scenario predicts it: the measurement model that
:func:`mcfoot.compare` reports and :func:`mcfoot.calibrate` conditions on.

An evidence entry (:mod:`mcfoot.evidence`) becomes an :class:`Observation` (its value,
boundary variables, models or lab bench, token priors, statistic and stated uncertainty as a
log-sd); :class:`Likelihood` predicts every observation's statistic in each draw of the
scenario's shared inputs (catalogue rows at the entry's token counts through the sampler, lab
benches through the serving physics) and scores each source's figures jointly under the
discrepancy model (:mod:`mcfoot.discrepancy`; constants in ``mcfoot/data/measurement.toml``);
:func:`predict` is one entry's per-draw prediction, as ``compare`` prints it. See
:mod:`mcfoot.calibrate` for the model in full.
"""

from __future__ import annotations

import contextlib
import math
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Callable

import numpy as np
import xarray as xr
from scipy import special

from . import benchpredict, catalogue as cat, discrepancy as disc, distributions as dists, rng
from . import variables as V
from .errors import InputError
from .estimate import estimate_warnings, request_catalogue
from .evidence import Evidence, load_evidence
from .plan import build_plan
from .priors import Scenario
from .simulate import Normals, _group_values, evaluate, stream_normals

#: kernel output of each footprint variable an entry may name (the variable registry)
VARIABLE_KEYS = {name: v.kernel_key for name, v in V.FOOTPRINT.items()}
STATISTICS = ("mean", "median")


def _settings() -> dict:
    with resources.files("mcfoot.data").joinpath("measurement.toml").open("rb") as f:
        return tomllib.load(f)


SETTINGS = _settings()
FLOOR = float(SETTINGS["error"]["floor_log_sd"])
FLOOR_SOURCE = str(SETTINGS["error"]["floor_source"])
#: shipped entries left out by default (measurement.toml [evidence], with reasons)
NOT_CALIBRATED = tuple(SETTINGS["evidence"]["not_calibrated"])
NOT_CALIBRATED_REASON = str(SETTINGS["evidence"]["not_calibrated_reason"])


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
    def kind(self) -> str:
        """``"lab"``, ``"model"`` or ``"mix"`` (as
        :class:`~mcfoot.evidence.Evidence` says it; :func:`mcfoot.audit.audit` reads it)."""
        return "lab" if self.lab is not None else ("model" if len(self.models) == 1 else "mix")

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
    """Log-likelihood of the scenario's shared inputs and the discrepancy scales, per
    source, as ``tempering.fit`` needs it: ``self(z)`` with ``z`` (len(streams), n) ->
    (sources, n), each source's figures given the sources before it
    (:meth:`source_log_lik`, :mod:`mcfoot.discrepancy`), so the rows sum to the joint.

    ``discrepancy``: ``"shipped"`` (``measurement.toml [discrepancy]``), a TOML path, a
    :class:`~mcfoot.discrepancy.Discrepancy`, or ``None`` for independent lognormal errors
    of sd max(stated, ``[error] floor_log_sd``) (no source or boundary term)."""

    def __init__(self, scenario: Scenario, observations: list, catalogue=None,
                 backend: str = "numba", discrepancy="shipped"):
        self.obs = list(observations)
        if not self.obs:
            raise InputError("no evidence to calibrate on")
        ids = [o.id for o in self.obs]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise InputError(f"evidence id(s) {', '.join(dup)} given twice")
        self.disc = discrepancy_model(discrepancy, self.obs)
        self.backend = backend
        self.scenario = scenario
        full = catalogue if isinstance(catalogue, xr.Dataset) else cat.load_catalogue(catalogue)
        self.rows = [o for o in self.obs if o.lab is None]
        self.labs = [o for o in self.obs if o.lab is not None]
        if self.labs:
            if scenario.attribution not in LAB_PREDICTORS:
                where = "; ".join(f"{o.id} ({getattr(o.lab, 'file', '') or 'given'})"
                                  for o in self.labs)
                raise InputError(
                    f"evidence entry {where} measured a lab configuration, which scenario "
                    f"'{scenario.name}' (attribution '{scenario.attribution}') cannot "
                    f"predict; calibrate the 'serving' scenario, or exclude them")
        self.group, nuis = [], []
        if self.rows:
            req, self.layout = _request_catalogue(full, self.rows)
            self.plan = build_plan(scenario, req)
            self.group = self.plan.group_streams()
            nuis = [n for nu in self.layout.nuisance for n, _, _ in nu]
            self.row_sets = _row_sets(self.layout)
        else:
            self.plan, self.layout = build_plan(scenario, full), None
        self.lab_streams = {o.id: benchpredict.lab_streams(o.lab) for o in self.labs}
        lab_names = [n for o in self.labs for n in self.lab_streams[o.id]]
        self.boundary = [self.disc.boundary(o.variables) for o in self.obs]
        self.disc_streams = self.disc.streams(self.boundary)
        self.streams = list(dict.fromkeys(self.group + nuis + lab_names + self.disc_streams))
        self.col = {n: i for i, n in enumerate(self.streams)}
        self.q = query_points()
        self.y = np.array([o.value for o in self.obs])
        self.sigma = np.array([self.disc.sigma(o.log_sd) for o in self.obs])
        src = [source_of(o.id) for o in self.obs]
        self.sources = list(dict.fromkeys(src))
        self.members = [np.array([i for i, s in enumerate(src) if s == k]) for k in self.sources]
        self.source_index = np.array([self.sources.index(s) for s in src])
        #: figures sharing an effect, one multivariate t each (mcfoot.discrepancy.groups)
        self.groups = disc.groups(self.source_index, [c if c in self.disc.boundary_scales
                                                      else "" for c in self.boundary],
                                  self.disc.shared_boundary)

    def normals(self, ss: np.random.SeedSequence, draws: int) -> np.ndarray:
        """Normals (streams, draws) of the streams the entries read, as a run of the
        scenario with seed ``ss`` draws them (a calibrated scenario: from its posterior)."""
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
            for o in self.labs:
                normals = {s: z[self.col[s]] for s in self.lab_streams[o.id]}
                out[pos[o.id]] = benchpredict.lab_evidence_prediction(o.lab, n, 0,
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
        k, m = self.q.shape[1], len(rows)
        p = self.plan
        sub = replace(
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
        return self.source_log_lik(mu, z)

    def variances(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """``tau_src^2`` (n,), each figure's own variance (entries, n): ``sigma_e^2``, plus
        ``tau_b^2`` when the boundary effect is drawn per figure, and the shared boundary
        effects' ``{class: tau_b^2}`` (n,) (empty when drawn per figure), at normals ``z``."""
        n = z.shape[1]
        tau, tb = self.disc.scales({s: z[self.col[s]] for s in self.disc_streams})
        d = np.tile((self.sigma ** 2)[:, None], (1, n))
        shared = {c: tb[c] ** 2 for c in dict.fromkeys(self.boundary) if c in tb} \
            if self.disc.shared_boundary else {}
        if not self.disc.shared_boundary:
            for e, c in enumerate(self.boundary):
                if c in tb:
                    d[e] = d[e] + tb[c] ** 2
        return np.broadcast_to(np.asarray(tau, float) ** 2, (n,)), d, shared

    def covariance(self, z: np.ndarray) -> np.ndarray:
        """The figures' log-residual scale matrices (n, entries, entries) at normals ``z``
        (:func:`mcfoot.discrepancy.covariance`)."""
        tau2, d, shared = self.variances(z)
        return disc.covariance(tau2, d, self.source_index, self.boundary, shared)

    def residuals(self, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log residuals ``log y - log mu`` (entries, n) and where the prediction is a
        positive finite number (elsewhere the likelihood is 0)."""
        ok = np.isfinite(mu) & (mu > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.log(self.y)[:, None] - np.log(np.where(ok, mu, 1.0))
        return r, ok

    def _density(self, idx, r, cov) -> np.ndarray:
        """Log density (n,) of the figures ``idx`` jointly (their values, not their logs),
        each group's part (:func:`mcfoot.discrepancy.groups`) a multivariate t; where a
        prediction is not valid the value is meaningless (callers mask with ``ok``)."""
        idx = np.asarray(idx, int)
        out = -np.log(self.y[idx]).sum() * np.ones(r.shape[1])
        for g in self.groups:
            m = np.intersect1d(g, idx)
            if len(m):
                out = out + disc.mvt_log_density(r[m], cov[:, m][:, :, m], self.disc.nu)
        return out

    def _parts(self, mu, z):
        r, ok = self.residuals(mu)
        return r, ok, self.covariance(z)

    def source_log_lik(self, mu: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Log density of each source's figures given the sources before it (in
        ``self.sources`` order; their values, not their logs) at predictions ``mu`` and the
        scales at ``z``: (sources, n), rows summing to the joint. With per-figure boundary
        effects sources are independent and row ``s`` is its figures' joint density."""
        r, ok, cov = self._parts(mu, z)
        rows, seen = [], np.zeros(0, int)
        for m in self.members:
            touched = [g for g in self.groups if np.intersect1d(g, m).size]
            with np.errstate(invalid="ignore"):
                ll = sum(self._density(np.union1d(np.intersect1d(g, seen), m), r, cov)
                         - self._density(np.intersect1d(g, seen), r, cov) for g in touched)
            rows.append(np.where(ok[m].all(axis=0), ll, -np.inf))
            seen = np.union1d(seen, m)
        return np.stack(rows)

    def source_loo_log_lik(self, mu: np.ndarray, z: np.ndarray, given: bool = True
                           ) -> np.ndarray:
        """Log density of each source's figures given every other source's, ``log p(y_s |
        y_(-s), theta)`` (sources, n): what leave-one-source-out scores; with ``given=False``
        their marginal ``log p(y_s | theta)`` (the prior predictive's). With per-figure
        boundary effects both are :meth:`source_log_lik`."""
        if not self.disc.shared_boundary:
            return self.source_log_lik(mu, z)
        r, ok, cov = self._parts(mu, z)
        out = []
        for m in self.members:
            g = np.unique(np.concatenate([g for g in self.groups if np.intersect1d(g, m).size]))
            if not given:
                out.append(np.where(ok[m].all(axis=0), self._density(m, r, cov), -np.inf))
                continue
            with np.errstate(invalid="ignore"):
                ll = self._density(g, r, cov) - self._density(np.setdiff1d(g, m), r, cov)
            out.append(np.where(ok[g].all(axis=0), ll, -np.inf))
        return np.stack(out)

    def entry_log_lik(self, mu: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Each figure's log density given the other figures of its group (its source's
        other figures; with a shared boundary effect also its class's), ``log p(y_e |
        y_(g, -e), theta)`` (entries, n): the pointwise terms of leave-one-entry-out in a
        model whose figures are not independent (Buerkner, Gabry & Vehtari 2021, Comput.
        Stat. 36:1243). For independent figures it is each figure's own density."""
        r, ok, cov = self._parts(mu, z)
        out = np.empty((len(self.obs), mu.shape[1]))
        for g in self.groups:
            full = self._density(g, r, cov)
            for e in g:
                with np.errstate(invalid="ignore"):
                    ll = full - self._density(g[g != e], r, cov)
                out[e] = np.where(ok[g].all(axis=0), ll, -np.inf)
        return out

    def predictive(self, mu: np.ndarray, z: np.ndarray, given: str = "other sources"):
        """Each figure's log predictive at predictions ``mu`` and the scales at ``z``
        (:func:`mcfoot.discrepancy.predictive`, ``given`` ``"nothing"``, ``"other
        sources"`` or ``"others"``): location, scale (entries, n), degrees of freedom."""
        r, _ = self.residuals(mu)
        with np.errstate(divide="ignore", invalid="ignore"):
            logmu = np.log(mu)
        return disc.predictive(logmu, r, self.covariance(z), self.disc.nu, self.groups,
                               self.source_index, given)


@contextlib.contextmanager
def _one_thread():
    """Run the kernel on the calling thread: calibration evaluates a few rows per call, many
    calls per likelihood; a parallel region per call waits for its worker threads, which on
    a loaded machine costs a scheduler time slice (~5 ms measured) per call, far more than
    the work. Results do not depend on the thread count (the kernel's rows are
    independent)."""
    import numba  # imported when used: `import mcfoot.compare` stays without numba

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


def _padded_requests(full: xr.Dataset, models: list, rows_per_model: dict
                     ) -> tuple[xr.Dataset, int]:
    """One request catalogue, model x prompt (r0..r{width-1}), of each model's (output,
    input) token counts, padded with its first request (evaluated, never read); and the
    width."""
    width = max(len(v) for v in rows_per_model.values())
    parts = []
    for m in models:
        r = rows_per_model[m] + [rows_per_model[m][0]] * (width - len(rows_per_model[m]))
        out_t = np.array([t for t, _ in r], np.int64)
        tin = np.array([t for _, t in r])
        in_t = None if np.isnan(tin).all() else np.where(np.isnan(tin), 0, tin).astype(np.int64)
        parts.append(request_catalogue(full.sel(model=[m]), [m], out_t, in_t))
    req = xr.concat(parts, dim="model", data_vars="different", coords="different",
                    compat="equals", join="exact", combine_attrs="override") \
        if len(parts) > 1 else parts[0]
    return req, width


def _request_catalogue(full: xr.Dataset, obs: list) -> tuple[xr.Dataset, _Layout]:
    """A catalogue with one row per (entry, model, output tokens, input tokens)."""
    slots, nuisance = [], []
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
    req, n_p = _padded_requests(full, models_all, rows_per_model)
    mpos = {m: i for i, m in enumerate(models_all)}
    for e, o in enumerate(obs):
        for mi, (m, _) in enumerate(o.models):
            slots[e][mi] += mpos[m] * n_p
    return req, _Layout(slots, nuisance)


def shipped_observations(evidence=None, exclude=(), catalogue=None) -> list:
    """Observations from evidence files (``mcfoot.evidence``; shipped ones by default, less
    ``measurement.toml``'s ``not_calibrated``)."""
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


def discrepancy_model(spec, obs=()) -> "disc.Discrepancy":
    """The discrepancy model ``spec`` names: ``"shipped"``, a TOML path, a Discrepancy,
    or ``None`` (independent lognormal errors with the ``[error]`` floor). With a source
    term, every observation of ``obs`` must say its source."""
    if spec is None:
        return disc.independent(FLOOR, FLOOR_SOURCE)
    model = spec if isinstance(spec, disc.Discrepancy) else \
        disc.load(None if spec == "shipped" else spec)
    nosrc = [o.id for o in obs if not str(o.source).strip()]
    if model.source_scale is not None and nosrc:
        raise InputError(f"evidence entry {', '.join(map(repr, nosrc))} has no source: the "
                         f"discrepancy model groups a source's figures and needs each "
                         f"figure's source (give source=...)")
    return model


def source_of(entry_id: str) -> str:
    """The disclosure an entry comes from: its id's first word (``google-...``)."""
    return entry_id.split("-")[0]


# ---- one entry's prediction (compare) --------------------------------------------------

#: attribution -> function(entry, scenario, draws, seed) -> per-draw prediction (in the
#: entry's unit); attributions missing here cannot predict lab-configuration entries.
def _bench_lab(e: Evidence, scenario: Scenario, draws: int, seed) -> np.ndarray:
    """A lab entry through the physics learned from the bench
    (:func:`mcfoot.benchpredict.lab_evidence_prediction`): GPU boundary, bench conditions;
    the scenario's own priors do not enter (the fit is the bench's)."""
    return benchpredict.lab_evidence_prediction(e, draws, seed)


LAB_PREDICTORS: dict[str, Callable] = {"serving": _bench_lab}


def predict(e: Evidence, scenario: Scenario, draws: int, seed,
            catalogue=None) -> tuple[np.ndarray, list[str]]:
    """Per-draw prediction of evidence entry ``e`` in its unit, and the estimate's warnings.
    Raises :class:`NotPredictable` for a lab configuration the scenario cannot model."""
    if e.kind == "lab":
        fn = LAB_PREDICTORS.get(scenario.attribution)
        if fn is None:
            raise NotPredictable(
                f"not predictable under scenario '{scenario.name}': its '{scenario.attribution}'"
                " attribution has no model of a lab configuration (accelerators, batch, "
                "throughput at that batch); it attributes node power per catalogue row and "
                "size class")
        return fn(e, scenario, draws, seed), []
    with estimate_warnings() as caught:
        lik = Likelihood(scenario, [observation_from_evidence(e)], catalogue)
    notes = list(dict.fromkeys(caught))
    with np.errstate(invalid="ignore", over="ignore"):
        return lik.predict(lik.normals(rng.normalize_seed(seed), draws))[0], notes


class NotPredictable(Exception):
    """The scenario has no model for this kind of evidence (the reason is the message)."""
