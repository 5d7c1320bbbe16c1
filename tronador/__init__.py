"""Tronador: a Kubernetes test environment for every pull request."""

__version__ = "0.1.0"
