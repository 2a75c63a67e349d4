/* MathJax 3 has no MathJax.Hub, but the ipywidgets HTML manager typesets with
 * MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]). This shim gives MathJax 3 that
 * method, queueing elements until MathJax has started. Loaded after Sphinx's MathJax
 * configuration and before MathJax itself runs (MathJax is deferred). */
(function () {
  "use strict";
  var pending = [];
  function typeset(el) {
    var mj = window.MathJax;
    if (mj && typeof mj.typesetPromise === "function") {
      mj.typesetPromise([el]).catch(function (err) { console.warn("MathJax:", err); });
    } else {
      pending.push(el);
    }
  }
  function hub() {
    return {
      Queue: function () {
        for (var i = 0; i < arguments.length; i++) {
          var cmd = arguments[i];
          if (Array.isArray(cmd) && cmd[0] === "Typeset" && cmd[2]) { typeset(cmd[2]); }
        }
      }
    };
  }
  var cfg = window.MathJax || {};
  if (cfg.version) { cfg.Hub = cfg.Hub || hub(); return; } /* MathJax already running */
  cfg.startup = cfg.startup || {};
  var userReady = cfg.startup.ready;
  cfg.startup.ready = function () {
    if (userReady) { userReady(); } else { window.MathJax.startup.defaultReady(); }
    window.MathJax.Hub = hub();
    window.MathJax.startup.promise.then(function () {
      if (pending.length) { window.MathJax.typesetPromise(pending.splice(0)); }
    });
  };
  cfg.Hub = hub();
  window.MathJax = cfg;
})();
