// The Python primitives the translated formulas call (computing_change.core.jsgen), written by
// hand: input validation with the messages of computing_change.core.checks.check and
// formulas._whole, and Python's format(x, ".Ng") and repr. tests/test_live_widgets.py
// checks them against Python on inputs drawn by Hypothesis.
const py = (() => {
  class ValueError extends Error {}

  // The decimal digits of |x| rounded to p significant digits, half to even on the exact
  // binary value (as Python does), and the decimal exponent of the first digit.
  function sigDigits(a, p) {
    const [m, e] = a.toExponential(100).split("e");
    const all = m.replace(".", "");
    let exp = parseInt(e, 10);
    let head = all.slice(0, p).split("").map(Number);
    const rest = all.slice(p);
    let up = rest[0] > "5" || (rest[0] === "5" && (/[1-9]/.test(rest.slice(1)) || head[p - 1] % 2 === 1));
    if (up) {
      let i = p - 1;
      while (i >= 0 && head[i] === 9) { head[i] = 0; i -= 1; }
      if (i < 0) { head = [1, ...head.slice(0, p - 1)]; exp += 1; } else { head[i] += 1; }
    }
    return [head.join(""), exp];
  }

  function formatG(x, p) {
    if (Number.isNaN(x)) return "nan";
    if (x === Infinity) return "inf";
    if (x === -Infinity) return "-inf";
    if (p === 0) p = 1;
    const sign = x < 0 || Object.is(x, -0) ? "-" : "";
    if (x === 0) return sign + "0";
    const [digits, exp] = sigDigits(Math.abs(x), p);
    if (exp >= -4 && exp < p) {
      let s;
      if (exp >= 0) {
        s = digits.slice(0, exp + 1) + "." + digits.slice(exp + 1);
      } else {
        s = "0." + "0".repeat(-exp - 1) + digits;
      }
      s = s.replace(/0+$/, "").replace(/\.$/, "");
      return sign + s;
    }
    let mant = digits[0] + "." + digits.slice(1);
    mant = mant.replace(/0+$/, "").replace(/\.$/, "");
    const e = Math.abs(exp);
    return sign + mant + "e" + (exp < 0 ? "-" : "+") + (e < 10 ? "0" + e : String(e));
  }

  // Python's repr of a number (whole numbers below 1e16 as ints, which is what the course's
  // messages repeat) or of a string, None or a bool.
  function repr(x) {
    if (x === null || x === undefined) return "None";
    if (x === true) return "True";
    if (x === false) return "False";
    if (typeof x === "string") {
      return x.includes("'") && !x.includes('"') ? '"' + x + '"' : "'" + x.replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
    }
    if (Number.isNaN(x)) return "nan";
    if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
    if (Number.isInteger(x) && Math.abs(x) < 1e16) return String(x);
    const [m, e] = x.toExponential().split("e");
    const exp = parseInt(e, 10);
    const digits = m.replace("-", "").replace(".", "");
    const sign = x < 0 ? "-" : "";
    if (exp >= -4 && exp < 16) {
      let s = exp >= 0
        ? (digits.padEnd(exp + 1, "0").slice(0, exp + 1) + "." + digits.slice(exp + 1))
        : "0." + "0".repeat(-exp - 1) + digits;
      if (s.endsWith(".")) s += "0";
      return sign + s;
    }
    const mant = digits.length > 1 ? digits[0] + "." + digits.slice(1) : digits;
    const ae = Math.abs(exp);
    return sign + mant + "e" + (exp < 0 ? "-" : "+") + (ae < 10 ? "0" + ae : String(ae));
  }

  // format(x, spec) for the specs the course uses: "" (str) and "[.N]g".
  function format(x, spec) {
    if (spec === "") return typeof x === "number" ? repr(x) : String(x);
    const m = /^(?:\.(\d+))?g$/.exec(spec);
    if (!m) throw new Error("format spec not supported in the browser: " + spec);
    return formatG(x, m[1] === undefined ? 6 : parseInt(m[1], 10));
  }

  function describeRange(lo, hi, loOpen, hiOpen) {
    if (lo !== null && hi !== null) {
      return "in " + (loOpen ? "(" : "[") + formatG(lo, 6) + ", " + formatG(hi, 6) + (hiOpen ? ")" : "]");
    }
    if (lo !== null) return (loOpen ? "> " : ">= ") + formatG(lo, 6);
    if (hi !== null) return (hiOpen ? "< " : "<= ") + formatG(hi, 6);
    return "";
  }

  // computing_change.core.checks.check for one value.
  function check(name, value, lo = null, hi = null, opts = {}) {
    if (lo === undefined) lo = null;
    if (hi === undefined) hi = null;
    const loOpen = !!opts.lo_open;
    const hiOpen = !!opts.hi_open;
    const allowed = describeRange(lo, hi, loOpen, hiOpen);
    if (typeof value !== "number") {
      throw new ValueError((name + " must be a number " + allowed).trimEnd() + "; got " + repr(value));
    }
    let bad = !Number.isFinite(value);
    if (lo !== null) bad = bad || (loOpen ? value <= lo : value < lo);
    if (hi !== null) bad = bad || (hiOpen ? value >= hi : value > hi);
    if (bad) {
      throw new ValueError((name + " must be a finite number " + allowed).trimEnd() + "; got " + formatG(value, 6));
    }
    return value;
  }

  // computing_change.models.formulas._whole for one value.
  function whole(name, value, lo, opts = {}) {
    const v = check(name, value, lo, null, opts);
    if (v !== Math.floor(v)) {
      throw new ValueError(name + " must be a whole number >= " + formatG(lo, 6) + "; got " + formatG(v, 6));
    }
    return v;
  }

  return { ValueError, check, whole, format, formatG, repr, describeRange };
})();
