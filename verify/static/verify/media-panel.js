// The case page's media panel: small maps for GPS readings, and live progress while files are read.
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

  // A toggle's key survives a refresh: the file's element id (from its SHA-256) and the toggle's place in it.
  function detailsKey(details) {
    var scope = details.parentElement.closest("[id]");
    var index = Array.prototype.indexOf.call(scope.querySelectorAll("details"), details);
    return scope.id + "/" + index;
  }

  function openDetailsKeys(root) {
    var keys = {};
    root.querySelectorAll("details[open]").forEach(function (details) { keys[detailsKey(details)] = true; });
    return keys;
  }

  function reopenDetails(root, keys) {
    root.querySelectorAll("details").forEach(function (details) {
      if (keys[detailsKey(details)]) details.open = true;
    });
  }

  function poll(container) {
    var panel = container.querySelector("[data-pending]");
    if (!panel || panel.dataset.pending === "0") return;
    window.setTimeout(function () {
      fetch(container.dataset.panelUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          // Replacing the HTML would close the "Raw readings" a reviewer has open.
          var open = openDetailsKeys(container);
          container.innerHTML = html;
          reopenDetails(container, open);
          drawMaps(container, container.dataset.tileUrl);
          poll(container);
        })
        .catch(function () { poll(container); });
    }, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var container = document.getElementById("vd-media");
    if (!container) return;
    drawMaps(container, container.dataset.tileUrl);
    poll(container);
  });
})();
