// Signing on the permit pages (no inline scripts: the CSP allows none).
// - canvas[data-sw-pad]: a signature drawn with a finger or the mouse, sent as a PNG data URL in
//   the form's input[data-sw=image] when the form is submitted.
// - form[data-sw-position]: the phone's position (navigator.geolocation) is asked for when the
//   form is submitted and sent in its input[data-sw=lat|lon|accuracy]; without it the form goes
//   anyway and the server says why it refuses (e.g. the on-site rule).
(function () {
  "use strict";

  function setUpPad(canvas) {
    var ctx = canvas.getContext("2d");
    var drawing = false;
    canvas.dataset.swDrawn = "";
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    ctx.strokeStyle = "#000";

    function point(event) {
      var box = canvas.getBoundingClientRect();
      return {
        x: ((event.clientX - box.left) * canvas.width) / box.width,
        y: ((event.clientY - box.top) * canvas.height) / box.height,
      };
    }
    canvas.addEventListener("pointerdown", function (event) {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      var p = point(event);
      ctx.beginPath();
      ctx.moveTo(p.x, p.y);
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) {
        return;
      }
      var p = point(event);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
      canvas.dataset.swDrawn = "1";
      event.preventDefault();
    });
    function stop() {
      drawing = false;
    }
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);

    var form = canvas.closest("form");
    var clear = form && form.querySelector("[data-sw-clear]");
    if (clear) {
      clear.addEventListener("click", function () {
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        canvas.dataset.swDrawn = "";
      });
    }
  }

  function fill(form, name, value) {
    var input = form.querySelector("input[data-sw=" + name + "]");
    if (input) {
      input.value = value;
    }
  }

  function status(form, key) {
    var el = form.querySelector("[data-sw-position-status]");
    if (el && form.dataset[key]) {
      el.textContent = form.dataset[key];
    }
  }

  function onSubmit(event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) {
      return;
    }
    var pad = form.querySelector("canvas[data-sw-pad]");
    if (pad && pad.dataset.swDrawn) {
      fill(form, "image", pad.toDataURL("image/png"));
    }
    if (!form.hasAttribute("data-sw-position") || form.dataset.swAsked) {
      return;
    }
    if (!navigator.geolocation) {
      return;
    }
    event.preventDefault();
    form.dataset.swAsked = "1";
    var submitter = event.submitter || null;
    status(form, "swLocating");
    function send() {
      if (submitter) {
        form.requestSubmit(submitter);
      } else {
        form.requestSubmit();
      }
      delete form.dataset.swAsked;
    }
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        fill(form, "lat", pos.coords.latitude);
        fill(form, "lon", pos.coords.longitude);
        fill(form, "accuracy", pos.coords.accuracy);
        status(form, "swLocated");
        send();
      },
      function () {
        status(form, "swNoPosition");
        send();
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("canvas[data-sw-pad]").forEach(setUpPad);
  });
  document.addEventListener("submit", onSubmit);
})();
