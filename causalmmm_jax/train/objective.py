"""The training objective: masked Huber + the original's regularisers + priors + calibration.

    L = Huber_δ(ŷ, y | fit cells) + w_dag·L_dag + w_sparse·L_sparse + w_l1·Σ|θ| + w_l2·Σθ²
        + L_media_prior + L_seasonal_prior + w_media·Σ_c mean(M_c) + w_cal·L_calibration
        + L_hill_prior + L_seasonal_offsets + L_trend + L_roi + w_pool·L_pool

``L_hill_prior``, ``L_seasonal_offsets``, ``L_trend`` (random walk on the trend knots) and ``L_roi``
(the ROI priors a user states, :func:`roi_prior`) are Gaussian priors on the likelihood's scale
(σ̂²/2N·Σz², see :func:`transform_prior`), and so is the lift-test term; ``L_pool``
pools the GRU's coefficients (:func:`coef_pooling`, weight 0 by default).

Only observed cells of the fit block count (``TrainData.fit_w``): no padding, validation or
holdout week enters the data term.  ``Σ|θ|`` and ``Σθ²`` run over the network weights; the
transform and level scalars (adstock, Hill, DAG gates, baselines, scale) are excluded unless
``train.regularize_transforms`` (the original regularises everything).

Priors (``train.prior_mode``):
* ``quadratic`` (default): ``w·(media_share − target)²`` and ``w·(softplus(c_s) − prior)²``; with the
  default weight 0 the attribution is the data's.
* ``dynamic`` (original): value ``w·L_base`` with gradient ``w·L_base·∇log L_raw``, where
  ``L_raw = mean((Σ_c M − 0.4·raw)²)``; this imposes the target share whatever the data say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from ..config import TrainConfig
from ..model import dag as dag_lib
from ..model.groups import STRUCTURAL_GROUPS, STRUCTURAL_NAMES, group_of, is_regional
from ..model.mmm import Decomposition, ModelInputs, ModelSpec, apply, transform_params

if TYPE_CHECKING:
    from .hyper import Hyper

__all__ = ["TrainData", "TransformPrior", "RoiPrior", "transform_prior", "roi_prior", "seasonal_offset_prior",
           "media_region_prior", "media_drift_prior", "trend_prior", "coef_pooling", "STRUCTURAL_PARAMS",
           "is_structural", "masked_mean", "regularizers", "objective"]

#: Parameters excluded from L1/L2 and weight decay by default (transform and level scalars): the
#: model's structural groups (:mod:`causalmmm_jax.model.groups`)
STRUCTURAL_PARAMS = STRUCTURAL_NAMES


@struct.dataclass
class TrainData:
    """Device arrays for one training sequence (weeks ``[0, n_train)`` incl. padding).

    inputs: scaled :class:`ModelInputs`; target ``[R,T]`` scaled KPI; fit_w / val_w ``[R,T]``
    float weights (1 on observed fit / validation cells); lift: calibration rows or None;
    region_w ``[R]``: 1 for the panel's regions, 0 for masked padding regions of a region-sharded
    fit (None: no padding), so padding adds nothing to the regularisers either.
    """

    inputs: ModelInputs
    target: jnp.ndarray
    fit_w: jnp.ndarray
    val_w: jnp.ndarray
    lift: Any = None
    prior: Any = None
    region_w: Any = None

    if TYPE_CHECKING:  # flax.struct adds replace(); declared for the type checker
        def replace(self, **changes: Any) -> "TrainData": ...


@struct.dataclass
class TransformPrior:
    """Centres of the Hill priors (from the data-driven initialisation) and the data's variance
    scale: ``log_ratio0 [C]`` = log(g / mean adstocked exposure) at init, ``a0 [C]`` Hill slope at
    init, ``var`` (within-region variance of the scaled KPI over the fit cells), ``wide [C]``: 1 where
    the fit cells show the channel's spend over a wide range (its half-saturation prior then has sd
    ``hill_g_prior_sd_flighted``), 0 elsewhere (sd ``hill_g_prior_sd``); None: 0 everywhere.
    ``shift``: None, or the anchors of an anchored draw (:mod:`.draws`): ``{name: ε}`` moves the centre of
    the Gaussian prior on parameter ``name`` (``"trend_knots"``, ``"seasonal_fourier_region"``,
    ``"media_region"``, ``"media_drift"``, ``"roi"``) by ε prior sds (the prior reads ``(z − ε)²`` for its
    ``z²``).  ``roi``: the stated ROI priors (:class:`RoiPrior`) or None."""

    log_ratio0: jnp.ndarray
    a0: jnp.ndarray
    var: jnp.ndarray
    wide: Any = None
    shift: Any = None
    roi: Any = None

    if TYPE_CHECKING:  # flax.struct adds replace(); declared for the type checker
        def replace(self, **changes: Any) -> "TransformPrior": ...


@struct.dataclass
class RoiPrior:
    """The ROI priors a user states (``train.roi_prior``), resolved against the panel: per channel
    ``log_median [C]`` and ``sd [C]`` of the log-normal (0 and 1 where no prior is stated), ``on [C]``
    (1 where one is), ``spend [C]`` (the channel's spend over the observed training cells, fit and
    validation, or its media where the panel has no spend columns; 1 where no prior is stated) and
    ``target_mean [R]`` (ȳ_r, so that the scaled contribution becomes KPI)."""

    log_median: jnp.ndarray
    sd: jnp.ndarray
    on: jnp.ndarray
    spend: jnp.ndarray
    target_mean: jnp.ndarray

    if TYPE_CHECKING:  # flax.struct adds replace(); declared for the type checker
        def replace(self, **changes: Any) -> "RoiPrior": ...


def stated_roi(d: Decomposition, rp: RoiPrior, w, val_w=None):
    """``[C]`` the ROI the stated priors judge (see :func:`roi_prior`; channels without one: KPI per 1)."""
    cells = ((w > 0) | (val_w > 0) if val_w is not None else w > 0).astype(d.media.dtype)
    kpi = (d.media * cells[..., None] * rp.target_mean[:, None, None]).sum((0, 1))
    return kpi / rp.spend


def roi_prior(d: Decomposition, prior: TransformPrior | None, w, val_w=None):
    """Log-normal priors on the channels' ROI over the training cells, on the likelihood's scale:
    ``σ̂²/(2N)·Σ_c on_c·((log ROI_c − log median_c)/sd_c)²`` with
    ``ROI_c = Σ_{r,t: w>0 or val_w>0} contribution_rtc·ȳ_r / spend_c`` (KPI per unit of spend over the
    observed training weeks, fit and validation: the ROI ``roi_table`` reports; every cell counts once,
    whatever its bootstrap weight in an anchored draw; N = the fit cells, as for the other priors).
    0 without stated ROI priors."""
    if prior is None or prior.roi is None:
        return jnp.float32(0.0)
    rp: RoiPrior = prior.roi
    roi = stated_roi(d, rp, w, val_w)
    # a tiny floor keeps log finite for a channel at zero effect (its z is then large: pulled up);
    # channels without a stated prior (log median 0, sd 1, spend 1) are masked by ``on`` after the anchor
    z = (jnp.log(jnp.maximum(roi, 0.0) + 1e-6 * jnp.exp(rp.log_median)) - rp.log_median) / rp.sd
    return _gaussian_prior(z, prior, w, "roi", on=rp.on)


def transform_prior(params, d: Decomposition, spec: ModelSpec, prior: TransformPrior | None, tcfg: TrainConfig | Hyper,
                    w):
    """Weakly-informative Gaussian priors on the Hill curve, on the likelihood's scale:
    ``weight·σ̂²/(2N)·Σ_c[((log(g_c/Ā_c) − log_ratio0_c)/sd_g,c)² + ((a_c − a0_c)/sd_a)²]`` with ``Ā_c``
    the channel's mean adstocked exposure over the fit cells (held constant for the gradient), so the
    half-saturation point is judged relative to the exposure the curve sees whatever the decay;
    ``sd_g,c`` is ``hill_g_prior_sd_flighted`` for the channels the data see over a wide range
    (``prior.wide``), ``hill_g_prior_sd`` for the others.

    Saturation is barely identified by weekly data (an always-on channel never shows its response
    near zero), so without a prior the fit trades channels' shares along flat directions of the
    likelihood; with weight 1 the prior counts like one observation per parameter."""
    if prior is None:
        return jnp.float32(0.0)
    tp = transform_params(params, spec)
    n = jnp.maximum(w.sum(), 1.0)
    mean_a = jax.lax.stop_gradient((d.adstocked * w[..., None]).sum((0, 1)) / n)
    sd_g = tcfg.hill_g_prior_sd if prior.wide is None else jnp.where(
        prior.wide > 0, tcfg.hill_g_prior_sd_flighted, tcfg.hill_g_prior_sd)
    z = (((jnp.log(tp["hill_g"]) - jnp.log(mean_a + 1e-8) - prior.log_ratio0) / sd_g) ** 2
         + ((tp["hill_a"] - prior.a0) / tcfg.hill_a_prior_sd) ** 2)
    return tcfg.transform_prior_weight * prior.var / (2.0 * n) * z.sum()


def seasonal_offset_prior(params, spec: ModelSpec, prior: TransformPrior | None, w):
    """Gaussian prior N(0, ``model.seasonal_region_sd``²) on each region's offset from the shared
    Fourier cycle, on the likelihood's scale: ``σ̂²/(2N)·Σ_r Σ_f (o_rf/sd)²`` (0 without Fourier
    seasonality or without prior centres)."""
    if prior is None or "seasonal_fourier_region" not in params:
        return jnp.float32(0.0)
    return _gaussian_prior(params["seasonal_fourier_region"] / spec.config.seasonal_region_sd, prior, w,
                           "seasonal_fourier_region")


def media_region_prior(params, spec: ModelSpec, prior: TransformPrior | None, w):
    """Gaussian prior N(0, ``model.media_region_sd``²) on each region's log effect multiplier per
    channel (partial pooling toward the shared effect), on the likelihood's scale:
    ``σ̂²/(2N)·Σ_r Σ_c (u_rc/sd)²`` (0 without region-level effects or prior centres)."""
    if prior is None or "media_region" not in params:
        return jnp.float32(0.0)
    return _gaussian_prior(params["media_region"] / spec.config.media_region_sd, prior, w, "media_region")


def media_drift_prior(params, spec: ModelSpec, prior: TransformPrior | None, w):
    """Random-walk prior on each channel's log effect drift at the trend's knots, on the likelihood's
    scale: ``σ̂²/(2N)·Σ_c Σ_j ((d_jc − d_{j−1,c})/model.media_drift_sd)²`` (0 without a drift term or
    prior centres).  Knots in weeks without fit cells (the validation block) follow their neighbours."""
    if prior is None or "media_drift" not in params:
        return jnp.float32(0.0)
    return _random_walk_prior(params["media_drift"], spec.config.media_drift_sd, prior, w, "media_drift")


def trend_prior(params, spec: ModelSpec, prior: TransformPrior | None, w):
    """Random-walk prior on the trend knots, on the likelihood's scale:
    ``σ̂²/(2N)·Σ_j ((κ_j − κ_{j−1})/model.trend_knot_sd)²`` (0 without a knot trend or prior centres).
    Knots in weeks without fit cells (the validation block) follow their neighbours."""
    if prior is None or "trend_knots" not in params:
        return jnp.float32(0.0)
    return _random_walk_prior(params["trend_knots"], spec.config.trend_knot_sd, prior, w, "trend_knots")


def _random_walk_prior(knots, sd, prior: TransformPrior, w, name: str):
    """A Gaussian random walk of step sd ``sd`` along the first axis of ``knots`` (:func:`_gaussian_prior`)."""
    return _gaussian_prior((knots[1:] - knots[:-1]) / sd, prior, w, name)


def _gaussian_prior(z, prior: TransformPrior, w, name: str, on=None):
    """``σ̂²/(2N)·Σ(z − ε)²``: a standard-normal prior on ``z`` counted on the likelihood's scale (N fit
    cells), centred on the anchor ε of parameter ``name`` in an anchored draw (``prior.shift``; 0 otherwise);
    ``on``: where the prior applies (elsewhere z − ε counts 0)."""
    if prior.shift is not None and name in prior.shift:
        z = z - prior.shift[name]
    if on is not None:
        z = jnp.where(on > 0, z, 0.0)
    return prior.var / (2.0 * jnp.maximum(w.sum(), 1.0)) * (z * z).sum()


def _within_region_var(y, w):
    """The within-region variance of ``y [R,T]`` over the cells ``w`` (jnp; ``within_region_variance``)."""
    w = (w > 0).astype(y.dtype)
    mean = (y * w).sum(1, keepdims=True) / jnp.maximum(w.sum(1, keepdims=True), 1.0)
    return jax.lax.stop_gradient((((y - mean) ** 2) * w).sum() / jnp.maximum(w.sum(), 1.0))


def is_structural(path) -> bool:
    """Whether the leaf at ``path`` is in one of the model's structural groups."""
    return group_of(path) in STRUCTURAL_GROUPS


