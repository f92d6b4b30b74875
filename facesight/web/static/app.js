// facesight review workspace: our own small script, served by the app (no CDN, no build step).
"use strict";
