// SafeWork web pages: no inline scripts (the CSP allows none); behaviour is htmx attributes plus
// this file. Charts read their data from a json_script element (data, not code).
(function () {
  "use strict";

  // Bootstrap's danger / warning / success colours, as the status badges use them.
  var COLOURS = { red: "#dc3545", yellow: "#ffc107", green: "#198754" };

  function pie(rows) {
    return {
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
    };
  }

  // Room for the category labels on the left, fixed: measuring them is unreliable while the
  // Chinese font is still arriving (a long name is cut with an ellipsis instead of overflowing).
  var LABEL_ROOM = 104;
  var LABEL = { width: 88, overflow: "truncate" };

  // Horizontal stacked bars: one bar per label, one stack part per series (colours or statuses).
  function stacked(data) {
    return {
      animation: false,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, type: "scroll" },
      grid: { left: LABEL_ROOM, right: 16, top: 32, bottom: 24 },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: data.labels, inverse: true, axisLabel: LABEL },
      series: data.series.map(function (s) {
        var out = { type: "bar", stack: "all", name: s.name, data: s.data };
        if (s.colour) {
          out.itemStyle = { color: COLOURS[s.colour] };
        }
        return out;
      }),
    };
  }

  // The risk heat map: work type × level; the dot's size is the permits active today, its
  // colour the alarms of the last 7 days; a click opens the ledger filtered to that cell.
  function heat(data) {
    var maxActive = Math.max.apply(null, [1].concat(data.cells.map(function (c) {
      return c.active;
    })));
    var maxAnomalies = Math.max.apply(null, [1].concat(data.cells.map(function (c) {
      return c.anomalies;
    })));
    return {
      animation: false,
      tooltip: {
        formatter: function (p) {
          var c = p.data.cell;
          return c.name + "<br>" + data.legend.active + ": " + c.active + "<br>" +
            data.legend.anomalies + ": " + c.anomalies;
        },
      },
      grid: { left: LABEL_ROOM, right: 16, top: 16, bottom: 96 },
      xAxis: {
        type: "category",
        data: data.levels,
        splitLine: { show: true },
        axisLabel: { interval: 0, rotate: 45 },
      },
      yAxis: {
        type: "category",
        data: data.types,
        inverse: true,
        splitLine: { show: true },
        axisLabel: LABEL,
      },
      visualMap: {
        type: "continuous",
        dimension: 3,
        min: 0,
        max: maxAnomalies,
        orient: "horizontal",
        left: "center",
        bottom: 0,
        itemHeight: 120,
        text: [data.legend.anomalies, "0"],
        inRange: { color: [COLOURS.green, COLOURS.yellow, COLOURS.red] },
      },
      series: [
        {
          type: "scatter",
          cursor: "pointer",
          symbolSize: function (value) {
            return 10 + 30 * (value[2] / maxActive);
          },
          label: { show: true, formatter: function (p) { return p.data.cell.active; } },
          data: data.cells.map(function (c) {
            return { value: [c.x, c.y, c.active, c.anomalies], cell: c };
          }),
        },
      ],
    };
  }

  function trend(data) {
    return {
      animation: false,
      tooltip: { trigger: "axis" },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.labels },
      yAxis: { type: "value", name: data.name, nameTextStyle: { align: "left" } },
      series: [{ type: "line", name: data.name, data: data.median, connectNulls: false }],
    };
  }

  var KINDS = { pie: pie, colours: stacked, stacked: stacked, heat: heat, trend: trend };
  var drawn = [];

  // The Chinese font arrives in pieces (unicode ranges) as glyphs are first used, some only once
  // a chart has measured its labels with a fallback: lay the charts out again when a piece lands.
  if (document.fonts && document.fonts.addEventListener) {
    document.fonts.addEventListener("loadingdone", function () {
      drawn.forEach(function (d) {
        d.chart.setOption(d.option, true);
      });
    });
  }

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
      var data = JSON.parse(source.textContent);
      var chart = echarts.init(el, null, { renderer: "svg" });
      var option = (KINDS[el.dataset.swKind] || pie)(data);
      // The page's font (Noto Sans SC from the static files): SVG text would otherwise fall
      // back to a system font, which may have no Chinese glyphs.
      option.textStyle = { fontFamily: getComputedStyle(document.body).fontFamily };
      chart.setOption(option);
      drawn.push({ chart: chart, option: option });
      if (el.dataset.swKind === "heat") {
        chart.on("click", function (p) {
          if (p.data && p.data.cell && p.data.cell.url.charAt(0) === "/") {
            window.location.assign(p.data.cell.url);
          }
        });
      }
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
