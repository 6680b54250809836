// The permit application: fill the place's latitude and longitude from the phone's position (a
// button; the CSP allows no inline script). The inputs stay editable by hand.
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
})();
