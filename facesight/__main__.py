"""``python -m facesight`` runs the command line."""

from facesight.cli import main

main()
