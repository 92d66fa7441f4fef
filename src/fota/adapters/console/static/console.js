// Live regions: pages with data-live-url poll it and replace each [data-live-region] with the server's fragment.
(function () {
  "use strict";
  var url = document.body.getAttribute("data-live-url");
  if (!url) return;
  var timer = null;
  var received = {};
  async function refresh() {
    if (document.hidden) return;
    try {
      var response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.status === 401) { window.location.reload(); return; }
      if (!response.ok) return;
      var data = await response.json();
      Object.keys(data.regions || {}).forEach(function (name) {
        var element = document.querySelector('[data-live-region="' + name + '"]');
        if (!element) return;
        // A field being typed in (a rollout call's reason) is not swept away; the next poll brings the region.
        var focused = document.activeElement;
        if (focused && focused.matches("input, textarea, select") && element.contains(focused)) return;
        // Compared with the fragment last received, not innerHTML, which the browser re-serialises: a region
        // whose content did not change keeps its form fields as the user left them.
        var html = data.regions[name];
        var before = name in received ? received[name] : element.innerHTML;
        received[name] = html;
        if (before !== html) element.innerHTML = html;
      });
      // A finished campaign changes no more: one last refresh is enough.
      if (data.final && timer !== null) { clearInterval(timer); timer = null; }
    } catch (error) {
      // The server may be restarting: the next poll tries again.
    }
  }
  timer = setInterval(refresh, 2500);
})();
