"""The Library facade and the services it composes (enroll, review, unknowns ...)."""
