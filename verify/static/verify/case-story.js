// The case page's story map: the claimed place, every GPS reading, and the distance between them.
(function () {
  "use strict";
  var FAILED_TILES_BEFORE_GIVING_UP = 3;
  var CLAIMED_STYLE = { radius: 10, color: "#991b1b", weight: 3, fillColor: "#ef4444", fillOpacity: 0.85, className: "vd-story-claimed" };
  var LINE_STYLE = { color: "#1d4ed8", weight: 2, dashArray: "6 5", className: "vd-story-line" };

  function readPoints(box) {
    var source = document.getElementById(box.dataset.pointsId);
    if (!source) return [];
    return JSON.parse(source.textContent).filter(function (point) { return point.drawable; });
  }

  // Leaflet puts string content in as HTML; file names come from outside, so they go in as text.
  function asText(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  function km(value) {
    return value.toLocaleString("en-GB", { minimumFractionDigits: 1, maximumFractionDigits: 1 }) + " km";
  }

  // Offline or blocked tiles: drop the map; the table beside it keeps every point and distance.
  function giveUp(map, box) {
    map.remove();
    // Leaflet leaves its own classes and tab stop on the box; a plain note needs neither.
    box.className = "vd-story-map vd-map-offline";
    box.removeAttribute("tabindex");
    box.textContent = "Map tiles unavailable — the points and distances are in the table below.";
  }

  function drawStoryMap(box) {
    var points = readPoints(box);
    if (!window.L || !box.dataset.tileUrl || !points.length) return;
    box.textContent = "";
    box.classList.add("vd-map-drawn");
    var map = L.map(box, { scrollWheelZoom: false });
    var failed = 0;
    var tiles = L.tileLayer(box.dataset.tileUrl, { maxZoom: 18, attribution: "© OpenStreetMap contributors" });
    tiles.on("tileerror", function () {
      failed += 1;
      if (failed === FAILED_TILES_BEFORE_GIVING_UP) giveUp(map, box);
    });
    tiles.addTo(map);

    var claimed = points.filter(function (point) { return point.claimed; })[0];
    var bounds = L.latLngBounds([]);
    points.forEach(function (point) {
      var at = L.latLng(point.lat, point.lon);
      bounds.extend(at);
      if (point.claimed) {
        L.circleMarker(at, CLAIMED_STYLE).addTo(map)
          .bindTooltip(asText("Claimed: " + point.label), { permanent: true, direction: "top", offset: [0, -10], className: "vd-story-claimed-label" });
        return;
      }
      L.marker(at, { title: point.label, alt: "GPS in " + point.label }).addTo(map).bindPopup(asText(point.label));
      if (claimed && point.distance_km !== null) {
        L.polyline([[claimed.lat, claimed.lon], at], LINE_STYLE).addTo(map)
          .bindTooltip(asText(km(point.distance_km)), { permanent: true, direction: "center", className: "vd-story-km" });
      }
    });
    map.fitBounds(bounds, { padding: [36, 36], maxZoom: 12 });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".vd-story-map").forEach(drawStoryMap);
  });
  // The media panel re-fetches the story while files are read (media-panel.js).
  document.addEventListener("vd:story-replaced", function (event) {
    event.detail.querySelectorAll(".vd-story-map").forEach(drawStoryMap);
  });
})();
