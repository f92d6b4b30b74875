// facesight review workspace: our own small script, served by the app (no CDN, no build step).
// Shared helpers; the review queue and the face page add review.js, the face page face.js.
"use strict";

window.facesight = (() => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";

  // A JSON request to the API with the session cookie and the CSRF token: {status, body}.
  async function api(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      // the session ended (idle, signed out elsewhere, account disabled): sign in again
      const here = window.location.pathname + window.location.search;
      window.location.href = `/login?next=${encodeURIComponent(here)}`;
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = { detail: `the server answered ${response.status}` };
    }
    return { status: response.status, body: data };
  }

  // What a 409 conflict's current decision says, e.g. "already confirmed by ana as Joe Biden".
  function describe(current) {
    if (!current) return "it changed meanwhile";
    const review = current.review;
    if (review) {
      const manual = review.manual ? " (manual identification)" : "";
      return `already ${review.decision} by ${review.reviewer} as ${review.person}${manual}`;
    }
    return `it is now ${current.category || current.decision}`;
  }

  function say(text, kind) {
    const box = document.getElementById("message");
    if (!box) return;
    box.textContent = text; // text, never HTML: names come from the library
    box.className = `message ${kind || ""}`;
  }

  return { api, describe, say };
})();
