// The Conflicts page's ambiguous sightings: confirm the best or the runner-up person at once.
// Each decision goes to the face's decision API with the state this page showed: a face
// decided meanwhile answers 409 with its current decision (shown, never overwritten);
// naming the runner-up, whom the rule did not propose, answers 409
// ManualIdentificationError (asked, then sent again with force: a manual identification).
"use strict";

(() => {
  const fs = window.facesight;

  function show(card, text, kind) {
    const status = card.querySelector('[data-role="status"]');
    status.textContent = text;
    status.className = `status ${kind}`;
    for (const button of card.querySelectorAll("button[data-person]")) button.disabled = true;
  }

  async function decide(card, button, force) {
    const faceId = card.dataset.faceId;
    const body = {
      action: button.dataset.action,
      person: button.dataset.action === "assign" ? button.dataset.person : null,
      expected: card.dataset.state,
      force,
    };
    const answer = await fs.api("POST", `/api/v1/faces/${faceId}/decision`, body);
    const data = answer.body || {};
    if (answer.status === 200) {
      card.dataset.state = data.state || data.decision;
      show(card, `confirmed as ${button.dataset.person}`, "state-confirmed");
      fs.say(`Face ${faceId}: confirmed as ${button.dataset.person}.`, "ok");
    } else if (answer.status === 409 && data.error === "ManualIdentificationError" && !force) {
      if (window.confirm(`${data.detail}\n\nRecord it as a manual identification?`)) {
        await decide(card, button, true);
      }
    } else if (answer.status === 409) {
      const text = fs.describe(data.current);
      show(card, `not changed: ${text}`, "warn");
      fs.say(`Face ${faceId}: not changed, ${text}.`, "warn");
    } else {
      fs.say(`Face ${faceId}: ${data.detail || answer.status}`, "error");
    }
  }

  for (const card of document.querySelectorAll("#ambiguous .card[data-face-id]")) {
    for (const button of card.querySelectorAll("button[data-person]")) {
      button.addEventListener("click", () => decide(card, button, false));
    }
  }
})();
