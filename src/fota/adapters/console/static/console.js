// Live regions: pages with data-live-url poll it and replace each [data-live-region] with the server's fragment.
(function () {
  "use strict";
  var url = document.body.getAttribute("data-live-url");
  if (!url) return;
  var timer = null;
  async function refresh() {
    if (document.hidden) return;
    try {
      var response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.status === 401) { window.location.reload(); return; }
      if (!response.ok) return;
      var data = await response.json();
      Object.keys(data.regions || {}).forEach(function (name) {
        var element = document.querySelector('[data-live-region="' + name + '"]');
        if (element && element.innerHTML !== data.regions[name]) element.innerHTML = data.regions[name];
      });
      // A finished campaign changes no more: one last refresh is enough.
      if (data.final && timer !== null) { clearInterval(timer); timer = null; }
    } catch (error) {
      // The server may be restarting: the next poll tries again.
    }
  }
  timer = setInterval(refresh, 2500);
})();
