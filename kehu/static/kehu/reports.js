// Report pages: draw each [data-chart] element's chart from the JSON script it names
// ({labels, series: [{name, style, right, stack, data}]}), and switch the range
// preset to "custom" when a date is typed in.
(function () {
  "use strict";

  function option(data) {
    var right = data.series.some(function (s) { return s.right; });
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 64, right: right ? 64 : 24, top: 36, bottom: 56 },
      xAxis: { type: "category", data: data.labels, axisLabel: { hideOverlap: true } },
      yAxis: right ? [{ type: "value" }, { type: "value", splitLine: { show: false } }] : [{ type: "value" }],
      dataZoom: data.labels.length > 24 ? [{ type: "slider", bottom: 8 }] : [],
      series: data.series.map(function (s) {
        return {
          name: s.name,
          type: s.style,
          data: s.data,
          yAxisIndex: s.right ? 1 : 0,
          stack: s.stack || undefined,
          smooth: s.style === "line"
        };
      })
    };
  }

  function draw(element) {
    var source = document.getElementById(element.dataset.chart);
    if (!source || !window.echarts) return;
    var chart = window.echarts.init(element);
    chart.setOption(option(JSON.parse(source.textContent)));
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function customOnDates(form) {
    var preset = form.querySelector("[name=preset]");
    if (!preset) return;
    form.querySelectorAll("input[type=date]").forEach(function (input) {
      input.addEventListener("change", function () { preset.value = "custom"; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-chart]").forEach(draw);
    document.querySelectorAll("form.report-filters").forEach(customOnDates);
  });
})();
