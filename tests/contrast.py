"""WCAG contrast of a page's text, computed in the browser: each text's colour against the background under it."""

# For each element with text of its own inside `roots`, its computed colour against the first opaque
# background among it and its ancestors (semi-transparent layers on the way are blended in), and the
# ratio WCAG 2 defines. Large text (24 px, or 18.66 px bold) needs 3:1, the rest 4.5:1.
CONTRAST_SCRIPT = r"""
const roots = Array.from(document.querySelectorAll(arguments[0]));
function rgba(text) {
  const m = text.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
  return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
}
function over(top, bottom) {
  const a = top.a;
  const mix = (k) => top[k] * a + bottom[k] * (1 - a);
  return { r: mix("r"), g: mix("g"), b: mix("b"), a: 1 };
}
function luminance(c) {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
}
function background(element) {
  const layers = [];
  for (let e = element; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
  }
  let bg = { r: 255, g: 255, b: 255, a: 1 };
  for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
  return bg;
}
const seen = new Set(), failures = [];
let checked = 0;
for (const root of roots) {
  for (const element of [root, ...root.querySelectorAll("*")]) {
    if (seen.has(element)) continue;
    seen.add(element);
    if (["SCRIPT", "STYLE", "OPTION", "SELECT", "TEXTAREA", "INPUT", "NOSCRIPT"].includes(element.tagName)) continue;
    const own = Array.from(element.childNodes)
      .filter((n) => n.nodeType === 3 && n.textContent.trim())
      .map((n) => n.textContent.trim())
      .join(" ");
    if (!own || !element.getClientRects().length) continue;
    const style = getComputedStyle(element);
    if (style.visibility !== "visible" || style.display === "none") continue;
    const bg = background(element);
    const fg = over(rgba(style.color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    const needed = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    checked += 1;
    if (ratio < needed) {
      failures.push({ text: own.slice(0, 60), tag: element.tagName.toLowerCase(), cls: element.className,
        color: style.color, background: `rgb(${Math.round(bg.r)}, ${Math.round(bg.g)}, ${Math.round(bg.b)})`,
        ratio: Math.round(ratio * 100) / 100, needed });
    }
  }
}
return { checked, failures };
"""

DESK_TEXT = ", ".join(
    [
        "[class*='vd-']",
        "#vd-story",
        "#vd-media",
        "#events-group",
    ]
)


def contrast_report(driver, selector: str = DESK_TEXT) -> dict:
    """{"checked": how many texts, "failures": [each text below its contrast threshold]}."""
    return driver.execute_script(CONTRAST_SCRIPT, selector)
