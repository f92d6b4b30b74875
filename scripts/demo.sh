#!/usr/bin/env bash
# The main job on the demo data: enroll the people of ../shared/faces/people (two photos
# each), scan the whole of ../shared/faces, and print who was found where.
# Usage: scripts/demo.sh [library-dir]   (default: ./demo-library, recreated each run)
set -euo pipefail
cd "$(dirname "$0")/.."
faces="$(cd .. && pwd)/shared/faces"
library="${1:-demo-library}"
bash scripts/setup.sh
. .venv/bin/activate
rm -rf "$library"
facesight --library "$library" enroll --from-folders "$faces/people" --limit 2 --largest
facesight --library "$library" people
facesight --library "$library" scan "$faces/people" "$faces/group" "$faces/distractors" "$faces/noface"
facesight --library "$library" sightings
