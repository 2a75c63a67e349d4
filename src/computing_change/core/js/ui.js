// The view of a live formula widget (computing_change.models.views.LiveFormula): sliders and
// exact-value boxes, a readout and an SVG plot, all computed here in the browser by the
// formula's JavaScript translation (FUNCS, written by computing_change.core.jsgen above this
// file). It runs the same in JupyterLab, Colab and on the static website, with or without
// a kernel. The readout has the words of FormulaWidget.text in Python.
const COLORS = { line: "#1f77b4", point: "#d62728", also: ["#ff7f0e", "#2ca02c", "#9467bd"] };
const W = 560, H = 300, M = { l: 66, r: 16, t: 40, b: 46 };
const NS = "http://www.w3.org/2000/svg";
let uid = 0;

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// A number typed into a box, read the way Python's float() reads it; anything else is
// passed on as text, so the formula's own check names the parameter and says what it got.
function parseTyped(text) {
  const t = text.trim();
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return Number(t);
  if (/^[+-]?nan$/i.test(t)) return NaN;
  if (/^[+-]?inf(inity)?$/i.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
  return t;
}

function compute(spec, values) {
  const fn = FUNCS[spec.fn];
  // a fixed argument wins over a slider of the same name (as widgets._call in Python)
  const args = spec.args.map((n) => (n in spec.fixed ? spec.fixed[n] : values[n]));
  try {
    return { value: fn(...args), message: null };
  } catch (e) {
    if (e instanceof py.ValueError) return { value: null, message: "⚠ " + e.message };
    throw e;
  }
}

function readoutText(spec, values, r) {
  if (r.message) return r.message;
  const shown = spec.params.map((p) => p.name + " = " + py.formatG(values[p.name], 6)).join(", ");
  let text = spec.output + " = " + py.formatG(r.value, 6) + "   (at " + shown + ")";
  for (const other of spec.also || []) {
    const o = compute(other, values);
    text += "\n" + other.title + ": " + (o.message ? o.message : other.output + " = " + py.formatG(o.value, 6));
  }
  return text;
}

function curve(entry, values, x, xs) {
  return xs.map((v) => {
    const c = compute(entry, { ...values, [x]: v });
    return c.message === null && Number.isFinite(c.value) ? c.value : NaN;
  });
}

function grid(p) {
  const lo = p.slider_min > 0 || !p.log ? p.slider_min : 1e-12;
  const hi = p.slider_max;
  const out = [];
  for (let i = 0; i < 200; i++) {
    const t = i / 199;
    out.push(p.log ? Math.pow(10, Math.log10(lo) + t * (Math.log10(hi) - Math.log10(lo))) : lo + t * (hi - lo));
  }
  out[0] = lo;
  out[199] = hi;
  const pts = p.integer ? [...new Set(out.map(Math.round))] : out;  // whole-number parameters: whole points
  return pts.filter((v) => p.lo === null || (p.lo_open ? v > p.lo : v >= p.lo));
}

function niceTicks(lo, hi) {
  const span = hi - lo;
  const raw = span / 5;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => span / s <= 6) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function tickLabel(v) {
  return v === 0 ? "0" : py.formatG(Number(py.formatG(v, 6)), 6);
}

function titleText(spec, values) {
  const others = spec.params.filter((p) => p.name !== spec.x);
  if (!others.length) return [spec.title];
  const vals = others.map((p) => p.name + " = " + py.formatG(values[p.name], 4)).join(", ");
  return spec.title.length + vals.length <= 60 ? [spec.title + " (" + vals + ")"] : [spec.title, "(" + vals + ")"];
}

function plotSvg(spec, values, r) {
  const px = spec.params.find((p) => p.name === spec.x);
  const xs = grid(px);
  const ys = curve(spec, values, spec.x, xs);
  const others = (spec.also || []).map((o) => curve(o, values, spec.x, xs));
  const pts = (spec.points || []).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!px.log || x > 0));
  const ylog = !!spec.ylog;
  const okY = (v) => Number.isFinite(v) && (!ylog || v > 0);
  const fy = ylog ? Math.log10 : (v) => v;
  const fin = ys.concat(...others).concat(pts.map(([, y]) => y)).filter(okY).map(fy);
  if (r.message === null && okY(r.value)) fin.push(fy(r.value));
  let y0 = fin.length ? Math.min(...fin) : 0, y1 = fin.length ? Math.max(...fin) : 1;
  if (y1 - y0 <= Math.abs(y1) * 1e-12) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
  const pad = (y1 - y0) * 0.06;
  y0 -= pad; y1 += pad;
  const fx = px.log ? Math.log10 : (v) => v;
  const a = fx(xs[0]), b = fx(xs[xs.length - 1]);
  const X = (v) => M.l + ((fx(v) - a) / (b - a || 1)) * (W - M.l - M.r);
  const Y = (v) => H - M.b - ((fy(v) - y0) / (y1 - y0)) * (H - M.t - M.b);
  const parts = [];
  const xt = px.log
    ? Array.from({ length: Math.floor(b) - Math.ceil(a) + 1 }, (_, i) => Math.pow(10, Math.ceil(a) + i))
    : niceTicks(xs[0], xs[xs.length - 1]);
  const step = Math.max(1, Math.ceil(xt.length / 7));
  xt.forEach((v, i) => {
    parts.push(`<line x1="${X(v)}" x2="${X(v)}" y1="${M.t}" y2="${H - M.b}" stroke="currentColor" stroke-opacity="0.15"/>`);
    if (i % step === 0) parts.push(`<text x="${X(v)}" y="${H - M.b + 16}" text-anchor="middle">${tickLabel(v)}</text>`);
  });
  const yt = ylog
    ? Array.from({ length: Math.max(0, Math.floor(y1) - Math.ceil(y0) + 1) }, (_, i) => Math.pow(10, Math.ceil(y0) + i))
    : niceTicks(y0, y1);
  yt.forEach((v) => {
    parts.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${Y(v)}" y2="${Y(v)}" stroke="currentColor" stroke-opacity="0.15"/>`);
    parts.push(`<text x="${M.l - 6}" y="${Y(v) + 4}" text-anchor="end">${tickLabel(v)}</text>`);
  });
  parts.push(`<path d="M${M.l},${M.t}V${H - M.b}H${W - M.r}" fill="none" stroke="currentColor"/>`);
  const path = (vals) => {
    let d = "", pen = false;
    xs.forEach((x, i) => {
      if (okY(vals[i])) { d += (pen ? "L" : "M") + X(x).toFixed(2) + "," + Y(vals[i]).toFixed(2); pen = true; } else { pen = false; }
    });
    return d;
  };
  others.forEach((vals, i) => {
    const color = COLORS.also[i % COLORS.also.length];
    parts.push(`<path class="cc-also" d="${path(vals)}" fill="none" stroke="${color}" stroke-width="1.5" stroke-dasharray="6,4"/>`);
    parts.push(`<text x="${M.l + 8}" y="${M.t + 26 + 14 * i}" fill="${color}">- - ${esc(spec.also[i].title)}</text>`);
  });
  parts.push(`<path class="cc-curve" d="${path(ys)}" fill="none" stroke="${COLORS.line}" stroke-width="1.8"/>`);
  const inX = (x) => fx(x) >= a && fx(x) <= b;
  pts.filter(([x, y]) => inX(x) && okY(y)).forEach(([x, y]) => parts.push(`<circle class="cc-measured" cx="${X(x)}" cy="${Y(y)}" r="3.5" fill="none" stroke="currentColor"/>`));
  if (pts.length && spec.points_label) parts.push(`<text x="${M.l + 8}" y="${M.t + 12}">○ ${esc(spec.points_label)}</text>`);
  const xv = values[spec.x];
  let label = "";
  if (r.message === null && okY(r.value) && typeof xv === "number" && Number.isFinite(fx(xv))) {
    const right = (fx(xv) - a) / (b - a || 1) > 0.6;
    label = spec.output + " = " + py.formatG(r.value, 4);
    parts.push(`<circle class="cc-point" cx="${X(xv)}" cy="${Y(r.value)}" r="4" fill="${COLORS.point}"/>`);
    parts.push(`<text class="cc-point-label" x="${X(xv) + (right ? -8 : 8)}" y="${Y(r.value) - 8}" text-anchor="${right ? "end" : "start"}" fill="${COLORS.point}">${esc(label)}</text>`);
  }
  titleText(spec, values).forEach((line, i) => parts.push(`<text x="${W / 2}" y="${14 + 15 * i}" text-anchor="middle" font-weight="bold">${esc(line)}</text>`));
  parts.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 8}" text-anchor="middle">${esc(px.label)}</text>`);
  parts.push(`<text transform="translate(14,${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle">${esc(spec.output)}</text>`);
  const desc = r.message === null
    ? `${spec.title}: ${spec.output} against ${px.label}; at ${spec.x} = ${py.formatG(xv, 4)} it is ${py.formatG(r.value, 4)}`
    : `${spec.title}: ${r.message}`;
  return `<svg xmlns="${NS}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(desc)}" font-size="12" font-family="DejaVu Sans, Verdana, Arial, sans-serif" style="max-width:100%;height:auto">${parts.join("")}</svg>`;
}

