"""The rule that carries review decisions to the faces of re-analysed content."""

from __future__ import annotations

from facesight.identity.carry import carry_reviews


def test_a_still_face_goes_to_the_new_box_overlapping_it_most() -> None:
    old = [((10.0, 10.0, 50.0, 50.0), None, None), ((200.0, 0.0, 240.0, 40.0), None, None)]
    new = [
        ((12.0, 10.0, 52.0, 50.0), None, None),  # IoU 0.9 with the first
        ((100.0, 100.0, 140.0, 140.0), None, None),  # overlaps nothing
    ]
    assert carry_reviews(old, new) == [0, None]


def test_an_iou_under_one_half_is_not_the_same_face() -> None:
    old = [((0.0, 0.0, 10.0, 10.0), None, None)]
    assert carry_reviews(old, [((5.0, 0.0, 15.0, 10.0), None, None)]) == [None]  # IoU 1/3


def test_a_track_goes_to_the_new_track_sharing_most_of_its_time() -> None:
    box = (0.0, 0.0, 10.0, 10.0)
    old = [(box, 2.0, 6.0)]
    new = [(box, 0.0, 3.0), (box, 3.0, 8.0), (box, 9.0, 9.0)]
    assert carry_reviews(old, new) == [1]
    assert carry_reviews([(box, 9.0, 9.0)], new) == [2]  # one-frame tracks at one instant
