// The review queue's keys, buttons and bulk actions (also the face page's decision buttons).
// Every decision goes to the API, which applies the library's rule: a face whose decision
// changed since this page was drawn answers 409 with the current decision (shown, never
// overwritten); naming someone the rule did not propose answers 409 ManualIdentificationError
// (asked, then sent again with force: recorded as a manual identification).
"use strict";

(() => {
  const fs = window.facesight;
  const cards = Array.from(document.querySelectorAll(".card[data-face-id]"));
  if (cards.length === 0) return;
  const canDecide = document.querySelector("[data-action], [data-bulk]") !== null;
  const picker = document.getElementById("assign-person");
  const noteBox = document.getElementById("note");
  let current = -1;
  let lastChecked = -1;

  const label = (state) => String(state || "").split(":")[0];
  const checkbox = (card) => card.querySelector("input.select");

  function focus(index) {
    if (index < 0 || index >= cards.length) return;
    if (current >= 0) cards[current].classList.remove("current");
    current = index;
    cards[current].classList.add("current");
    cards[current].focus({ preventScroll: true });
    cards[current].scrollIntoView({ block: "nearest" });
  }

  // Show a sighting the API returned (a decision, or the current one of a conflict).
  function show(card, sighting, note) {
    const state = sighting.state || sighting.decision;
    card.dataset.state = state;
    const status = card.querySelector('[data-role="status"]');
    status.textContent = note ? `${label(state)}: ${note}` : label(state);
    status.className = `status state-${label(state)}`;
    card.classList.add("decided");
    const category = card.querySelector(".category");
    if (category && sighting.category) category.textContent = sighting.category;
  }

  function conflict(card, current) {
    const text = fs.describe(current);
    if (current) show(card, current, text);
    card.classList.add("conflict");
    fs.say(`Face ${card.dataset.faceId}: not changed, ${text}.`, "warn");
  }

  function request(card, action, person, force) {
    return {
      face_id: Number(card.dataset.faceId),
      action,
      person: person || null,
      note: noteBox ? noteBox.value.trim() : "",
      expected: card.dataset.state,
      force: Boolean(force),
    };
  }

  async function decideOne(card, action, person, force) {
    const body = request(card, action, person, force);
    delete body.face_id;
    const answer = await fs.api("POST", `/api/v1/faces/${card.dataset.faceId}/decision`, body);
    const data = answer.body || {};
    if (answer.status === 200) {
      show(card, data);
      fs.say(`Face ${card.dataset.faceId}: ${label(data.state || data.decision)}.`, "ok");
    } else if (answer.status === 409 && data.error === "ManualIdentificationError" && !force) {
      if (window.confirm(`${data.detail}\n\nRecord it as a manual identification?`)) {
        await decideOne(card, action, person, true);
      }
    } else if (answer.status === 409) {
      conflict(card, data.current);
    } else {
      fs.say(`Face ${card.dataset.faceId}: ${data.detail || answer.status}`, "error");
    }
  }

  const selected = () => cards.filter((card) => checkbox(card) && checkbox(card).checked);

  function updateCount() {
    const count = document.getElementById("selected-count");
    if (count) count.textContent = `${selected().length} selected`;
  }

  async function decideMany(targets, action, person, force) {
    const decisions = targets.map((card) => request(card, action, person, force));
    const answer = await fs.api("POST", "/api/v1/decisions", { decisions });
    if (answer.status !== 200) {
      fs.say(`Not sent: ${(answer.body && answer.body.detail) || answer.status}`, "error");
      return;
    }
    const byId = new Map(targets.map((card) => [card.dataset.faceId, card]));
    const manual = [];
    let done = 0;
    for (const result of answer.body.results) {
      const card = byId.get(String(result.face_id));
      if (!card) continue;
      if (result.ok) {
        show(card, result.sighting);
        checkbox(card).checked = false;
        done += 1;
      } else if (result.status === 409 && isManual(result)) {
        manual.push(card);
      } else if (result.status === 409) {
        conflict(card, result.sighting);
      } else {
        fs.say(`Face ${result.face_id}: ${result.detail}`, "error");
      }
    }
    updateCount();
    if (done) fs.say(`${done} face(s): ${action}ed.`, "ok");
    if (manual.length && !force) {
      const names = manual.map((card) => card.dataset.faceId).join(", ");
      if (window.confirm(`Faces ${names}: this names someone the decision rule did not propose. Record them as manual identifications?`)) {
        await decideMany(manual, action, person, true);
      }
    }
  }

  function isManual(result) {
    if (result.error) return result.error === "ManualIdentificationError";
    return !result.sighting; // a conflict carries the current decision, a manual one does not
  }

  // Act on the selected faces, or on the current one when none is selected.
  function act(action) {
    if (!canDecide) return;
    let person = null;
    if (action === "assign") {
      person = picker ? picker.value : "";
      if (!person) {
        fs.say("Choose a person to assign to first (a focuses the picker).", "warn");
        if (picker) picker.focus();
        return;
      }
    }
    const many = selected();
    if (many.length > 0) {
      decideMany(many, action, person, false);
    } else if (current >= 0) {
      decideOne(cards[current], action, person, false);
      if (cards.length > 1) focus(Math.min(current + 1, cards.length - 1));
    }
  }

  function toggle(index, range) {
    const box = checkbox(cards[index]);
    if (!box) return;
    if (range && lastChecked >= 0) {
      const [from, to] = [Math.min(lastChecked, index), Math.max(lastChecked, index)];
      for (let i = from; i <= to; i += 1) if (checkbox(cards[i])) checkbox(cards[i]).checked = true;
    }
    lastChecked = index;
    updateCount();
  }

  cards.forEach((card, index) => {
    card.addEventListener("click", (event) => {
      if (event.target.closest("a, select")) return;
      focus(index);
    });
    const box = checkbox(card);
    if (box) box.addEventListener("click", (event) => toggle(index, event.shiftKey));
    card.querySelectorAll("[data-action]").forEach((button) => {
      button.addEventListener("click", () => {
        focus(index);
        if (button.dataset.action === "assign") act("assign");
        else decideOne(card, button.dataset.action, null, false);
      });
    });
  });
  document.querySelectorAll("[data-bulk]").forEach((button) => {
    button.addEventListener("click", () => act(button.dataset.bulk));
  });
  if (picker) {
    picker.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        act("assign");
      }
    });
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea")) {
      // Escape leaves the note or the picker: the keys act on the faces again
      if (event.key === "Escape" && current >= 0) cards[current].focus();
      return;
    }
    if (event.target.closest("button, a")) return;
    const key = event.key;
    const moves = { j: 1, ArrowDown: 1, ArrowRight: 1, k: -1, ArrowUp: -1, ArrowLeft: -1 };
    if (key in moves) {
      focus(current < 0 ? 0 : current + moves[key]);
    } else if (key === "s") {
      focus(current + 1);
    } else if (key === "o" || key === "Enter") {
      const link = current >= 0 ? cards[current].querySelector("a.open") : null;
      if (link) window.location.href = link.href;
    } else if (!canDecide) {
      return;
    } else if (key === "c") {
      act("confirm");
    } else if (key === "r") {
      act("reject");
    } else if (key === "a") {
      if (picker) picker.focus();
    } else if (key === "x" && current >= 0) {
      const box = checkbox(cards[current]);
      if (box) {
        box.checked = !box.checked;
        toggle(current, false);
      }
    } else {
      return;
    }
    event.preventDefault();
  });

  focus(Math.max(0, cards.findIndex((card) => label(card.dataset.state) === "pending")));
})();
