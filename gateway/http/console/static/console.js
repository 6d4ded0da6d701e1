// smsgw console: keeps the overview live (numbers, chart, binds, connectors) from
// /console/data/overview every 2 s. The page works without it; it only refreshes it.
"use strict";
(function () {
  const chartBox = document.getElementById("chart");
  const errorBox = document.getElementById("live-error");
  if (!document.getElementById("binds")) return;  // not the overview
  let chart = null;

  function fmt(n, digits) {
    return Number(n).toLocaleString("en-US", {minimumFractionDigits: digits,
                                              maximumFractionDigits: digits});
  }
  function setText(id, text) {
    const el = document.getElementById(id);
    if (el) el.textContent = text;
  }
  function fillTable(id, rows) {
    const wrap = document.getElementById(id);
    const table = wrap.querySelector("table");
    const body = table.querySelector("tbody");
    body.replaceChildren(...rows.map((row) => {
      const tr = document.createElement("tr");
      for (const cell of row) {
        const td = document.createElement("td");
        td.textContent = String(cell);
        tr.appendChild(td);
      }
      return tr;
    }));
    table.classList.toggle("hidden", rows.length === 0);
    wrap.querySelector("p.empty").hidden = rows.length !== 0;
  }
  function drawChart(series) {
    if (!chartBox || typeof uPlot === "undefined") return;
    const data = [series[0], series[1], series[2]];
    if (chart === null) {
      chart = new uPlot({
        width: chartBox.clientWidth, height: 260,
        // the last 10 minutes, however few samples there are yet
        scales: {x: {time: true, range: (u, min, max) => [max - 600, max]},
                 y: {range: (u, min, max) => [0, Math.max(max * 1.15, 1)]}},
        // UTC hours and minutes, like every time in the console
        axes: [{space: 70, values: (u, splits) => splits.map(
                  (v) => new Date(v * 1000).toISOString().substring(11, 16))},
               {label: "messages / s", size: 60}],
        series: [{}, {label: "submits/s", stroke: "#2456d6", width: 2,
                      fill: "rgba(36,86,214,0.08)"},
                 {label: "receipts/s", stroke: "#137a3f", width: 2}],
      }, data, chartBox);
      window.addEventListener("resize", () => chart.setSize({width: chartBox.clientWidth,
                                                             height: 260}));
    } else {
      chart.setData(data);
    }
  }
  function show(data) {
    setText("rate-submits", fmt(data.rate.submits, 1));
    setText("rate-receipts", fmt(data.rate.receipts, 1));
    setText("binds-count", String(data.binds.length));
    const d = data.depths;
    setText("depth-unfinished", fmt(d.unfinished || 0, 0));
    setText("depth-receipts", fmt(d.receipts_pending || 0, 0));
    setText("depth-webhooks", fmt(d.webhooks_pending || 0, 0));
    fillTable("binds", data.binds);
    fillTable("connectors", data.connectors);
    fillTable("totals", data.totals);
    drawChart(data.series);
  }
  async function refresh() {
    try {
      const response = await fetch("/console/data/overview", {credentials: "same-origin",
                                                             cache: "no-store"});
      if (response.status === 401) { window.location.assign("/console/login"); return; }
      if (!response.ok) throw new Error("the gateway answered " + response.status);
      show(await response.json());
      errorBox.hidden = true;
    } catch (e) {
      errorBox.textContent = "Live update failed (" + e.message + "): retrying every 2 s.";
      errorBox.hidden = false;
    }
  }
  refresh();
  setInterval(refresh, 2000);
})();
