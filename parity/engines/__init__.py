"""Engines that run the parity comparison somewhere other than this process (e.g. on Spark)."""
