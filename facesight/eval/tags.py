"""How well facesight's proposals agree with the user's own face tags (``eval tags``).

The user's tags (``import-tags`` reads them) are taken as ground truth for the faces they
name; faces nobody tagged say nothing (tags are rarely complete), so only tagged faces are
counted. For each person: *precision* is the share of tagged faces the decision rule names
as them that are tagged as them, *recall* the share of faces tagged as them that the rule
names as them. A *false match* is a tagged face the rule names as someone else than its
tag. Names compare as facesight compares them (``text.name_key``: case and Unicode form
aside). A tagged face that is one of its person's own reference photos is left out (the
rule is not asked about references).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from facesight.text import name_key

__all__ = ["PersonAgreement", "TagAgreement", "TagPair", "tag_agreement"]


@dataclass(frozen=True)
class TagPair:
    """One tagged face: its tag, and whom the rule proposes (None: nobody)."""

    face_id: int
    path: str
    tagged: str
    proposed: str | None
    fmr: float = float("nan")


@dataclass(frozen=True)
class PersonAgreement:
    """One person's figures; ``precision`` is None when the rule named nobody as them, and
    ``enrolled`` False when the rule could not name them at all (not in the library)."""

    person: str
    tagged: int
    proposed: int
    agreed: int
    enrolled: bool

    @property
    def precision(self) -> float | None:
        return self.agreed / self.proposed if self.proposed else None

    @property
    def recall(self) -> float | None:
        return self.agreed / self.tagged if self.tagged else None


@dataclass
class TagAgreement:
    """Per-person figures, the false matches, and the tagged faces the rule named nobody."""

    people: list[PersonAgreement] = field(default_factory=list)
    false_matches: list[TagPair] = field(default_factory=list)
    unnamed: int = 0
    faces: int = 0


def tag_agreement(pairs: Sequence[TagPair], enrolled: Sequence[str]) -> TagAgreement:
    """The agreement of the rule's proposals with the tags (see the module docstring).

    Args:
        pairs: the tagged faces (references already left out).
        enrolled: the names of the people the rule can propose.
    """
    shown: dict[str, str] = {}
    tagged: dict[str, int] = {}
    proposed: dict[str, int] = {}
    agreed: dict[str, int] = {}
    result = TagAgreement(faces=len(pairs))
    for pair in pairs:
        truth = name_key(pair.tagged)
        shown.setdefault(truth, pair.tagged)
        tagged[truth] = tagged.get(truth, 0) + 1
        if pair.proposed is None:
            result.unnamed += 1
            continue
        guess = name_key(pair.proposed)
        shown.setdefault(guess, pair.proposed)
        proposed[guess] = proposed.get(guess, 0) + 1
        if guess == truth:
            agreed[truth] = agreed.get(truth, 0) + 1
        else:
            result.false_matches.append(pair)
    known = {name_key(name) for name in enrolled}
    result.people = [
        PersonAgreement(
            person=shown[key],
            tagged=tagged.get(key, 0),
            proposed=proposed.get(key, 0),
            agreed=agreed.get(key, 0),
            enrolled=key in known,
        )
        for key in sorted(shown, key=lambda k: shown[k].casefold())
    ]
    return result
