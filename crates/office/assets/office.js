// Sentra head office: draws the charts from their data attributes (no inline
// script, so the Content-Security-Policy stays script-src 'self') and wires
// the conflict queue's "select all".
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var rupiah = new Intl.NumberFormat("id-ID", { style: "currency", currency: "IDR", maximumFractionDigits: 0 });
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    if (typeof Chart === "undefined") return;
    var d = JSON.parse(canvas.getAttribute("data-chart"));
    new Chart(canvas, {
      type: "bar",
      data: { labels: d.labels, datasets: [{ label: d.label, data: d.values, backgroundColor: "#1f6f8b" }] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: true },
          tooltip: { callbacks: { label: function (c) { return rupiah.format(c.parsed.y); } } }
        },
        scales: { y: { beginAtZero: true, ticks: { callback: function (v) { return rupiah.format(v); } } } }
      }
    });
  });
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("#conflicts input[name=id]").forEach(function (b) { b.checked = all.checked; });
    });
  }
});
