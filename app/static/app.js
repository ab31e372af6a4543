// Live progress on a dataset's page: follow its event stream (Server-Sent Events), or poll the status API
// where that is not possible; move the bar, reload when the run has ended.
(function () {
  "use strict";
  var FINAL = ["completed", "failed", "cancelled"];
  var card = document.getElementById("status");
  if (!card || FINAL.indexOf(card.dataset.status) >= 0) return;
  var bar = document.getElementById("progress");
  var percent = document.getElementById("progress-percent");
  var info = document.getElementById("progress-info");
  var badge = document.getElementById("status-badge");
  var delay = 1000;

  function show(s) {
    if (bar) bar.value = s.progress;
    if (percent) percent.textContent = s.progress + "%";
    if (info && s.progress_info) info.textContent = s.progress_info;
    if (badge) { badge.textContent = s.status; badge.className = "badge " + s.status; }
    if (FINAL.indexOf(s.status) >= 0) { window.location.reload(); return true; }
    return false;
  }

  function poll() {
    fetch(card.dataset.statusUrl, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (s) { if (!show(s)) { delay = 1000; setTimeout(poll, delay); } })
      .catch(function () { delay = Math.min(delay * 2, 10000); setTimeout(poll, delay); });
  }

  if (window.EventSource && card.dataset.eventsUrl) {
    var source = new EventSource(card.dataset.eventsUrl);
    var heard = false;
    source.addEventListener("progress", function (e) {
      heard = true;
      if (show(JSON.parse(e.data))) source.close();
    });
    source.onerror = function () {
      // Before any event (streams refused, a proxy that buffers): poll instead. After, EventSource reconnects
      // by itself and resumes with Last-Event-ID.
      if (!heard) { source.close(); setTimeout(poll, delay); }
    };
  } else {
    setTimeout(poll, delay);
  }
})();
