"""Nearest-neighbour search over stored descriptors, and its files."""
