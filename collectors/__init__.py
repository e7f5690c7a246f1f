"""Collectors: one per platform, all behind the small `collectors.base.Collector` protocol."""
