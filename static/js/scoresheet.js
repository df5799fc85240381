// The expert's scoresheet: shows a question only when it applies, regroups corrected codes as they are typed
// (the server checks the code and prices the case), and saves drafts in the background. Without it the form
// still works: every question is shown and drafts are saved with the button, and the evidence is read through its
// links. CSP allows only our own scripts.
(function () {
  "use strict";
  // The evidence preview is loaded when the expert opens it, not with the page: a PDF viewer starting beside the
  // sheet can take the focus from the field being typed in.
  document.querySelectorAll("details[data-preview-src]").forEach(function (box) {
    box.addEventListener("toggle", function () {
      if (!box.open || box.querySelector("iframe")) { return; }
      var frame = document.createElement("iframe");
      frame.className = "doc-viewer";
      frame.src = box.getAttribute("data-preview-src");
      frame.title = box.getAttribute("data-preview-title");
      box.appendChild(frame);
    });
  });

  var form = document.getElementById("scoresheet-form");
  if (!form) { return; }

  function checked(name) {
    var chosen = form.querySelector("input[name='" + name + "']:checked");
    return chosen ? chosen.value : "";
  }
  function applyConditions() {
    form.querySelectorAll("[data-when]").forEach(function (box) {
      box.hidden = checked(box.getAttribute("data-when")) !== box.getAttribute("data-when-value");
    });
  }
  form.addEventListener("change", applyConditions);
  applyConditions();

  var result = document.getElementById("regroup-result");
  var dx = document.getElementById("corrected_principal_dx");
  var proc = document.getElementById("corrected_principal_procedure");
  var timer = null;
  function regroup() {
    if (!result || !dx || !proc) { return; }
    if (!dx.value.trim() && !proc.value.trim()) { result.hidden = true; return; }
    var url = result.getAttribute("data-url") + "?dx=" + encodeURIComponent(dx.value) +
      "&proc=" + encodeURIComponent(proc.value);
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        result.hidden = false;
        result.className = "notice " + (answer.ok ? "notice-info" : "notice-error");
        if (answer.ok) {
          result.textContent = answer.summary;
        } else {
          var messages = [];
          Object.keys(answer.errors || {}).forEach(function (key) { messages = messages.concat(answer.errors[key]); });
          result.textContent = messages.join(" ");
        }
      })
      .catch(function () { result.hidden = true; });
  }
  [dx, proc].forEach(function (input) {
    if (input) {
      input.addEventListener("input", function () { window.clearTimeout(timer); timer = window.setTimeout(regroup, 400); });
    }
  });
  regroup();

  var status = document.getElementById("autosave-status");
  var dirty = false;
  form.addEventListener("input", function () { dirty = true; });
  form.addEventListener("change", function () { dirty = true; });
  form.addEventListener("submit", function () { dirty = false; });
  function autosave() {
    if (!dirty) { return; }
    dirty = false;
    fetch(form.getAttribute("data-autosave-url"), { method: "POST", body: new FormData(form), credentials: "same-origin",
                                                     headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (answer.ok) { form.querySelector("input[name=lock_version]").value = answer.lock_version; }
        if (status) { status.textContent = answer.message || ""; status.className = answer.ok ? "small muted" : "small cross"; }
      })
      .catch(function () { dirty = true; });
  }
  window.setInterval(autosave, 15000);
})();
