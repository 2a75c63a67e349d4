/* Computing Change: names for the saved ipywidgets' controls and pictures, for screen
 * readers (added by book/_ext/cc_site.py; checked by the axe-core audit in
 * tests/test_site.py).
 *
 * The ipywidgets HTML manager draws a slider's handle as <div role="slider"> with no
 * accessible name, its readout as an unlabelled editable <div>, and an Output widget's
 * pictures as <img> with no alt text. Whenever widgets are drawn or change, this gives:
 *  - each slider handle the widget's description as its name, and the value its readout
 *    shows (1000, not the log-slider's exponent 3) as its aria-valuetext;
 *  - each readout the role of a text box named "<description> (value)";
 *  - each picture in a widget view the alt text of its notebook cell (mystnb.image.alt,
 *    carried as data-cc-alt on the view's script tag), else a description built from the
 *    widget's title and the names of its controls;
 *  - each scrolling region of an Output widget the keyboard focus and a name.
 * And it makes the arrow keys move a slider by a useful amount: noUiSlider moves a handle
 * one `step` per arrow key, and a log slider's step (1e-4 of a decade) needs tens of
 * thousands of presses to cross its range. A press moves at least 1% of the range (Page
 * Up/Down 10%); sliders with coarser steps keep their own. */
(function () {
  "use strict";

  var VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]';

  function text(el) {
    return el ? (el.textContent || "").replace(/\s+/g, " ").trim() : "";
  }

  function describe(el) {
    var box = el.closest(".widget-inline-hbox, .widget-box, .jupyter-widgets");
    var label = box && box.querySelector(":scope > .widget-label");
    return text(label) || (label && label.getAttribute("title") !== "null" ? label.getAttribute("title") || "" : "");
  }

  function viewOf(el) {
    var area = el.closest(".widget-subarea");
    var holder = area && area.parentElement;
    return holder ? holder.querySelector(VIEW) : null;
  }

  function fallbackAlt(img) {
    var area = img.closest(".widget-subarea");
    var title = "";
    var heading = area && area.querySelector(".widget-html-content, .widget-htmlmath-content");
    if (heading) {
      var clone = heading.cloneNode(true);
      clone.querySelectorAll("mjx-container").forEach(function (m) { m.remove(); });
      title = text(clone).split(/\\\(|\$/)[0].replace(/[\s:;,]+$/, "");
    }
    var controls = [];
    if (area) {
      area.querySelectorAll(".widget-inline-hbox > .widget-label").forEach(function (l) {
        var name = text(l);
        if (name && controls.indexOf(name) < 0) { controls.push(name); }
      });
    }
    var alt = "Plot drawn by the interactive widget" + (title ? " \u201c" + title + "\u201d" : "");
    if (controls.length) { alt += ", for the values set with: " + controls.join(", "); }
    return alt;
  }

  function fix(root) {
    root.querySelectorAll('.jupyter-widgets [role="slider"]').forEach(function (handle) {
      var name = describe(handle) || "Slider";
      if (!handle.hasAttribute("aria-label") && !handle.hasAttribute("aria-labelledby")) {
        handle.setAttribute("aria-label", name);
      }
      var box = handle.closest(".widget-inline-hbox");
      var shown = text(box && box.querySelector(".widget-readout"));
      if (shown && handle.getAttribute("aria-valuetext") !== shown) {
        handle.setAttribute("aria-valuetext", shown);
      }
    });
    root.querySelectorAll(".jupyter-widgets .widget-readout[contenteditable]").forEach(function (readout) {
      if (!readout.hasAttribute("role")) { readout.setAttribute("role", "textbox"); }
      if (!readout.hasAttribute("aria-label")) {
        readout.setAttribute("aria-label", (describe(readout) || "Slider") + " (value)");
      }
    });
    root.querySelectorAll(".widget-subarea img:not([alt])").forEach(function (img) {
      var view = viewOf(img);
      var alt = view && view.getAttribute("data-cc-alt");
      img.setAttribute("alt", alt || fallbackAlt(img));
    });
    /* An Output widget's saved text wider (or taller) than its box scrolls: keyboard users
     * must reach it to scroll it, so it takes the focus and says what it is. */
    root.querySelectorAll(".widget-output, .widget-output *").forEach(function (el) {
      if (el.hasAttribute("tabindex") || el.querySelector("a, button, input, select, textarea, [tabindex]")) { return; }
      if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
        var style = window.getComputedStyle(el);
        if (/(auto|scroll)/.test(style.overflowX + " " + style.overflowY)) {
          el.setAttribute("tabindex", "0");
          if (!el.hasAttribute("role")) { el.setAttribute("role", "region"); }
          if (!el.hasAttribute("aria-label")) { el.setAttribute("aria-label", "Widget output (scrollable)"); }
        }
      }
    });
  }

  var KEYS = {
    ArrowRight: [1, 0.01, "keyboardMultiplier", 1], ArrowUp: [1, 0.01, "keyboardMultiplier", 1],
    ArrowLeft: [-1, 0.01, "keyboardMultiplier", 1], ArrowDown: [-1, 0.01, "keyboardMultiplier", 1],
    PageUp: [1, 0.1, "keyboardPageMultiplier", 5], PageDown: [-1, 0.1, "keyboardPageMultiplier", 5]
  };

  /* Runs before noUiSlider's own key handler (capture phase): it places the handle one
   * native move short of the target, so that noUiSlider's move lands on the target and
   * fires the events the widget listens to (readout, value). */
  function onKeydown(event) {
    var key = KEYS[event.key];
    var handle = key && event.target.closest && event.target.closest(".noUi-handle");
    var slider = handle && handle.closest(".noUi-target");
    var api = slider && slider.noUiSlider;
    if (!api || !api.options || !api.options.range || typeof api.setHandle !== "function") { return; }
    var min = Number(api.options.range.min), max = Number(api.options.range.max);
    var step = Number(api.options.step);
    var native = step * (Number(api.options[key[2]]) || key[3]);
    var span = max - min;
    if (!(span > 0) || !(step > 0) || native >= key[1] * span) { return; }
    var jump = Math.ceil((key[1] * span) / step) * step;
    var index = Number(handle.getAttribute("data-handle")) || 0;
    var value = Number([].concat(api.get())[index]);
    if (!isFinite(value)) { return; }
    var target = Math.min(max, Math.max(min, value + key[0] * jump));
    api.setHandle(index, target - key[0] * native, false);
  }

  var queued = false;
  function schedule() {
    if (queued) { return; }
    queued = true;
    window.requestAnimationFrame(function () {
      queued = false;
      fix(document);
    });
  }

  function start() {
    fix(document);
    document.addEventListener("keydown", onKeydown, true);
    if (!document.querySelector(VIEW)) { return; }
    new MutationObserver(schedule).observe(document.body, {
      childList: true, subtree: true, characterData: true,
      attributes: true, attributeFilter: ["aria-valuenow"]
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
