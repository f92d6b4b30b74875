// facesight jobs pages: queue a job (/jobs), follow one (/jobs/ID: polls its API each second
// while it runs), cancel it. Text only ever goes in with textContent.
"use strict";

(() => {
  const { api, say } = window.facesight;

  for (const button of document.querySelectorAll("[data-submit]")) {
    button.addEventListener("click", async () => {
      const kind = button.dataset.submit;
      button.disabled = true;
      const answer = await api("POST", `/api/v1/jobs/${kind}`, {});
      if (answer.status === 202) {
        window.location.href = answer.body.url;
        return;
      }
      button.disabled = false;
      say(answer.body.detail || `the server answered ${answer.status}`, "error");
    });
  }

  const section = document.getElementById("job");
  if (!section) return;
  const id = section.dataset.jobId;
  const wasFinished = section.dataset.finished === "true";

  function show(job) {
    const state = document.getElementById("job-state");
    state.textContent = job.state + (job.cancel_requested && !job.finished ? " (cancelling)" : "");
    const bar = document.getElementById("job-progress");
    if (job.fraction === null) {
      bar.removeAttribute("value"); // an indeterminate bar: the total is not known yet
    } else {
      bar.max = 1000;
      bar.value = Math.round(job.fraction * 1000);
    }
    const count = document.getElementById("job-count");
    count.textContent = job.total ? `${job.done} of ${job.total}` : job.done ? `${job.done}` : "";
    document.getElementById("job-message").textContent = job.message;
    document.getElementById("job-failure-count").textContent = job.failure_count;
    const list = document.getElementById("job-failures");
    while (list.children.length < job.failures.length) {
      const item = document.createElement("li");
      item.textContent = job.failures[list.children.length];
      list.appendChild(item);
    }
    if (job.error) {
      const error = document.getElementById("job-error");
      error.textContent = job.error;
      error.hidden = false;
    }
    if (job.finished) document.getElementById("job-finished").textContent = job.finished_at;
  }

  async function poll() {
    const answer = await api("GET", `/api/v1/jobs/${id}`);
    if (answer.status !== 200) {
      say(answer.body.detail || `the server answered ${answer.status}`, "error");
      window.setTimeout(poll, 5000);
      return;
    }
    show(answer.body);
    if (answer.body.finished) {
      // once: the page is drawn again with the result and the files the job wrote
      if (!wasFinished) window.location.reload();
      return;
    }
    window.setTimeout(poll, 1000);
  }

  const cancel = document.getElementById("job-cancel");
  if (cancel) {
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      const answer = await api("POST", `/api/v1/jobs/${id}/cancel`);
      if (answer.status === 200) {
        show(answer.body);
        say(answer.body.finished ? "Cancelled." : "Asked to stop: it stops at its next step.");
      } else {
        cancel.disabled = false;
        say(answer.body.detail || `the server answered ${answer.status}`, "error");
      }
    });
  }

  if (!wasFinished) poll();
})();
