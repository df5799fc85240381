// Polls the import's status while it runs and reloads the page when it has finished.
// The page works without it (a Refresh link); CSP allows only scripts served from this site.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var bar = box.querySelector("progress");
  var done = box.querySelector("[data-field=processed]");
  var total = box.querySelector("[data-field=total]");
  var rejected = box.querySelector("[data-field=rejected]");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        if (state.finished) { window.location.reload(); return; }
        bar.max = Math.max(state.total, 1);
        bar.value = state.processed;
        done.textContent = state.processed;
        total.textContent = state.total;
        rejected.textContent = state.rejected;
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
