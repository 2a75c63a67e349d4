/* Tell RequireJS where the ipywidgets HTML manager lives on this site, so the files it
 * loads by relative path (its icon fonts) come from _static/vendor/html-manager/ whatever
 * the depth of the page, and where anywidget's front end is (the live formula widgets).
 * Loaded after require.js and before embed-amd.js. */
(function () {
  "use strict";
  var src = document.currentScript && document.currentScript.src;
  if (!src || typeof window.require === "undefined") { return; }
  var staticRoot = src.slice(0, src.lastIndexOf("/") + 1);
  window.require.config({
    paths: {
      "@jupyter-widgets/html-manager/dist": staticRoot + "vendor/html-manager",
      // the live formula widgets' front end; without this the manager fetches it from a CDN
      anywidget: staticRoot + "vendor/anywidget/index"
    }
  });
})();
