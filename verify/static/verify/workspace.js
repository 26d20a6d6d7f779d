// The case page as a workspace: each file's details fetched when its card is opened, graphic media shown on a click,
// the checklist and verdict forms opened in the work panel, and a refresh that swaps in only the parts that changed.
(function () {
  "use strict";
  var POLL_MS = 2500;

  function fetchPage(url) {
    return fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); });
  }

  // The container names file 0's details; each card's file id takes its place.
  function detailsUrl(fileId) {
    var template = document.getElementById("vd-media").dataset.detailsUrl;
    return template.replace(/\/0\/details\/$/, "/" + fileId + "/details/");
  }

  // A file's details: fetched the first time its card opens, and again if the card was redrawn while open.
  function loadDetails(details) {
    var body = details.querySelector(".vd-card-body");
    if (!body || details.dataset.loaded === "yes") return;
    details.dataset.loaded = "yes";
    // Read again after a refresh: the sections a reviewer had open (raw readings...) stay open.
    var wasOpen = Array.prototype.map.call(body.querySelectorAll("details"), function (inner) { return inner.open; });
    if (!wasOpen.length) body.textContent = "Loading the file's details…";
    fetchPage(detailsUrl(details.closest("[data-file]").dataset.file))
      .then(function (html) {
        body.innerHTML = html;
        body.querySelectorAll("details").forEach(function (inner, index) { if (wasOpen[index]) inner.open = true; });
        document.dispatchEvent(new CustomEvent("vd:details-loaded", { detail: body }));
      })
      .catch(function () {
        details.dataset.loaded = "";
        body.textContent = "The file's details could not be loaded; close and open it again to retry.";
      });
  }

  function watchCards(root) {
    root.querySelectorAll(".vd-card > details").forEach(function (details) {
      details.addEventListener("toggle", function () { if (details.open) loadDetails(details); });
      if (details.open) loadDetails(details);
    });
  }

  // A link to a file's card (from a flag) opens it.
  function openFromHash() {
    if (!location.hash) return;
    var card = document.getElementById(location.hash.slice(1));
    var details = card && card.querySelector(".vd-card > details");
    if (details) details.open = true;
  }

  // Graphic media stays blurred and grey until the person clicks it; the click shows it and does nothing else.
  function revealOnClick(event) {
    var image = event.target.closest ? event.target.closest("img.vd-sensitive") : null;
    if (!image) return;
    event.preventDefault();
    event.stopPropagation();
    image.classList.remove("vd-sensitive");
    image.classList.add("vd-revealed");
    image.removeAttribute("title");
  }

  // The checklist and verdict forms are the desk's own pages: their form is taken whole into the panel and
  // posts where it came from, so their rules and messages stay theirs.
  function openPanelForm(event) {
    var link = event.target.closest ? event.target.closest("[data-panel-form]") : null;
    if (!link) return;
    var holder = document.querySelector("#vd-work-panel .vd-panel-form");
    if (!holder) return;
    event.preventDefault();
    var url = link.dataset.panelForm;
    holder.textContent = "Loading…";
    fetchPage(url)
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var main = page.querySelector("#content-main");
        var form = main && main.querySelector("form");
        if (!form) return Promise.reject("no form");
        main.querySelectorAll(".vd-claim").forEach(function (claim) { claim.remove(); });
        main.querySelectorAll("form").forEach(function (each) { each.action = url; });
        holder.replaceChildren.apply(holder, Array.prototype.map.call(main.childNodes, function (node) {
          return document.importNode(node, true);
        }));
        holder.scrollIntoView({ block: "start" });
      })
      .catch(function () { window.location.href = url; });
  }

  function swapCard(gallery, id, html) {
    var holder = document.createElement("ul");
    holder.innerHTML = html;
    var fresh = holder.firstElementChild;
    var current = gallery.querySelector('[data-file="' + id + '"]');
    if (current) {
      var wasOpen = current.querySelector(".vd-card > details[open]");
      var oldBody = current.querySelector(".vd-card-body");
      current.replaceWith(fresh);
      if (wasOpen) {
        // The details a reviewer is reading stay open, and are read again: the file's readings changed.
        fresh.querySelector(".vd-card > details").open = true;
        if (oldBody) fresh.querySelector(".vd-card-body").replaceWith(oldBody);
      }
    } else {
      gallery.appendChild(fresh);
    }
    watchCards(fresh);
    if (wasOpen) loadDetails(fresh.querySelector(".vd-card > details"));
  }

  // A big case's timeline and map are drawn when asked for (story_on_demand.html); once shown, they are read
  // again whenever the files' readings change, as the page's own story would be.
  var storyShown = false;

  function loadStory() {
    var section = document.querySelector('[data-live="story"]');
    var holder = section && section.querySelector("[data-story-url]");
    if (!holder) return;
    storyShown = true;
    var button = holder.querySelector(".vd-story-load");
    if (button) {
      button.disabled = true;
      button.textContent = "Loading the timeline and map…";
    }
    fetchPage(holder.dataset.storyUrl)
      .then(function (html) {
        var url = holder.dataset.storyUrl;
        section.innerHTML = html;
        section.firstElementChild.dataset.storyUrl = url;
        document.dispatchEvent(new CustomEvent("vd:story-replaced", { detail: section }));
      })
      .catch(function () {
        if (!button) return;
        button.disabled = false;
        button.textContent = "The timeline could not be loaded; try again";
      });
  }

  function showStoryOnClick(event) {
    if (event.target.closest && event.target.closest(".vd-story-load")) loadStory();
  }

  function apply(container, change) {
    Object.keys(change.sections).forEach(function (name) {
      var section = document.querySelector('[data-live="' + name + '"]');
      if (!section) return;
      section.innerHTML = change.sections[name];
      if (name === "story") document.dispatchEvent(new CustomEvent("vd:story-replaced", { detail: section }));
    });
    if (storyShown && (Object.keys(change.files).length || change.sections.story)) loadStory();
    var gallery = container.querySelector(".vd-gallery");
    Object.keys(change.files).forEach(function (id) { swapCard(gallery, id, change.files[id]); });
    var keep = {};
    change.order.forEach(function (id) { keep[id] = true; });
    gallery.querySelectorAll("[data-file]").forEach(function (card) {
      if (!keep[card.dataset.file]) card.remove();
    });
    if (change.order.length) {
      var empty = container.querySelector(".vd-gallery + .vd-empty");
      if (empty) empty.remove();
    }
    container.dataset.known = change.known;
    container.dataset.pending = String(change.pending);
  }

  function poll(container) {
    if (container.dataset.pending === "0") return;
    window.setTimeout(function () {
      var url = container.dataset.liveUrl + "?known=" + encodeURIComponent(container.dataset.known);
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) {
          if (response.status === 304) return null;
          return response.ok ? response.json() : Promise.reject(response.status);
        })
        .then(function (change) {
          if (change) apply(container, change);
          poll(container);
        })
        .catch(function () { poll(container); });
    }, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.addEventListener("click", revealOnClick, true);
    document.addEventListener("click", openPanelForm);
    document.addEventListener("click", showStoryOnClick);
    var container = document.getElementById("vd-media");
    if (!container) return;
    watchCards(container);
    openFromHash();
    window.addEventListener("hashchange", openFromHash);
    poll(container);
  });
})();