function sliderPos(p, v) {
  return p.log ? Math.log10(Math.max(v, 1e-300)) : v;
}

function render({ model, el }) {
  const spec = model.get("spec");
  let values = { ...model.get("values") };
  const id = "cc-live-" + uid++;
  el.classList.add("cc-live");
  el.dataset.ccLive = spec.key;
  el.dataset.ccSpec = JSON.stringify(spec);
  el.innerHTML = "";
  const rows = {};
  for (const p of spec.params) {
    const row = document.createElement("div");
    row.className = "cc-live-row";
    const lab = document.createElement("label");
    lab.htmlFor = `${id}-${p.name}`;
    lab.textContent = p.label;
    const range = document.createElement("input");
    range.type = "range";
    range.id = `${id}-${p.name}`;
    range.dataset.param = p.name;
    const lo = sliderPos(p, p.slider_min > 0 || !p.log ? p.slider_min : 1e-12), hi = sliderPos(p, p.slider_max);
    range.min = String(lo);
    range.max = String(hi);
    // a log slider moves in log10 units, so a whole-number parameter on a log scale takes fine
    // steps there and is rounded to a whole number after (step "1" would jump a decade)
    range.step = p.integer && !p.log ? "1" : String((hi - lo) / (p.log ? 1000 : 200));
    const box = document.createElement("input");
    box.type = "text";
    box.inputMode = "decimal";
    box.size = 10;
    box.className = "cc-live-value";
    box.dataset.param = p.name;
    box.setAttribute("aria-label", `${p.label}, exact value`);
    row.append(lab, range, box);
    el.append(row);
    rows[p.name] = { range, box, p };
    range.addEventListener("input", () => {
      let v = p.log ? Math.pow(10, Number(range.value)) : Number(range.value);
      if (p.integer) v = Math.round(v);
      set(p.name, v, false);
    });
    box.addEventListener("change", () => set(p.name, parseTyped(box.value), true));
  }
  const readout = document.createElement("div");
  readout.className = "cc-live-readout";
  readout.setAttribute("aria-live", "polite");
  const fig = document.createElement("div");
  fig.className = "cc-live-plot";
  el.append(readout, fig);

  function draw() {
    const t0 = performance.now();
    const r = compute(spec, values);
    readout.textContent = readoutText(spec, values, r);
    readout.classList.toggle("cc-live-error", r.message !== null);
    fig.innerHTML = plotSvg(spec, values, r);
    for (const { range, box, p } of Object.values(rows)) {
      const v = values[p.name];
      if (document.activeElement !== box) box.value = typeof v === "number" ? py.formatG(v, 6) : String(v);
      if (typeof v === "number" && Number.isFinite(v) && document.activeElement !== range) range.value = String(sliderPos(p, v));
      range.setAttribute("aria-valuetext", typeof v === "number" ? py.formatG(v, 4) : String(v));
    }
    const ms = performance.now() - t0;
    el.dataset.ccValue = r.message === null ? String(r.value) : "";
    el.dataset.ccValues = JSON.stringify(values);
    el.dataset.ccRedrawMs = ms.toFixed(3);
    (window.__ccRedrawMs = window.__ccRedrawMs || []).push(ms);
  }

  function set(name, v, typed) {
    values = { ...values, [name]: v };
    draw();
    if (typed && typeof v === "number" && Number.isFinite(v)) rows[name].range.value = String(sliderPos(rows[name].p, v));
    own = true;
    model.set("values", values);
    own = false;
    try { model.save_changes(); } catch (e) { /* no kernel (the static website): nothing to tell */ }
  }

  let own = false;
  const onKernel = () => { if (own) return; values = { ...model.get("values") }; draw(); };
  model.on("change:values", onKernel);
  draw();
  return () => model.off("change:values", onKernel);
}

export default { render };
