"""The command line: one module per command family, rendering only."""
