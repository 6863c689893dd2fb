(function () {
  if (window.__newsdeskCites) { return; }
  window.__newsdeskCites = true;
  document.addEventListener("click", function (event) {
    var marker = event.target && event.target.closest ? event.target.closest("a.nd-cite") : null;
    if (!marker) { return; }
    var id = (marker.getAttribute("href") || "").replace(/^#/, "");
    var source = id ? document.getElementById(id) : null;
    if (!source) { return; }
    event.preventDefault();
    event.stopPropagation();
    source.open = true;
    source.scrollIntoView({ block: "nearest" });
    source.classList.remove("nd-flash");
    void source.offsetWidth;
    source.classList.add("nd-flash");
  }, true);
})();
