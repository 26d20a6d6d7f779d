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

  function fetchText(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); });
  }

  // The timeline and places read the same summaries as the panel: both are swapped in the same tick,
  // so that a file never shows its GPS in one and "pending" in the other.
  function replaceStory(html) {
    var story = document.getElementById("vd-story");
    if (!story || html === null) return;
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var fresh = holder.querySelector("#vd-story");
    if (!fresh) return;
    story.replaceWith(fresh);
    document.dispatchEvent(new CustomEvent("vd:story-replaced", { detail: fresh }));
  }

  function poll(container) {
    var panel = container.querySelector("[data-pending]");
    if (!panel || panel.dataset.pending === "0") return;
    window.setTimeout(function () {
      var storyUrl = container.dataset.storyUrl;
      Promise.all([
        fetchText(container.dataset.panelUrl),
        storyUrl ? fetchText(storyUrl) : Promise.resolve(null),
      ])
        .then(function (pages) {
          // Replacing the HTML would close the "Raw readings" a reviewer has open.
          var open = openDetailsKeys(container);
          container.innerHTML = pages[0];
          reopenDetails(container, open);
          drawMaps(container, container.dataset.tileUrl);
          replaceStory(pages[1]);
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
