// The permit application: fill the place's latitude and longitude from the phone's position (a
// button; the CSP allows no inline script), or from a tap on the site plan (web/_apply_plan.html:
// the chosen site's area fences; the tapped area is chosen too). The inputs stay editable by hand.
(function () {
  "use strict";

  function locate(button) {
    var status = document.getElementById(button.dataset.status);
    var lat = document.getElementById(button.dataset.lat);
    var lon = document.getElementById(button.dataset.lon);
    function say(key) {
      if (status) {
        status.textContent = status.dataset[key] || "";
      }
    }
    if (!navigator.geolocation || !lat || !lon) {
      say("msgFail");
      return;
    }
    say("msgWait");
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        lat.value = pos.coords.latitude.toFixed(6);
        lon.value = pos.coords.longitude.toFixed(6);
        lat.dispatchEvent(new Event("change", { bubbles: true }));
        say("msgDone");
      },
      function () {
        say("msgFail");
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-sw-locate]");
    if (button) {
      locate(button);
    }
  });

  // ---- the site plan -------------------------------------------------------------------------
  var plans = document.getElementById("apply-plans");

  function byId(key) {
    return plans ? document.getElementById(plans.dataset[key]) : null;
  }

  function shown() {
    var site = byId("siteSelect");
    var current = null;
    plans.querySelectorAll("[data-site]").forEach(function (box) {
      var on = site && box.dataset.site === site.value;
      box.hidden = !on;
      if (on) {
        current = box.querySelector("svg[data-sw-plan]");
      }
    });
    return current;
  }

  function mark() {
    var svg = shown();
    if (!svg) {
      return;
    }
    var marker = svg.querySelector("[data-sw-marker]");
    var lat = parseFloat(byId("lat").value);
    var lon = parseFloat(byId("lon").value);
    if (isNaN(lat) || isNaN(lon)) {
      marker.setAttribute("visibility", "hidden");
      return;
    }
    var d = svg.dataset;
    var x = (lon - parseFloat(d.minLon)) * parseFloat(d.cos) * parseFloat(d.scale);
    var y = (parseFloat(d.maxLat) - lat) * parseFloat(d.scale);
    marker.setAttribute("cx", x.toFixed(1));
    marker.setAttribute("cy", y.toFixed(1));
    marker.setAttribute("visibility", "visible");
    var area = byId("areaSelect");
    svg.querySelectorAll("[data-area]").forEach(function (g) {
      g.classList.toggle("sw-chosen", !!area && g.dataset.area === area.value);
    });
  }

  function tap(svg, event) {
    var ctm = svg.getScreenCTM();
    if (!ctm) {
      return;
    }
    var p = new DOMPoint(event.clientX, event.clientY).matrixTransform(ctm.inverse());
    var d = svg.dataset;
    var scale = parseFloat(d.scale);
    var lat = parseFloat(d.maxLat) - p.y / scale;
    var lon = parseFloat(d.minLon) + p.x / (scale * parseFloat(d.cos));
    var latInput = byId("lat");
    var changed = latInput;
    latInput.value = lat.toFixed(6);
    byId("lon").value = lon.toFixed(6);
    var g = event.target.closest("[data-area]");
    var area = byId("areaSelect");
    if (g && area && area.querySelector("option[value='" + g.dataset.area + "']")) {
      area.value = g.dataset.area;
      changed = area;
    }
    mark();
    // One change: the live check reads the whole form.
    changed.dispatchEvent(new Event("change", { bubbles: true }));
  }

  if (plans) {
    document.addEventListener("click", function (event) {
      var svg = event.target.closest("svg[data-sw-plan]");
      if (svg) {
        tap(svg, event);
      }
    });
    document.addEventListener("change", function (event) {
      var d = plans.dataset;
      var ids = [d.siteSelect, d.areaSelect, d.lat, d.lon];
      if (ids.indexOf(event.target.id) >= 0) {
        mark();
      }
    });
    mark();
  }
})();