def masked_mean(x, w):
    return (x * w).sum() / jnp.maximum(w.sum(), 1.0)


def _abs_sq_sums(params, regularize_transforms: bool, region_w=None):
    leaves = jax.tree_util.tree_leaves_with_path(params)
    chosen = [v * _region_weights(region_w, v) if region_w is not None and is_regional(p) else v
              for p, v in leaves if regularize_transforms or not is_structural(p)]
    l1 = sum(jnp.abs(v).sum() for v in chosen)
    l2 = sum((v * v).sum() for v in chosen)
    return l1, l2


def _region_weights(region_w, v):
    return region_w.reshape(region_w.shape + (1,) * (v.ndim - 1))


def regularizers(params, spec: ModelSpec, tcfg: TrainConfig | Hyper, notears: dag_lib.NotearsState | None,
                 region_w=None):
    """``{"dag", "sparse", "l1", "l2"}`` unweighted (``region_w``: see :class:`TrainData`)."""
    cfg = spec.config
    if cfg.dag_mode != "off":
        mask = dag_lib.dag_mask(spec.n_channels, cfg.dag_mode)
        dag = dag_lib.dag_loss(params["dag_logits"], mask, cfg.dag_temperature, cfg.dag_mode, notears,
                               tcfg.notears_lambda1, tcfg.notears_group_l1)
    else:
        dag = jnp.float32(0.0)
    # the GRU's weights and biases, as the original's Σ over gru.parameters(): the learnable initial
    # state h0 is the model's own parameter there, not the GRU's
    gru = {k: v for k, v in params["gru"].items() if k != "h0"}
    sparse = jnp.abs(params["stable_media_coeff"]).sum() + 0.1 * sum(
        jnp.abs(v).sum() for v in jax.tree_util.tree_leaves(gru))
    if "stable_ctrl_coeff" in params:
        sparse = sparse + jnp.abs(params["stable_ctrl_coeff"]).sum()
    l1, l2 = _abs_sq_sums(params, tcfg.regularize_transforms, region_w)
    return {"dag": dag, "sparse": sparse, "l1": l1, "l2": l2}


