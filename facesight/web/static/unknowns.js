// The Unknown people list: "Cluster again" queues a clustering job through the jobs API
// (POST /api/v1/jobs/cluster, curate) and opens its page, where its progress shows.
"use strict";

(() => {
  const button = document.getElementById("cluster-again");
  if (!button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    const { status, body } = await window.facesight.api("POST", "/api/v1/jobs/cluster", {});
    if (status === 202) {
      window.location.href = body.url;
      return;
    }
    button.disabled = false;
    window.facesight.say(`Clustering was not queued: ${body.detail}`, "error");
  });
})();
