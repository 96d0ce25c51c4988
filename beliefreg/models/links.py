"""Link functions of the binary-response models: the cdf G, its density g and g'.

All functions are vectorised and numerically stable in the tails: log G and log(1 - G) are
computed directly (``log_ndtr``, ``logaddexp``) rather than as the log of a rounded probability.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from scipy import special

__all__ = ["Link", "LogitLink", "ProbitLink", "score_ratio"]

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


class Link(Protocol):
    """A binary-response link: ``E[y | x] = G(x'b)``."""

    name: str
    canonical: bool

    def cdf(self, eta: np.ndarray) -> np.ndarray: ...

    def pdf(self, eta: np.ndarray) -> np.ndarray: ...

    def dpdf(self, eta: np.ndarray) -> np.ndarray: ...

    def log_cdf(self, eta: np.ndarray) -> np.ndarray: ...

    def log_sf(self, eta: np.ndarray) -> np.ndarray: ...

    def log_pdf(self, eta: np.ndarray) -> np.ndarray: ...

    def log_odds(self, eta: np.ndarray) -> np.ndarray:
        """log G - log(1 - G)."""
        ...

    def dlog_pdf(self, eta: np.ndarray) -> np.ndarray:
        """g'(t) / g(t)."""
        ...

    def ppf(self, mu: np.ndarray) -> np.ndarray:
        """G^{-1}(mu), the index of a mean (the link function proper)."""
        ...


class LogitLink:
    """The logistic link, ``G(t) = 1 / (1 + exp(-t))``; canonical for the Bernoulli family."""

    name = "logit"
    canonical = True

    def cdf(self, eta: np.ndarray) -> np.ndarray:
        return special.expit(eta)

    def pdf(self, eta: np.ndarray) -> np.ndarray:
        p = special.expit(eta)
        return p * (1.0 - p)

    def dpdf(self, eta: np.ndarray) -> np.ndarray:
        p = special.expit(eta)
        return p * (1.0 - p) * (1.0 - 2.0 * p)

    def log_cdf(self, eta: np.ndarray) -> np.ndarray:
        return -np.logaddexp(0.0, -eta)

    def log_sf(self, eta: np.ndarray) -> np.ndarray:
        return -np.logaddexp(0.0, eta)

    def log_pdf(self, eta: np.ndarray) -> np.ndarray:
        return -np.logaddexp(0.0, -eta) - np.logaddexp(0.0, eta)

    def dlog_pdf(self, eta: np.ndarray) -> np.ndarray:
        return 1.0 - 2.0 * special.expit(eta)

    def log_odds(self, eta: np.ndarray) -> np.ndarray:
        return eta

    def ppf(self, mu: np.ndarray) -> np.ndarray:
        """The index of a mean: ``G^{-1}(mu) = log(mu / (1 - mu))``."""
        return special.logit(mu)


class ProbitLink:
    """The probit link, ``G(t) = Phi(t)``, the standard normal cdf (not canonical)."""

    name = "probit"
    canonical = False

    def cdf(self, eta: np.ndarray) -> np.ndarray:
        return special.ndtr(eta)

    def pdf(self, eta: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * eta * eta - _LOG_SQRT_2PI)

    def dpdf(self, eta: np.ndarray) -> np.ndarray:
        return -eta * self.pdf(eta)

    def log_cdf(self, eta: np.ndarray) -> np.ndarray:
        return special.log_ndtr(eta)

    def log_sf(self, eta: np.ndarray) -> np.ndarray:
        return special.log_ndtr(-eta)

    def log_pdf(self, eta: np.ndarray) -> np.ndarray:
        return -0.5 * eta * eta - _LOG_SQRT_2PI

    def dlog_pdf(self, eta: np.ndarray) -> np.ndarray:
        return -eta

    def log_odds(self, eta: np.ndarray) -> np.ndarray:
        return special.log_ndtr(eta) - special.log_ndtr(-eta)

    def ppf(self, mu: np.ndarray) -> np.ndarray:
        """The index of a mean: ``G^{-1}(mu) = Phi^{-1}(mu)``."""
        return special.ndtri(mu)


def score_ratio(link: Link, eta: np.ndarray) -> np.ndarray:
    r""":math:`r(\eta) = g / (G (1 - G))`, computed in logs (1 for the canonical logit)."""
    if link.canonical:
        return np.ones_like(eta)
    return np.exp(link.log_pdf(eta) - link.log_cdf(eta) - link.log_sf(eta))