def _dynamic(weight, base, raw):
    """Value weight·base, gradient weight·base·∇log(raw) (the original's 'dynamic loss scaling')."""
    sg = jax.lax.stop_gradient
    return jnp.where(sg(raw) > 0, weight * raw * sg(base) / (sg(raw) + 1e-8), 0.0)


def priors(params, d: Decomposition, w, base, tcfg: TrainConfig | Hyper):
    """``(media_prior, seasonal_prior)`` loss terms."""
    if "seasonal_coeff" in params:
        seas_raw = (jax.nn.softplus(params["seasonal_coeff"]) - tcfg.seasonal_prior) ** 2
    else:  # Fourier seasonality: no prior on a single coefficient
        seas_raw = jnp.float32(0.0)
    if tcfg.prior_mode == "dynamic":
        raw_pred = d.prediction / d.scale
        media_raw = masked_mean((d.media.sum(-1) / d.scale - tcfg.media_share_prior * raw_pred) ** 2, w)
        return (_dynamic(tcfg.media_share_weight, base, media_raw),
                _dynamic(tcfg.seasonal_prior_weight, base, seas_raw))
    share = (d.media.sum(-1) * w).sum() / jnp.maximum((d.prediction * w).sum(), 1e-8)
    return (tcfg.media_share_weight * (share - tcfg.media_share_prior) ** 2,
            tcfg.seasonal_prior_weight * seas_raw)


