"""Walking a collection: files to workers, video segments, results into the store."""
