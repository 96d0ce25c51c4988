"""Estimators: binary and fractional response models (more in later modules)."""
