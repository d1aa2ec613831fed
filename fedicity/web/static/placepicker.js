/* The place picker: a small Leaflet map under a form's latitude and longitude fields. A click
   (or a tap) sets both fields and the pin, dragging the pin moves it, and typing in the fields
   moves the pin. The fields stay the real input: without this script or Leaflet, they are the
   whole picker, and the server checks what they hold. */
(function () {
  "use strict";

  if (!window.L) {
    return;
  }
  var L = window.L;
  var FRANCE = [46.6, 2.4];
  var DEGREES = /^[+-]?[0-9]{1,3}(?:[.,][0-9]{1,20})?$/;

  function degrees(input, bound) {
    var text = input.value.trim();
    if (!DEGREES.test(text)) {
      return null;
    }
    var value = Number(text.replace(",", "."));
    return Math.abs(value) <= bound ? value : null;
  }

  function picker(box) {
    var latitude = box.querySelector("input[name=latitude]");
    var longitude = box.querySelector("input[name=longitude]");
    if (!latitude || !longitude) {
      return;
    }
    var hint = document.createElement("p");
    hint.className = "hint";
    hint.id = "placepicker-hint-" + Math.random().toString(36).slice(2);
    hint.textContent = box.dataset.hint || "";
    var holder = document.createElement("div");
    holder.className = "map picker-map";
    holder.setAttribute("role", "region");
    holder.setAttribute("aria-label", box.dataset.label || "");
    holder.setAttribute("aria-describedby", hint.id);
    /* Under the fields and their error, if any: the map comes last. */
    var after = box.querySelector(".error") || box.querySelector(".coordinates") || longitude;
    after.parentNode.insertBefore(hint, after.nextSibling);
    hint.parentNode.insertBefore(holder, hint.nextSibling);

    var map = L.map(holder, { zoomControl: false, attributionControl: false });
    L.control.zoom({
      zoomInTitle: box.dataset.zoomIn,
      zoomOutTitle: box.dataset.zoomOut
    }).addTo(map);
    var Credit = L.Control.extend({
      options: { position: "bottomright" },
      onAdd: function () {
        var div = L.DomUtil.create("div", "leaflet-control-attribution leaflet-control");
        var link = document.createElement("a");
        link.href = "https://www.openstreetmap.org/copyright";
        link.textContent = box.dataset.attribution || "© OpenStreetMap";
        div.appendChild(link);
        return div;
      }
    });
    new Credit().addTo(map);
    /* OSM's tile policy asks for a Referer; the tiles alone send our origin. */
    L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
      maxZoom: 19,
      referrerPolicy: "strict-origin-when-cross-origin"
    }).addTo(map);

    var marker = null;
    function place(latLng, pan) {
      if (marker) {
        marker.setLatLng(latLng);
      } else {
        marker = L.marker(latLng, {
          icon: L.divIcon({ className: "map-pin map-pin-picked", iconSize: [26, 26] }),
          draggable: true,
          keyboard: false
        }).addTo(map);
        marker.on("dragend", function () {
          write(marker.getLatLng());
        });
      }
      if (pan) {
        map.panTo(latLng);
      }
    }
    function write(latLng) {
      var wrapped = latLng.wrap();
      latitude.value = wrapped.lat.toFixed(6);
      longitude.value = wrapped.lng.toFixed(6);
      place(wrapped, false);
    }
    function read() {
      var lat = degrees(latitude, 90);
      var lon = degrees(longitude, 180);
      if (lat !== null && lon !== null) {
        place([lat, lon], true);
      }
    }

    var lat = degrees(latitude, 90);
    var lon = degrees(longitude, 180);
    var centre = (box.dataset.center || "").split(",").map(Number);
    if (lat !== null && lon !== null) {
      map.setView([lat, lon], 16);
      place([lat, lon], false);
    } else if (centre.length === 2 && centre.every(isFinite)) {
      map.setView(centre, 13);
    } else {
      map.setView(FRANCE, 5);
    }
    map.on("click", function (event) {
      write(event.latlng);
    });
    latitude.addEventListener("input", read);
    longitude.addEventListener("input", read);
    holder.dataset.ready = "1";
  }

  /* After the page's own load: tiles then never hold up its load event. */
  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-placepicker]"), picker);
  }

  if (document.readyState === "complete") {
    start();
  } else {
    window.addEventListener("load", start);
  }
})();
