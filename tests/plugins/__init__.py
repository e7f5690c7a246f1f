"""Collector plugins the tests load into a real `groundswell` process via GROUNDSWELL_PLUGINS."""
