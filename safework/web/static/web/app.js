// SafeWork web pages: no inline scripts (the CSP allows none); behaviour is htmx attributes plus
// this file. Charts read their data from a json_script element (data, not code).
(function () {
  "use strict";

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
        series: [
          {
            type: "pie",
            radius: ["45%", "75%"],
            label: { formatter: "{b}: {c}" },
            data: rows.map(function (r) {
              return { name: r.label, value: r.count, itemStyle: { color: r.color } };
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
