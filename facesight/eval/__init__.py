"""Measuring accuracy on labelled data: LFW-style pair lists, k-fold protocols."""