def coef_pooling(coef, w):
    """Share of the coefficients' second moment that is variation around the channel mean:
    ``mean_c Σ_rt w·(θ_rtc − θ̄_c)² / Σ_rt w·θ_rtc²`` (in [0, 1]; denominator held constant for the
    gradient), ``θ̄_c`` the fit-cell mean.  Works for the signed control coefficients too.

    A weight on this term pools the GRU's time- and region-varying coefficients toward one effect
    per channel (0 = the original's free coefficients; large = a constant-coefficient MMM)."""
    if coef.shape[-1] == 0:
        return jnp.float32(0.0)
    w3 = w[..., None]
    wsum = jnp.maximum(w.sum(), 1.0)
    bar = (coef * w3).sum((0, 1)) / wsum
    dev = (((coef - bar) ** 2) * w3).sum((0, 1)) / wsum
    second = jax.lax.stop_gradient((coef * coef * w3).sum((0, 1)) / wsum)
    return (dev / (second + 1e-8)).mean()


def objective(params, data: TrainData, spec: ModelSpec, tcfg: TrainConfig | Hyper,
              notears: dag_lib.NotearsState | None = None, dropout_key: jax.Array | None = None,
              loss: str | jax.Array = "huber"):
    """Total loss and an aux dict of its parts (all scalars).

    ``tcfg``: a :class:`TrainConfig` or a phase's traced :class:`~.hyper.Hyper` (same field names).
    ``loss``: ``"huber"``, ``"mse"``, or a boolean (array) that is true for MSE."""
    d = apply(params, data.inputs, spec, dropout_key=dropout_key)
    err = d.prediction - data.target
    if isinstance(loss, str):
        if loss not in ("huber", "mse"):
            raise ValueError(f"loss must be 'huber' or 'mse', got {loss!r}")
        per_cell = err * err if loss == "mse" else optax.losses.huber_loss(d.prediction, data.target,
                                                                            delta=tcfg.huber_delta)
    else:
        per_cell = jnp.where(loss, err * err, optax.losses.huber_loss(d.prediction, data.target,
                                                                      delta=tcfg.huber_delta))
    base = masked_mean(per_cell, data.fit_w)
    reg = regularizers(params, spec, tcfg, notears, data.region_w)
    media_prior, seas_prior = priors(params, d, data.fit_w, base, tcfg)
    # shrinkage of each channel's mean contribution (media ≥ 0, so this is an L1 penalty)
    media_l1 = (d.media * data.fit_w[..., None]).sum() / jnp.maximum(data.fit_w.sum(), 1.0)
    pool = coef_pooling(d.media_coef, data.fit_w) + coef_pooling(d.control_coef, data.fit_w)
    total = (base + tcfg.dag_weight * reg["dag"] + tcfg.sparsity_weight * reg["sparse"]
             + tcfg.l1_weight * reg["l1"] + tcfg.l2_weight * reg["l2"] + media_prior + seas_prior
             + tcfg.media_l1_weight * media_l1 + tcfg.coef_pooling_weight * pool)
    hill_prior = transform_prior(params, d, spec, data.prior, tcfg, data.fit_w)
    season_prior = seasonal_offset_prior(params, spec, data.prior, data.fit_w)
    trend_pr = trend_prior(params, spec, data.prior, data.fit_w)
    region_pr = media_region_prior(params, spec, data.prior, data.fit_w)
    drift_pr = media_drift_prior(params, spec, data.prior, data.fit_w)
    roi_pr = roi_prior(d, data.prior, data.fit_w, data.val_w)
    total = total + hill_prior + season_prior + trend_pr + region_pr + drift_pr + roi_pr
    cal = jnp.float32(0.0)
    if data.lift is not None:
        from .calibration import lift_loss

        cal = lift_loss(params, data, spec)
        # on the likelihood's scale: σ̂²/(2N)·Σ_e z_e² (σ̂² from the data when no prior centres are attached)
        var = data.prior.var if data.prior is not None else _within_region_var(data.target, data.fit_w)
        total = total + tcfg.calibration_weight * var / (2.0 * jnp.maximum(data.fit_w.sum(), 1.0)) * (
            cal * data.lift.lift.shape[0])
    sq = err * err
    aux = {"loss": total, "base": base, "coef_pooling": pool, "hill_prior": hill_prior,
           "seasonal_offset_prior": season_prior, "trend_prior": trend_pr, "media_region_prior": region_pr,
           "media_drift_prior": drift_pr, "roi_prior": roi_pr,
           "media_prior": media_prior,
           "seasonal_prior": seas_prior,
           "calibration": cal, **reg,
           "rmse_fit": jnp.sqrt(masked_mean(sq, data.fit_w)),
           "rmse_val": jnp.sqrt(masked_mean(sq, data.val_w)),
           "media_share": (d.media.sum(-1) * data.fit_w).sum() / jnp.maximum((d.prediction * data.fit_w).sum(), 1e-8)}
    return total, aux
