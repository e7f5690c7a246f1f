"""Groundswell: a federated social-mention aggregator and dashboard for movements for change."""

__version__ = "0.1.0"
