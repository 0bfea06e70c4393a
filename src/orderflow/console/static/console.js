// The console's only script (the Content-Security-Policy allows no other): the CSRF header on every htmx
// request, and live updates from server-sent events that never refresh a region while the user types in it.
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (event) {
    var token = document.body.dataset.csrf;
    if (token) { event.detail.headers["X-CSRF-Token"] = token; }
  });

  function typing(region) {
    var active = document.activeElement;
    if (active && region.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) { return true; }
    return Array.prototype.some.call(region.querySelectorAll("textarea, input[type=text], input:not([type])"),
      function (field) { return field.value !== field.defaultValue; });
  }

  var source = null;
  var pending = false;

  function refresh() {
    var region = document.getElementById("live");
    if (!region) { return; }
    if (typing(region)) { pending = true; return; }
    pending = false;
    htmx.ajax("GET", region.dataset.liveUrl, {target: "#live", select: "#live", swap: "outerHTML"});
  }

  function connect() {
    var region = document.getElementById("live");
    if (!region || !region.dataset.live || source) { return; }
    source = new EventSource(region.dataset.live);
    source.addEventListener("changed", refresh);
  }

  document.addEventListener("focusout", function () { if (pending) { setTimeout(refresh, 0); } });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "outcome") { return; }
    // An applied action's form is done with: empty it, so that the live refresh no longer waits for it.
    var form = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (form && form.reset && event.detail.target.querySelector(".applied")) { form.reset(); }
    setTimeout(refresh, 0);
  });
  document.addEventListener("DOMContentLoaded", connect);
  if (document.readyState !== "loading") { connect(); }
})();
