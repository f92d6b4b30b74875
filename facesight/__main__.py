"""``python -m facesight`` runs the command line."""

from facesight.cli.main import main

main()
