// SafeWork web pages: no inline scripts (the CSP allows none); behaviour is htmx attributes plus
// this file. Charts read their data from a json_script element (data, not code).
(function () {
  "use strict";

  // Bootstrap's danger / warning / success colours, as the status badges use them.
  var COLOURS = { red: "#dc3545", yellow: "#ffc107", green: "#198754" };

  function drawCharts(root) {
    if (typeof echarts === "undefined") {
      return;
    }
    root.querySelectorAll("[data-sw-chart]").forEach(function (el) {
      var source = document.getElementById(el.dataset.swChart);
      if (!source || el.dataset.swDrawn) {
        return;
      }
      el.dataset.swDrawn = "1";
      var rows = JSON.parse(source.textContent);
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption({
        animation: false,
        tooltip: { trigger: "item" },
        legend: { bottom: 0 },
        series: [
          {
            type: "pie",
            radius: ["40%", "70%"],
            center: ["50%", "45%"],
            label: { position: "inside", formatter: "{c}" },
            data: rows.map(function (r) {
              return { name: r.label, value: r.count, itemStyle: { color: COLOURS[r.colour] } };
            }),
          },
        ],
      });
      window.addEventListener("resize", function () {
        chart.resize();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    drawCharts(event.target);
  });
})();
