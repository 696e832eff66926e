"""Scripts that measure zhicheng (run as modules: python -m bench.NAME)."""
