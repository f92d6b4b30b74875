// The face page's player: seek to the track's best frame and show the track; where the
// browser cannot play the file, show the stored evidence frame instead and say why.
"use strict";

(() => {
  const video = document.getElementById("player");
  if (!video) return;
  const best = Number.parseFloat(video.dataset.seek) || 0;
  const start = Number.parseFloat(video.dataset.start);
  const end = Number.parseFloat(video.dataset.end);
  let stopAtEnd = false;

  function fallBack() {
    const frame = document.getElementById("fallback");
    frame.src = frame.dataset.src;
    frame.hidden = false;
    document.getElementById("fallback-why").hidden = false;
    video.hidden = true;
    for (const id of ["to-best", "play-track"]) {
      const button = document.getElementById(id);
      if (button) button.hidden = true;
    }
  }

  function toBest() {
    stopAtEnd = false;
    video.pause();
    video.currentTime = best;
  }

  if (video.dataset.mime && video.canPlayType(video.dataset.mime) === "") {
    fallBack();
    return;
  }
  video.addEventListener("error", fallBack);
  if (video.readyState >= 1) toBest();
  else video.addEventListener("loadedmetadata", toBest, { once: true });

  video.addEventListener("timeupdate", () => {
    if (stopAtEnd && Number.isFinite(end) && video.currentTime >= end) {
      stopAtEnd = false;
      video.pause();
    }
  });
  document.getElementById("to-best").addEventListener("click", toBest);
  document.getElementById("play-track").addEventListener("click", () => {
    video.currentTime = Number.isFinite(start) ? start : 0;
    stopAtEnd = true;
    video.play();
  });
})();
