// Light or dark, chosen before the page is first painted (so a dark choice never flashes light).
//
// Why JS, and a classic script in <head>: the page's Python starts seconds later, and the toggle must
// work while the page loads. The choice: the one stored by the toggle, else the system's
// (prefers-color-scheme, followed live). <html data-theme="light|dark"> carries it to style.css, and
// an "inkling-theme" event on document tells the page's Python to redraw its charts and pictures.

(() => {
  const KEY = "inkling-theme";
  const system = matchMedia("(prefers-color-scheme: dark)");

  function stored() {
    try {
      const value = localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : null;
    } catch {
      return null;  // storage off: follow the system
    }
  }

  function apply(theme) {
    const root = document.documentElement;
    if (root.dataset.theme === theme) return;
    root.dataset.theme = theme;
    const toggle = document.getElementById("theme-toggle");
    if (toggle) toggle.setAttribute("aria-pressed", String(theme === "dark"));
    document.dispatchEvent(new CustomEvent("inkling-theme", { detail: theme }));
  }

  apply(stored() ?? (system.matches ? "dark" : "light"));
  system.addEventListener("change", () => { if (!stored()) apply(system.matches ? "dark" : "light"); });

  document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.getElementById("theme-toggle");
    toggle.setAttribute("aria-pressed", String(document.documentElement.dataset.theme === "dark"));
    toggle.addEventListener("click", () => {
      const theme = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
      try {
        localStorage.setItem(KEY, theme);
      } catch {
        // storage off: the choice holds until the page closes
      }
      apply(theme);
    });
  });
})();
