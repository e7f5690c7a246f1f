// A Plotly figure drawn with plotly.js's basic bundle (scatter, bar, pie), loaded once per
// document and shared by every chart of the page; see README.md and dashboard/basic_charts.py.

// Streamlit 1.67's Plotly look for the light theme ("streamlit" theme of st.plotly_chart), as
// its PlotlyChart merges it into each figure's template layout: charts drawn here look like
// the st.plotly_chart ones beside them.
const FONT = '"Source Sans", sans-serif';
const GRID = "#e6eaf1";
const TEXT = "#808495";
const LOOK = {
  font: { color: TEXT, family: FONT, size: 12, weight: 400 },
  title: { font: { family: FONT, size: 16, color: "#2F2D2B" }, pad: { l: 4 }, xanchor: "left", x: 0 },
  legend: {
    title: { font: { size: 12, color: TEXT }, side: "top" },
    valign: "top",
    bordercolor: "transparent",
    borderwidth: 0,
    font: { size: 12, color: "#262730" },
  },
  paper_bgcolor: "#FFFFFF",
  plot_bgcolor: "#FFFFFF",
  yaxis: {
    ticklabelposition: "outside",
    zerolinecolor: GRID,
    title: { font: { color: TEXT, size: 14 }, standoff: 24 },
    tickcolor: GRID,
    tickfont: { color: TEXT, size: 12 },
    gridcolor: GRID,
    minor: { gridcolor: GRID },
    automargin: true,
  },
  xaxis: {
    zerolinecolor: GRID,
    gridcolor: GRID,
    showgrid: false,
    tickfont: { color: TEXT, size: 12 },
    tickcolor: GRID,
    title: { font: { color: TEXT, size: 14 }, standoff: 20 },
    minor: { gridcolor: GRID },
    zeroline: false,
    automargin: true,
  },
  margin: { pad: 8, r: 0, l: 0 },
  hoverlabel: {
    bgcolor: "#FFFFFF",
    bordercolor: "#DCD8D4",
    font: { color: TEXT, family: FONT, size: 12 },
  },
};
// st.plotly_chart's modebar: no Plotly logo, no cloud, no selection tools.
const CONFIG = {
  responsive: true,
  displaylogo: false,
  showSendToCloud: false,
  modeBarButtonsToRemove: ["lasso2d", "select2d", "sendChartToCloud"],
};

function merge(into, from) {
  for (const [k, v] of Object.entries(from)) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      if (!into[k] || typeof into[k] !== "object") into[k] = {};
      merge(into[k], v);
    } else {
      into[k] = v;
    }
  }
  return into;
}

function themed(fig) {
  const layout = fig.layout || {};
  layout.template = layout.template || {};
  layout.template.layout = merge(layout.template.layout || {}, LOOK);
  const title = typeof layout.title === "string" ? { text: layout.title } : layout.title;
  if (title && title.text) layout.title = { ...title, text: `<b>${title.text}</b>` };
  fig.layout = layout;
  return fig;
}

// Where the bundle is fetched from, in order. First Streamlit's static file serving of this
// folder (`server.enableStaticServing`, which `groundswell dashboard` turns on): it sends
// Last-Modified, so a reader's next tab takes the bundle from the browser's cache, compiled
// code included, and the server does not gzip 1.2 MB again for every tab. Then this
// component's own route, which Streamlit serves uncacheable, for a server started without
// static serving. Both lie under the app's base path, whatever it is.
const SOURCES = [
  new URL("../../../app/static/plotly-basic.min.js", import.meta.url).href,
  new URL("plotly-basic.min.js", import.meta.url).href,
];

function load(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error(src)));
    script.onerror = () => {
      script.remove();
      reject(new Error(`${src} did not load`));
    };
    document.head.appendChild(script);
  });
}

let loading;
function plotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = load(SOURCES[0])
      .catch(() => load(SOURCES[1]))
      .catch((err) => {
        loading = undefined;
        throw err;
      });
  }
  return loading;
}

export default function (component) {
  const { data, parentElement } = component;
  let el = parentElement.querySelector(":scope > .gs-chart");
  if (!el) {
    el = document.createElement("div");
    el.className = "gs-chart";
    el.style.width = "100%";
    parentElement.appendChild(el);
  }
  if (data.alt) {
    el.setAttribute("role", "figure");
    el.setAttribute("aria-label", data.alt);
  } else {
    el.removeAttribute("role");
    el.removeAttribute("aria-label");
  }
  const fig = themed(JSON.parse(data.figure));
  let gone = false;
  plotly().then((Plotly) => {
    if (!gone) Plotly.react(el, fig.data, fig.layout, CONFIG);
  });
  // Streamlit calls this when the chart leaves the page (another page from the menu, a switch
  // turned off) or before new data: purge drops plotly.js's window resize listener, which a
  // detached chart would otherwise keep for the rest of the tab's life.
  return () => {
    gone = true;
    if (window.Plotly) window.Plotly.purge(el);
  };
}
