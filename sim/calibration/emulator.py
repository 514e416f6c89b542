"""Gaussian-process emulators of the calibration statistics (numpy and scipy only).

:class:`GaussianProcess` is one noisy scalar output over the priors' unit cube: an
anisotropic (ARD) Matern-5/2 or squared-exponential kernel, a constant or linear mean
(least-squares coefficients; the GP models what the mean leaves), a fitted nugget (the
simulator is stochastic: the nugget is the variance of the simulator's noise in the
training outputs), and the hyperparameters (length scales, signal variance, nugget) at the
maximum of the log marginal likelihood (L-BFGS-B with its analytic gradient, from a default
start and ``restarts`` random ones drawn from ``seed``: deterministic). Cholesky
factorisations add jitter (1e-10 of the variance, growing tenfold up to 1e-4) when a matrix
is not numerically positive definite. :meth:`GaussianProcess.predict` gives the predictive
mean and the variance of the latent (noise-free) function; :attr:`GaussianProcess.noise`
the nugget; :meth:`GaussianProcess.loo` the closed-form leave-one-out residuals.

**What is emulated, and why.** :class:`StatisticsEmulator` emulates the *statistics* of
the targets (the flat ``stat:`` columns of a run summary, mean over the design
replications), not each target's error or the distance. The statistics are smooth
functions of the parameters plus roughly Gaussian noise (sums and means over hundreds of
days), which is what a GP with a nugget assumes; an error is not: it is an absolute value
(a kink where the simulation meets the observation) and is flat zero inside a band, and
the error of a mean over replications is not the mean of errors. Emulating statistics and
computing the errors from sampled statistics with the same
:meth:`~sim.calibration.targets.TargetSet.errors` and
:func:`~sim.calibration.targets.distance` as the real calibration keeps the kinks and bands
exact and the noise where it belongs (inside the error, as in a real run).

Statistics of targets with a relative tolerance (counts, loads) are emulated on a
``log1p`` scale, where their errors are close to differences and the noise close to
homoscedastic. A vector target (monthly arrivals, the crossing-day share by month, people
per boat by year) is reduced by a principal-component analysis *per target*: its elements
move together (a level, a trend, a seasonal shape), so a few components (enough for
``pca_variance`` of its variance over the design, at most ``pca_max``) carry the signal,
each with its own GP, where one GP per element would fit 43 monthly GPs to mostly the same
signal and mostly noise. What the kept components leave (noise, mostly) is added back as
independent noise per element with its variance over the design.

A draw from :meth:`StatisticsEmulator.sample` is the latent predictive draw (the
emulator's uncertainty) plus the simulator noise of a mean over ``replications`` runs (the
fitted nugget scaled by ``design_replications / replications``): a stand-in for running
the model at that point.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.linalg import cho_solve, lapack, solve_triangular
from scipy.optimize import minimize

__all__ = ["GaussianProcess", "StatisticsEmulator", "KERNELS", "MEANS", "safe_cholesky", "one_blas_thread"]

#: Kernels: Matern-5/2 (twice differentiable) or squared exponential (infinitely smooth).
KERNELS = ("matern52", "sqexp")
#: Mean functions: a constant, or linear in the unit-cube coordinates.
MEANS = ("constant", "linear")

# hyperparameter bounds on the standardised scale (outputs scaled to unit variance)
_LOG_LENGTH = (math.log(0.02), math.log(100.0))     # length scales in unit-cube widths
_LOG_SIGNAL = (math.log(1e-4), math.log(100.0))     # signal variance
_LOG_NOISE = (math.log(1e-8), math.log(10.0))       # nugget (noise variance)
_SQRT5 = math.sqrt(5.0)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with single-threaded OpenBLAS (NumPy's and SciPy's bundled copies), then
    restore the thread counts. The GP's matrices (a few hundred rows) gain nothing from
    threads, and on a busy machine OpenBLAS's spinning threads make them 10-100 times slower.
    Best effort: without the bundled libraries (another BLAS) nothing changes."""
    handles = []
    try:
        import numpy
        import scipy

        for pkg in (numpy, scipy):
            libs = Path(pkg.__file__).parent.parent / f"{pkg.__name__}.libs"
            for path in sorted(libs.glob("libscipy_openblas*.so*")) if libs.is_dir() else []:
                lib = ctypes.CDLL(str(path))
                for suffix in ("64_", ""):
                    get = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None)
                    put = getattr(lib, f"scipy_openblas_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        handles.append((put, int(get())))
                        put(1)
                        break
    except Exception:  # pragma: no cover - a different BLAS: leave it alone
        pass
    try:
        yield
    finally:
        for put, n in handles:
            put(n)


def safe_cholesky(a: np.ndarray, jitter: float = 1e-10, max_jitter: float = 1e-4) -> np.ndarray:
    """Lower Cholesky factor of ``a``, adding ``jitter x mean(diag)`` to the diagonal (growing
    tenfold up to ``max_jitter``) when ``a`` is not numerically positive definite."""
    scale = float(np.mean(np.diag(a))) if a.size else 1.0
    scale = scale if scale > 0 and math.isfinite(scale) else 1.0
    j = 0.0
    while True:
        try:
            return np.linalg.cholesky(a + j * scale * np.eye(len(a)) if j else a)
        except np.linalg.LinAlgError:
            j = jitter if j == 0 else j * 10
            if j > max_jitter:
                raise np.linalg.LinAlgError(f"matrix not positive definite even with jitter {max_jitter:g}") from None


def _chol_inverse(chol: np.ndarray) -> np.ndarray:
    """The inverse of ``chol @ chol.T`` from its lower Cholesky factor (LAPACK potri)."""
    inv, info = lapack.dpotri(chol, lower=1)
    if info != 0:  # pragma: no cover - only for a singular factor
        return cho_solve((chol, True), np.eye(len(chol)))
    return np.tril(inv) + np.tril(inv, -1).T


def _sqdiff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(d, n, m) squared coordinate differences."""
    return (a.T[:, :, None] - b.T[:, None, :]) ** 2


class GaussianProcess:
    """A noisy scalar GP on the unit cube (see the module text).

    Parameters
    ----------
    kernel
        ``"matern52"`` (default) or ``"sqexp"``.
    mean
        ``"linear"`` (default) or ``"constant"``.
    restarts
        Random restarts of the likelihood maximisation besides the default start (>= 0).
    seed
        Seed of the restarts' starting points.
    maxiter
        Iterations of each L-BFGS-B run at most.
    """

    def __init__(self, kernel: str = "matern52", mean: str = "linear", restarts: int = 3, seed: int = 0,
                 maxiter: int = 150) -> None:
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        if mean not in MEANS:
            raise ValueError(f"mean must be one of {MEANS}, got {mean!r}")
        if not isinstance(restarts, int) or restarts < 0:
            raise ValueError(f"restarts must be a whole number >= 0, got {restarts!r}")
        self.kernel, self.mean, self.restarts, self.seed, self.maxiter = kernel, mean, restarts, seed, maxiter

    # -- kernel --------------------------------------------------------------------------
    def _k(self, r2: np.ndarray, signal: float) -> tuple[np.ndarray, np.ndarray]:
        """Kernel values and the factor g with dk/dlog(l_i) = g * d_i^2 / l_i^2."""
        if self.kernel == "sqexp":
            k = signal * np.exp(-0.5 * r2)
            return k, k
        r = np.sqrt(np.maximum(r2, 0.0))
        e = np.exp(-_SQRT5 * r)
        return signal * (1 + _SQRT5 * r + 5.0 / 3.0 * r2) * e, signal * 5.0 / 3.0 * (1 + _SQRT5 * r) * e

    def _basis(self, x: np.ndarray) -> np.ndarray:
        return np.ones((len(x), 1)) if self.mean == "constant" else np.hstack([np.ones((len(x), 1)), x])

    # -- fitting -------------------------------------------------------------------------
    def _nll(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        d = self._d2.shape[0]
        ell2 = np.exp(2 * theta[:d])
        signal, noise = math.exp(theta[d]), math.exp(theta[d + 1])
        r2 = np.tensordot(1.0 / ell2, self._d2, axes=1)
        kf, g = self._k(r2, signal)
        n = len(self._z)
        try:
            chol = safe_cholesky(kf + noise * np.eye(n))
        except np.linalg.LinAlgError:
            return 1e25, np.zeros_like(theta)
        alpha = cho_solve((chol, True), self._z)
        nll = 0.5 * self._z @ alpha + np.sum(np.log(np.diag(chol))) + 0.5 * n * math.log(2 * math.pi)
        kinv = _chol_inverse(chol)
        w = np.outer(alpha, alpha) - kinv                      # d(LML)/dtheta = tr(W dK) / 2
        grad = np.empty_like(theta)
        grad[:d] = self._d2.reshape(d, -1) @ (w * g).ravel() / ell2
        grad[d] = np.sum(w * kf)
        grad[d + 1] = noise * np.trace(w)
        return float(nll), -0.5 * grad

    def fit(self, x: np.ndarray, y: np.ndarray, start: np.ndarray | None = None) -> GaussianProcess:
        """Fit to inputs ``x`` (n, d) in the unit cube and outputs ``y`` (n,); ``start`` (the
        ``theta_`` of an earlier fit, e.g. on fewer points) is one more starting point."""
        with one_blas_thread():
            return self._fit(x, y, start)

    def _fit(self, x: np.ndarray, y: np.ndarray, start: np.ndarray | None) -> GaussianProcess:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        y = np.asarray(y, dtype=float).ravel()
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows and y {len(y)} values")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("the GP's training data must be finite")
        n, d = x.shape
        if n < 3:
            raise ValueError(f"a GP needs at least 3 training points, got {n}")
        self.x_ = x
        h = self._basis(x)
        if h.shape[1] >= n:  # too few points for a linear mean
            h = h[:, :1]
        self.beta_ = np.linalg.lstsq(h, y, rcond=None)[0]
        resid = y - h @ self.beta_
        self.scale_ = float(np.std(resid)) or 1.0
        self._z = resid / self.scale_
        self._d2 = _sqdiff(x, x)
        rng = np.random.default_rng(self.seed)
        bounds = [_LOG_LENGTH] * d + [_LOG_SIGNAL, _LOG_NOISE]
        starts = [np.r_[np.zeros(d), 0.0, math.log(0.1)]]
        if start is not None and len(start) == d + 2:
            starts.insert(0, np.clip(np.asarray(start, dtype=float), [b[0] for b in bounds], [b[1] for b in bounds]))
        for _ in range(self.restarts):
            starts.append(np.r_[rng.uniform(math.log(0.2), math.log(5.0), d), rng.uniform(math.log(0.3), math.log(3.0)),
                                rng.uniform(math.log(1e-3), math.log(0.5))])
        best = None
        for s in starts:
            res = minimize(self._nll, s, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": self.maxiter})
            if best is None or res.fun < best.fun:
                best = res
        assert best is not None
        self.theta_ = best.x
        self.nll_ = float(best.fun)
        self.lengthscales_ = np.exp(best.x[:d])
        self.signal_ = math.exp(best.x[d])
        self.noise_ = math.exp(best.x[d + 1])
        kf, _ = self._k(np.tensordot(1.0 / self.lengthscales_ ** 2, self._d2, axes=1), self.signal_)
        self.chol_ = safe_cholesky(kf + self.noise_ * np.eye(n))
        self.alpha_ = cho_solve((self.chol_, True), self._z)
        del self._d2
        return self

    # -- prediction ----------------------------------------------------------------------
    @property
    def noise(self) -> float:
        """The fitted nugget: the variance of the noise in the training outputs (their units)."""
        return self.noise_ * self.scale_ ** 2

    def log_marginal_likelihood(self) -> float:
        return -self.nll_

    def predict(self, x: np.ndarray, chunk: int = 4000) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and variance of the latent function (without the nugget) at ``x``."""
        with one_blas_thread():
            return self._predict(x, chunk)

    def _predict(self, x: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.atleast_2d(np.asarray(x, dtype=float))
        means, variances = [], []
        inv_ell2 = 1.0 / self.lengthscales_ ** 2
        for i in range(0, len(x), chunk):
            xs = x[i:i + chunk]
            ks, _ = self._k(np.tensordot(inv_ell2, _sqdiff(xs, self.x_), axes=1), self.signal_)
            h = self._basis(xs)[:, :len(self.beta_)]
            means.append(h @ self.beta_ + self.scale_ * (ks @ self.alpha_))
            v = solve_triangular(self.chol_, ks.T, lower=True)
            variances.append(self.scale_ ** 2 * np.maximum(self.signal_ - np.sum(v ** 2, axis=0), 0.0))
        return np.concatenate(means), np.concatenate(variances)

    def loo(self) -> tuple[np.ndarray, np.ndarray]:
        """Leave-one-out predictive means and variances (of a new noisy output) at the training
        points, in closed form (Rasmussen and Williams 2006, section 5.4.2); the mean function is
        held fixed."""
        kinv_diag = np.sum(solve_triangular(self.chol_, np.eye(len(self.x_)), lower=True) ** 2, axis=0)
        y = self._basis(self.x_)[:, :len(self.beta_)] @ self.beta_ + self.scale_ * self._z
        mean = y - self.scale_ * self.alpha_ / kinv_diag
        return mean, self.scale_ ** 2 / kinv_diag


@dataclass
class _Group:
    name: str
    columns: list[int]          # indices into the statistics
    log: bool
    center: np.ndarray          # PCA centre (transformed scale)
    basis: np.ndarray           # (k, c) components (rows); the identity for a scalar
    resid_var: np.ndarray       # (c,) variance left by the kept components
    gps: list[GaussianProcess]


class StatisticsEmulator:
    """Emulates a vector of statistics (see the module text).

    Parameters
    ----------
    columns
        The statistics' names, in the order of the training matrix's columns.
    groups
        ``{group: [column names]}``: a group of several columns (a vector target) is reduced
        by PCA; columns in no group are scalars of their own.
    log_groups
        Groups (or scalar columns) emulated on a ``log1p`` scale.
    kernel, mean, restarts, seed
        Of every :class:`GaussianProcess`.
    pca_variance, pca_max
        The share of a vector group's variance its kept components explain (0-1], and the
        most components kept.
    """

    def __init__(self, columns: Sequence[str], groups: Mapping[str, Sequence[str]] | None = None,
                 log_groups: Sequence[str] = (), *, kernel: str = "matern52", mean: str = "linear",
                 restarts: int = 3, seed: int = 0, pca_variance: float = 0.99, pca_max: int = 6) -> None:
        self.columns = list(columns)
        index = {c: i for i, c in enumerate(self.columns)}
        grouped = {c for cols in (groups or {}).values() for c in cols}
        self._spec = [(g, [index[c] for c in cols]) for g, cols in (groups or {}).items()]
        self._spec += [(c, [index[c]]) for c in self.columns if c not in grouped]
        self.log_groups = set(log_groups)
        self.kernel, self.mean, self.restarts, self.seed = kernel, mean, restarts, seed
        self.pca_variance, self.pca_max = pca_variance, pca_max
        self.groups: list[_Group] = []

    def fit(self, u: np.ndarray, stats: np.ndarray, design_replications: int = 1,
            previous: StatisticsEmulator | None = None) -> StatisticsEmulator:
        """Fit to design points ``u`` (n, d) and their statistics ``stats`` (n, k), each the mean
        of ``design_replications`` runs; rows with a missing value in a group are left out of
        that group's fit. ``previous`` (an earlier fit, e.g. of an earlier wave) gives each GP
        one more starting point: its hyperparameters."""
        before = {(g.name, i): gp.theta_ for g in (previous.groups if previous else []) for i, gp in enumerate(g.gps)}
        u, stats = np.asarray(u, dtype=float), np.asarray(stats, dtype=float)
        self.design_replications = design_replications
        self.groups = []
        for j, (name, cols) in enumerate(self._spec):
            y = stats[:, cols]
            log = name in self.log_groups
            if log:
                y = np.log1p(np.maximum(y, 0.0))
            ok = np.isfinite(y).all(axis=1)
            if ok.sum() < 3:
                raise ValueError(f"statistic {name!r}: fewer than 3 design points with a value")
            y, x = y[ok], u[ok]
            center = y.mean(axis=0)
            yc = y - center
            if len(cols) == 1:
                basis, resid_var = np.ones((1, 1)), np.zeros(1)
            else:
                _, sv, vt = np.linalg.svd(yc, full_matrices=False)
                share = np.cumsum(sv ** 2) / max(np.sum(sv ** 2), 1e-300)
                k = int(min(self.pca_max, np.searchsorted(share, self.pca_variance - 1e-12) + 1, len(sv)))
                basis = vt[:k]
                resid = yc - (yc @ basis.T) @ basis
                resid_var = np.sum(resid ** 2, axis=0) / max(len(y) - k - 1, 1)
            scores = yc @ basis.T
            gps = [GaussianProcess(self.kernel, self.mean, self.restarts, seed=self.seed + 1000 * j + i)
                   .fit(x, scores[:, i], start=before.get((name, i))) for i in range(scores.shape[1])]
            self.groups.append(_Group(name, cols, log, center, basis, resid_var, gps))
        return self

    def _predict_group(self, g: _Group, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = [gp.predict(u) for gp in g.gps]
        mean = np.stack([m for m, _ in out], axis=1)
        var = np.stack([v for _, v in out], axis=1)
        noise = np.array([gp.noise for gp in g.gps])
        return mean, var, noise

    def predict(self, u: np.ndarray) -> np.ndarray:
        """The statistics at the latent predictive mean (back-transformed: a median, not a mean)."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        out = np.full((len(u), len(self.columns)), np.nan)
        for g in self.groups:
            mean, _, _ = self._predict_group(g, u)
            y = g.center + mean @ g.basis
            out[:, g.columns] = np.expm1(y) if g.log else y
        return out

    def sample(self, u: np.ndarray, rng: np.random.Generator, replications: int | None = None, *,
               latent: bool = True, noise: bool = True) -> np.ndarray:
        """One draw of the statistics at each row of ``u``: the latent predictive draw (if
        ``latent``) plus the noise of a mean over ``replications`` runs (if ``noise``;
        default: the design's replications)."""
        u = np.atleast_2d(np.asarray(u, dtype=float))
        factor = self.design_replications / (replications or self.design_replications)
        out = np.full((len(u), len(self.columns)), np.nan)
        for g in self.groups:
            mean, var, nug = self._predict_group(g, u)
            z = mean.copy()
            if latent:
                z += np.sqrt(var) * rng.standard_normal(z.shape)
            if noise:
                z += np.sqrt(nug * factor) * rng.standard_normal(z.shape)
            y = g.center + z @ g.basis
            if noise:
                y += np.sqrt(g.resid_var * factor) * rng.standard_normal(y.shape)
            out[:, g.columns] = np.expm1(y) if g.log else y
        return out

    def describe(self) -> list[dict[str, object]]:
        """Per group: components kept, and per component the length scales, signal and noise."""
        rows = []
        for g in self.groups:
            for i, gp in enumerate(g.gps):
                rows.append({"group": g.name, "component": i, "components": len(g.gps), "log": g.log,
                             "signal_var": gp.signal_ * gp.scale_ ** 2, "noise_var": gp.noise,
                             "signal_to_noise": gp.signal_ / gp.noise_ if gp.noise_ > 0 else math.inf,
                             "lengthscales": [round(float(v), 4) for v in gp.lengthscales_]})
        return rows
