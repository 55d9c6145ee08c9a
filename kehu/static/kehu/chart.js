// A bar chart (ECharts) of the page's figures: months along the bottom, one series each.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("chart");
    if (!el || !window.echarts) {
      return;
    }
    var data = JSON.parse(document.getElementById("chart-data").textContent);
    var chart = window.echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: {},
      xAxis: { type: "category", data: data.months },
      yAxis: { type: "value" },
      series: data.series.map(function (s) {
        return { name: s.name, type: "bar", data: s.data.map(Number) };
      }),
    });
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
