(function () {
  "use strict";
  var units = Array.prototype.slice.call(document.querySelectorAll("details.unit"));
  var query = document.getElementById("q");
  var state = document.getElementById("state");
  var shown = document.getElementById("shown");
  var haystack = null;
  var timer = null;

  function apply() {
    var q = query.value.trim().toLowerCase();
    var s = state.value;
    if (q && haystack === null) {
      haystack = units.map(function (u) { return u.textContent.toLowerCase(); });
    }
    var count = 0;
    units.forEach(function (u, i) {
      var ok = (!s || u.getAttribute("data-state") === s) && (!q || haystack[i].indexOf(q) !== -1);
      u.classList.toggle("hidden", !ok);
      if (ok) { count += 1; }
    });
    shown.textContent = "showing " + count + " of " + units.length;
  }

  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id ? document.getElementById(id) : null;
    if (el && el.tagName === "DETAILS") {
      el.classList.remove("hidden");
      el.open = true;
      el.scrollIntoView();
    }
  }

  query.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, 150);
  });
  state.addEventListener("change", apply);
  window.addEventListener("hashchange", openTarget);
  apply();
  openTarget();
})();
