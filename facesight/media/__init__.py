"""Decoding media: still images (EXIF-oriented, size-capped) and video frames."""
