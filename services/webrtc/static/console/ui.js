// Small DOM helpers shared by the panels.

export const $ = (id) => document.getElementById(id);

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name in node) node[name] = value;
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// Runs an action, shows its error in `errorBox` (and clears it first); returns the action's result.
export async function guarded(errorBox, action) {
  errorBox.textContent = "";
  try {
    return await action();
  } catch (err) {
    errorBox.textContent = err.message || String(err);
    return undefined;
  }
}

// Replaces a select's options, keeping its placeholder ("" value) and, where it still exists, the choice.
export function fillSelect(select, options) {
  const previous = select.value;
  const fixed = [...select.options].filter((o) => o.value === "");
  select.replaceChildren(...fixed, ...options.map(([value, label]) => el("option", { value }, label)));
  if ([...select.options].some((o) => o.value === previous)) select.value = previous;
}

export const seconds = (s) => `${s.toFixed(2)} s`;

// A voice profile ({gender, age, emotion} → label → probability) as labelled bars.
export function renderProfile(container, properties, models = {}) {
  const groups = Object.entries(properties).map(([property, labels]) =>
    el("div", { class: "profile-group" }, el("h3", {}, property),
      ...Object.entries(labels).sort((a, b) => b[1] - a[1]).map(([label, p]) =>
        el("div", { class: "bar-row" }, el("span", {}, label),
          el("meter", { min: 0, max: 1, value: p, "aria-label": `${property} ${label}` }),
          el("span", {}, `${Math.round(p * 100)}%`)))));
  const missing = Object.entries(models).filter(([, m]) => !m.available)
    .map(([property, m]) => el("p", { class: "note" }, `${property}: ${m.reason || "not configured"}`));
  container.replaceChildren(...groups, ...missing);
}
