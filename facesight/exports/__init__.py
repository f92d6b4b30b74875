"""Files written for people and other tools: reports, XMP, JSON Lines, frames."""
