"""Inference: sandwich covariances, the delta method and margins."""
