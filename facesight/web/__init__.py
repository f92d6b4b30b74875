"""The review workspace: ``facesight serve`` (an edge beside ``cli``, over ``library``)."""
