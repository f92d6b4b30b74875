"""The accuracy figures the descriptor studies compare engines by (a sibling module).

``measure_bf16_inference.py`` and ``measure_int8_descriptor.py`` each run ``facesight
eval pairs`` and ``identify`` (``eval.runs``) on lfw-dev for every engine and print the
same headline figures of the two results; this is that row.
"""

from __future__ import annotations

from typing import Any

__all__ = ["accuracy_row"]


def accuracy_row(pairs: dict[str, Any], ident: dict[str, Any]) -> dict[str, Any]:
    """Pair accuracy, faces not found, TAR at FAR and estimated against observed FMR of
    ``run_pairs``; FNIR at FPIR and the default decision's FPIR and FNIR of
    ``run_identification``."""
    return {
        "pair_accuracy": pairs["mean_accuracy"],
        "faces_not_found": pairs["faces_not_found"],
        "tar_at_far": pairs["tar_at_far"],
        "estimated_vs_observed_fmr": pairs["estimated_vs_observed_fmr"],
        "fnir_at_fpir": ident["fnir_at_fpir"],
        "default_target_fpir": ident["default_target_fpir"],
        "default_observed_fpir": ident["default_observed_fpir"],
        "default_fnir": ident["default_fnir"],
    }
