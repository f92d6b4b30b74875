"""The networks and what runs around them: detect, align, quality, embed, track."""
