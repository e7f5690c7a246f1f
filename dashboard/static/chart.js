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

// The margins plotly.js settled on when it last drew a chart of the same shape, kept in this
// browser (localStorage). With `automargin`, plotly.js draws a chart, measures its tick
// labels, legend and titles, finds the margins too small and draws it all again: about half
// of a chart's drawing time (docs/benchmarks/pages.md). Starting from the margins it settled
// on last time, the first drawing fits and is the only one. automargin stays on, so labels
// that have grown since still push the margins out, and the new margins are kept; a kept
// margin never makes one narrower than the figure asks for.
const MARGINS = "groundswell.chart.margins";
const MARGINS_KEPT = 200;

function digits(values) {
  let top = 0;
  for (const v of values || []) if (typeof v === "number" && Math.abs(v) > top) top = Math.abs(v);
  return String(Math.round(top)).length;
}

// What decides a chart's margins, and nothing that changes minute by minute: its titles,
// traces, legend, height, width (to 50 px), the categories of a category axis and the size
// (in digits) of its largest value.
function shape(fig, width) {
  const layout = fig.layout || {};
  const text = (t) => (typeof t === "string" ? t : (t && t.text) || "");
  const stacked = layout.barmode === "stack";
  const ys = (fig.data || []).map((t) => t.y || []);
  const categories = [...new Set(ys.flat().filter((v) => typeof v === "string"))].join("|");
  const sums = stacked ? [ys.reduce((n, y) => n + Math.max(0, ...y.filter(Number.isFinite)), 0)] : [];
  return JSON.stringify([
    text(layout.title),
    text((layout.xaxis || {}).title),
    text((layout.yaxis || {}).title),
    (fig.data || []).map((t) => [t.type, t.name, t.showlegend]),
    layout.legend || null,
    layout.height || null,
    Math.round(width / 50),
    categories,
    digits(stacked ? sums : ys.flat()),
  ]);
}

// A 53-bit hash of a chart's shape (cyrb53): the kept entries name no title, trace or
// category, only an opaque number.
function hash(text) {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

function kept() {
  try {
    return JSON.parse(window.localStorage.getItem(MARGINS) || "{}");
  } catch {
    return {}; // storage off (a private window, a policy): draw as plotly.js would
  }
}

function keep(key, size) {
  try {
    const all = kept();
    delete all[key];
    all[key] = { l: size.l, r: size.r, t: size.t, b: size.b };
    const keys = Object.keys(all);
    for (const old of keys.slice(0, Math.max(0, keys.length - MARGINS_KEPT))) delete all[old];
    window.localStorage.setItem(MARGINS, JSON.stringify(all));
  } catch {
    // storage full or off: the next tab measures again
  }
}

// A chart is drawn when it comes near the screen, not before: a page's charts below the fold
// (Amplifiers' two, on a laptop's screen) cost a new tab about 0.1 s of the browser's time
// each before the reader saw the page's top (docs/benchmarks/pages.md); dashboards such as
// Grafana likewise draw only the panels in view. NEAR starts the drawing this far ahead of the
// screen, so a reader who scrolls finds it drawn or nearly; `scrollMargin` carries it into
// Streamlit's own scrolling container, where `rootMargin` alone stops at the container's edge.
const NEAR = "300px 0px";
const waiting = new Map(); // chart element -> its drawing, while it waits to come near

function whenNear(el, draw) {
  if (typeof IntersectionObserver !== "function") {
    draw();
    return () => {};
  }
  const seen = new IntersectionObserver(
    (entries) => {
      if (entries.some((e) => e.isIntersecting)) {
        stop();
        draw();
      }
    },
    { rootMargin: NEAR, scrollMargin: NEAR }
  );
  function stop() {
    seen.disconnect();
    waiting.delete(el);
  }
  waiting.set(el, () => {
    stop();
    draw();
  });
  seen.observe(el);
  startWhenIdle();
  return stop;
}

// The bundle itself (not the drawing) is fetched once the page is idle, so the first chart a
// reader scrolls to, or a printout, does not wait for plotly.js to start. Asked once per
// document, however many charts wait.
let idleAsked = false;
function startWhenIdle() {
  if (idleAsked) return;
  idleAsked = true;
  (window.requestIdleCallback || ((f) => setTimeout(f, 200)))(() => plotly().catch(() => {}));
}

// Printing (or saving as PDF) shows every chart, the ones never scrolled to included: with the
// bundle started, Plotly draws a basic chart before the printout is laid out.
window.addEventListener("beforeprint", () => {
  for (const draw of [...waiting.values()]) draw();
});

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
  const key = hash(shape(fig, el.clientWidth || parentElement.clientWidth || 0));
  const margins = kept()[key];
  if (margins) {
    // Never less than the figure asks for: a margin kept before the figure's own grew (a
    // title moved, say) must not cut it; automargin only ever widens what it starts from.
    const asked = fig.layout.margin || {};
    const base = (fig.layout.template.layout || {}).margin || {};
    const wider = {};
    for (const side of ["l", "r", "t", "b"]) {
      const own = asked[side] ?? base[side];
      wider[side] = typeof own === "number" ? Math.max(own, margins[side]) : margins[side];
    }
    fig.layout.margin = { ...asked, ...wider };
  }
  // The chart's height is kept while it waits, so nothing below it moves when it is drawn.
  el.style.minHeight = `${fig.layout.height || 450}px`;
  el.dataset.chart = "waiting";
  const unwatch = whenNear(el, () =>
    plotly().then((Plotly) => {
      if (gone) return;
      Plotly.react(el, fig.data, fig.layout, CONFIG).then((gd) => {
        if (gone) return;
        el.dataset.chart = "drawn";
        if (gd._fullLayout && gd._fullLayout._size) keep(key, gd._fullLayout._size);
      });
    })
  );
  // Streamlit calls this when the chart leaves the page (another page from the menu, a switch
  // turned off) or before new data: purge drops plotly.js's window resize listener, which a
  // detached chart would otherwise keep for the rest of the tab's life.
  return () => {
    gone = true;
    unwatch();
    if (window.Plotly) window.Plotly.purge(el);
  };
}
