/* The map page's markers, drawn with Leaflet (served from our static files) over OpenStreetMap
   tiles. A progressive enhancement: without this script, Leaflet or tiles, the list under the
   map says the same. Names come from other people: they only ever become text (textContent),
   and links only http(s) or same-site addresses. */
(function () {
  "use strict";

  var box = document.getElementById("map");
  if (!box || !window.L || !window.fetch) {
    return;
  }
  var L = window.L;
  var FRANCE = [46.6, 2.4];

  /* The address of a link, when it is one a page may lead to (the server checked it too). */
  function safeHref(url) {
    return typeof url === "string" && /^(https?:\/\/|\/(?!\/))/i.test(url) ? url : null;
  }

  /* Tiles from OpenStreetMap. Our pages send no Referer to other sites; OSM's tile policy asks
     for one, so the tiles alone send our origin (never the page's path). */
  function addTiles(map) {
    L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
      maxZoom: 19,
      referrerPolicy: "strict-origin-when-cross-origin"
    }).addTo(map);
  }

  /* "© OpenStreetMap contributors", built as elements: the attribution control would take
     HTML. */
  function addCredit(map, text) {
    var Credit = L.Control.extend({
      options: { position: "bottomright" },
      onAdd: function () {
        var div = L.DomUtil.create("div", "leaflet-control-attribution leaflet-control");
        var link = document.createElement("a");
        link.href = "https://www.openstreetmap.org/copyright";
        link.textContent = text;
        div.appendChild(link);
        return div;
      }
    });
    new Credit().addTo(map);
  }

  /* Translated titles for Leaflet's own buttons. */
  function localise(map, labels) {
    L.control.zoom({ zoomInTitle: labels.zoomIn, zoomOutTitle: labels.zoomOut }).addTo(map);
    map.on("popupopen", function (event) {
      var close = event.popup.getElement().querySelector(".leaflet-popup-close-button");
      if (close) {
        close.setAttribute("aria-label", labels.close);
        close.title = labels.close;
      }
    });
  }

  function popupContent(group) {
    var list = document.createElement("ul");
    list.className = "map-popup";
    group.forEach(function (properties) {
      var item = document.createElement("li");
      var kind = document.createElement("span");
      kind.className = "map-popup-kind";
      kind.textContent = String(properties.kindLabel || "") +
        (properties.placeKindLabel ? " · " + String(properties.placeKindLabel) : "");
      item.appendChild(kind);
      var href = safeHref(properties.url);
      var name = document.createElement(href ? "a" : "strong");
      name.className = "map-popup-name";
      name.textContent = String(properties.name || "");
      if (href) {
        name.href = href;
      }
      item.appendChild(name);
      if (properties.when) {
        var when = document.createElement("span");
        when.className = "map-popup-when";
        when.textContent = String(properties.when);
        item.appendChild(when);
      }
      if (properties.approximate === true) {
        var approximate = document.createElement("span");
        approximate.className = "map-popup-when map-popup-approximate";
        approximate.textContent = box.dataset.approximate || "";
        item.appendChild(approximate);
      }
      list.appendChild(item);
    });
    return list;
  }

  /* One pin per point: what shares a point (a commune's centre) shares a pin and its popup. */
  function groups(features) {
    var byPoint = {};
    var order = [];
    features.forEach(function (feature) {
      var geometry = feature && feature.geometry;
      var where = geometry && geometry.type === "Point" ? geometry.coordinates : null;
      if (!where || typeof where[0] !== "number" || typeof where[1] !== "number") {
        return;
      }
      var key = where[1].toFixed(6) + "," + where[0].toFixed(6);
      if (!byPoint[key]) {
        byPoint[key] = { latLng: [where[1], where[0]], items: [] };
        order.push(key);
      }
      byPoint[key].items.push(feature.properties || {});
    });
    return order.map(function (key) { return byPoint[key]; });
  }

  function pin(group) {
    var kinds = group.items.map(function (p) { return p.kind; });
    var same = kinds.every(function (kind) { return kind === kinds[0]; });
    var kind = same && /^[a-z]+$/.test(kinds[0] || "") ? kinds[0] : "many";
    var count = document.createElement("span");
    count.textContent = group.items.length > 1 ? String(group.items.length) : "";
    var name = group.items.map(function (p) { return String(p.name || ""); }).join(" · ");
    var marker = L.marker(group.latLng, {
      icon: L.divIcon({
        className: "map-pin map-pin-" + kind,
        html: count,
        iconSize: [26, 26],
        iconAnchor: [13, 13],
        popupAnchor: [0, -12]
      }),
      title: name,
      keyboard: true
    });
    marker.bindPopup(popupContent(group.items), { maxWidth: 280, maxHeight: 240 });
    marker.on("add", function () {
      var element = marker.getElement();
      if (element) {
        element.setAttribute("aria-label", name);
      }
    });
    return marker;
  }

  /* The kinds whose box is checked in the filters (every kind when there are none). */
  function shownKinds() {
    var boxes = document.querySelectorAll("#map-filters input[name=kind]");
    if (!boxes.length) {
      return null;
    }
    var kinds = {};
    Array.prototype.forEach.call(boxes, function (input) {
      kinds[input.value] = input.checked;
    });
    return kinds;
  }

  /* Draw the pins of the kinds shown (all when `kinds` is null); how many were drawn. */
  function showKinds(layer, features, kinds) {
    layer.clearLayers();
    var shown = features.filter(function (feature) {
      var kind = feature && feature.properties && feature.properties.kind;
      return kinds === null || kinds[kind] === true;
    });
    var pins = groups(shown).map(pin);
    pins.forEach(function (marker) { layer.addLayer(marker); });
    return pins.length;
  }

  /* The legend becomes the filters once the map is drawn. */
  function useFilters(redraw) {
    var filters = document.getElementById("map-filters");
    var legend = document.getElementById("map-legend");
    if (!filters) {
      return;
    }
    filters.hidden = false;
    if (legend) {
      legend.hidden = true;
    }
    filters.addEventListener("change", function () {
      redraw(shownKinds());
    });
  }

  function unavailable(map) {
    map.remove();
    box.hidden = false;
    box.classList.add("map-unavailable");
    box.textContent = box.dataset.unavailable || "";
  }

  /* After the page's own load: tiles then never hold up its load event. */
  function start() {
    box.hidden = false;
    var map = L.map(box, { zoomControl: false, attributionControl: false });
    localise(map, {
      zoomIn: box.dataset.zoomIn,
      zoomOut: box.dataset.zoomOut,
      close: box.dataset.close
    });
    addCredit(map, box.dataset.attribution || "© OpenStreetMap");
    addTiles(map);

    fetch(box.dataset.features, {
      headers: { Accept: "application/geo+json" },
      credentials: "same-origin"
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (collection) {
        var features = Array.isArray(collection.features) ? collection.features : [];
        var found = groups(features);
        var layer = L.layerGroup().addTo(map);
        var count = showKinds(layer, features, shownKinds());
        var centre = (box.dataset.center || "").split(",").map(Number);
        if (found.length) {
          var bounds = L.latLngBounds(found.map(function (g) { return g.latLng; }));
          map.fitBounds(bounds, { padding: [30, 30], maxZoom: 15, animate: false });
        } else if (centre.length === 2 && centre.every(isFinite)) {
          map.setView(centre, 13);
        } else {
          map.setView(FRANCE, 5);
        }
        box.dataset.ready = String(count);
        useFilters(function (kinds) {
          box.dataset.ready = String(showKinds(layer, features, kinds));
        });
      })
      .catch(function () {
        unavailable(map);
      });
  }

  if (document.readyState === "complete") {
    start();
  } else {
    window.addEventListener("load", start);
  }
})();
