"""facesight: find known people in photo and video collections."""
