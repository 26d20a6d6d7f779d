// The case page's media: a small map for a file's GPS reading, drawn when its details are opened.
(function () {
  "use strict";
  var POLL_MS = 2500;

  function drawMaps(root, tileUrl) {
    if (!window.L || !tileUrl) return;
    root.querySelectorAll(".vd-map:not(.vd-map-drawn)").forEach(function (box) {
      var lat = parseFloat(box.dataset.lat), lon = parseFloat(box.dataset.lon);
      if (isNaN(lat) || isNaN(lon)) return;
      box.classList.add("vd-map-drawn");
      var map = L.map(box, { scrollWheelZoom: false }).setView([lat, lon], 12);
      var failed = 0;
      var tiles = L.tileLayer(tileUrl, { maxZoom: 18, attribution: "© OpenStreetMap contributors" });
      // Offline or blocked tiles: drop the map; the coordinates stay in the table.
      tiles.on("tileerror", function () {
        failed += 1;
        if (failed === 3) {
          map.remove();
          box.className = "vd-map vd-map-offline";
          box.textContent = "Map tiles unavailable — coordinates: " + lat.toFixed(6) + ", " + lon.toFixed(6);
        }
      });
      tiles.addTo(map);
      // A file name is text, never markup.
      var label = document.createElement("span");
      label.textContent = box.dataset.label || "";
      L.marker([lat, lon]).addTo(map).bindPopup(label);
    });
  }

  document.addEventListener("vd:details-loaded", function (event) {
    var container = document.getElementById("vd-media");
    drawMaps(event.detail, container ? container.dataset.tileUrl : "");
  });
})();
