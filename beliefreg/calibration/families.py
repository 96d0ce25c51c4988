"""The per-row pieces of the calibrated estimators, one adapter per model family.

A calibrated estimator (:mod:`beliefreg.calibration.estimator`) combines three samples of the
same model: the human rows with the human outcome, the same rows with the LLM's prediction as
the outcome, and the simulated rows with the prediction. It needs, for each sample, the
observation scores, the expected information (which depends on the regressors only) and the
per-row quasi-log-likelihood; these adapters compute them from the model's link (binary
family) or from its softmax (multinomial family), with no reference to LLMs.

Both quasi-log-likelihoods are linear in the outcome, so a weighted combination of the three
samples' contributions is the quasi-log-likelihood of a combined (pseudo-)outcome: this is what
makes PPI++ and DSL M-estimators of the same form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..models.bernoulli import information, score_weights
from ..models.links import Link, score_ratio
from ..models.multinomial import MultinomialFractionalLogit, _expand, softmax_with_base

__all__ = ["Family", "BinaryFamily", "MultinomialFamily", "family_of"]


class Family(Protocol):
    """What a calibrated estimator needs from a model family."""

    k_params: int

    def scores(self, params: np.ndarray, exog: np.ndarray, y: np.ndarray,
               w: np.ndarray) -> np.ndarray:
        """Observation scores (n, K), weights ``w`` included."""
        ...

    def information(self, params: np.ndarray, exog: np.ndarray, c: np.ndarray) -> np.ndarray:
        """The expected information :math:`\\sum_i c_i I_i(\\theta)`, (K, K)."""
        ...

    def loglike_rows(self, params: np.ndarray, exog: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-row quasi-log-likelihood, (n,)."""
        ...


@dataclass(frozen=True)
class BinaryFamily:
    r"""Bernoulli quasi-likelihood with link :math:`G`: scores :math:`w (y - G) r x` and the
    expected information :math:`g r x x'`, :math:`r = g / (G(1-G))`."""

    link: Link
    k_params: int

    def scores(self, params, exog, y, w):
        u = score_weights(y, exog @ params, None, self.link)
        return exog * (w * u)[:, None]

    def information(self, params, exog, c):
        eta = exog @ params
        h = self.link.pdf(eta) * score_ratio(self.link, eta)
        return information(exog, c * h)

    def loglike_rows(self, params, exog, y):
        eta = exog @ params
        return self.link.log_sf(eta) + y * self.link.log_odds(eta)


@dataclass(frozen=True)
class MultinomialFamily:
    r"""Multinomial quasi-likelihood :math:`\sum_j y_j \log p_j` (softmax, base alternative
    normalised to 0): scores :math:`w\,x \otimes (y - p)` over the non-base alternatives and
    the information :math:`(\mathrm{diag}(p) - pp') \otimes xx'`."""

    model: MultinomialFractionalLogit
    k_params: int

    def _eta(self, params, exog):
        return exog @ self.model._coef_matrix(params)

    def scores(self, params, exog, y, w):
        prob, _, _ = softmax_with_base(self._eta(params, exog))
        u = (y[:, self.model._nonbase] - prob) * w[:, None]
        return _expand(exog, u)

    def information(self, params, exog, c):
        prob, _, _ = softmax_with_base(self._eta(params, exog))
        m, k = prob.shape[1], exog.shape[1]
        out = np.empty((m * k, m * k))
        for j in range(m):
            for l in range(j, m):
                h = c * ((prob[:, j] if j == l else 0.0) - prob[:, j] * prob[:, l])
                block = exog.T @ (exog * h[:, None])
                out[j * k:(j + 1) * k, l * k:(l + 1) * k] = block
                out[l * k:(l + 1) * k, j * k:(j + 1) * k] = block.T
        return 0.5 * (out + out.T)

    def loglike_rows(self, params, exog, y):
        eta = self._eta(params, exog)
        _, _, lse = softmax_with_base(eta)
        return (y[:, self.model._nonbase] * eta).sum(axis=1) - lse


def family_of(model: Any) -> Family:
    """The adapter for a fitted-model class instance (binary or multinomial)."""
    from ..models.binary import BinaryModel

    if isinstance(model, BinaryModel):
        return BinaryFamily(model.link, model.k_exog)
    if isinstance(model, MultinomialFractionalLogit):
        return MultinomialFamily(model, model.k_params)
    raise TypeError(f"calibrate supports Logit, FractionalLogit, FractionalProbit and "
                    f"MultinomialFractionalLogit, not {type(model).__name__}")
