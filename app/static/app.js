// Live progress on a dataset's page: poll the status API, move the bar, reload when finished.
(function () {
  "use strict";
  var card = document.getElementById("status");
  if (!card || ["completed", "failed"].indexOf(card.dataset.status) >= 0) return;
  var bar = document.getElementById("progress");
  var percent = document.getElementById("progress-percent");
  var info = document.getElementById("progress-info");
  var badge = document.getElementById("status-badge");
  var delay = 1000;

  function poll() {
    fetch(card.dataset.statusUrl, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (s) {
        if (bar) bar.value = s.progress;
        if (percent) percent.textContent = s.progress + "%";
        if (info && s.progress_info) info.textContent = s.progress_info;
        if (badge) { badge.textContent = s.status; badge.className = "badge " + s.status; }
        if (s.status === "completed" || s.status === "failed") { window.location.reload(); return; }
        delay = 1000;
        setTimeout(poll, delay);
      })
      .catch(function () { delay = Math.min(delay * 2, 10000); setTimeout(poll, delay); });
  }
  setTimeout(poll, delay);
})();
