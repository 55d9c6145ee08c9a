// Movement between two scoring runs: draw each [data-flow-chart] element from the JSON
// script it names, a heatmap ({kind: "heatmap", x, y, x_name, y_name, data: [{value:
// [x, y, n], url}]}) or a Sankey ({kind: "sankey", nodes: [{name, text}], links:
// [{source, target, value, url}]}). Clicking a cell or a flow opens its customers.
(function () {
  "use strict";

  function heatmap(data) {
    var most = data.data.reduce(function (m, d) { return Math.max(m, d.value[2]); }, 1);
    return {
      tooltip: { position: "top" },
      grid: { left: 130, right: 24, top: 36, bottom: 48 },
      xAxis: { type: "category", data: data.x, name: data.x_name, nameLocation: "middle", nameGap: 28, splitArea: { show: true } },
      // Inverse: the top tier on top; its name ("start") above the axis.
      yAxis: { type: "category", data: data.y, name: data.y_name, nameLocation: "start", inverse: true, splitArea: { show: true } },
      // Colour only: each cell is labelled with its count.
      visualMap: { min: 0, max: most, show: false, inRange: { color: ["#e8eef8", "#2f5d8a"] } },
      series: [{ type: "heatmap", data: data.data, label: { show: true } }]
    };
  }

  function sankey(data) {
    var text = {};
    data.nodes.forEach(function (n) { text[n.name] = n.text; });
    return {
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          if (p.dataType === "edge") return text[p.data.source] + " → " + text[p.data.target] + "：" + p.data.value;
          return text[p.name] + "：" + p.value;
        }
      },
      series: [{
        type: "sankey",
        data: data.nodes,
        links: data.links,
        emphasis: { focus: "adjacency" },
        lineStyle: { color: "gradient", curveness: 0.5 },
        label: { formatter: function (p) { return text[p.name]; } }
      }]
    };
  }

  function draw(element) {
    var source = document.getElementById(element.dataset.flowChart);
    if (!source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    var chart = window.echarts.init(element);
    chart.setOption(data.kind === "sankey" ? sankey(data) : heatmap(data));
    chart.on("click", function (p) {
      if (p.data && p.data.url) window.location.href = p.data.url;
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-flow-chart]").forEach(draw);
  });
})();
