// Rapport's pages: the few behaviours htmx does not cover. No build step, no dependencies.
// Lookup type-ahead: htmx fetches the matching records into the options list (see
// templates/widgets/lookup.html and templates/records/lookup_options.html); choosing one
// puts its id in the hidden input and its title in the search box. Arrow keys move through
// the options, Enter chooses, Escape closes.
(function () {
  "use strict";

  function lookupOf(element) { return element.closest("[data-lookup]"); }

  function options(lookup) { return Array.from(lookup.querySelectorAll("[data-lookup-option]")); }

  function close(lookup) {
    const list = lookup.querySelector("[data-lookup-options]");
    list.innerHTML = "";
    lookup.querySelector("[data-lookup-title]").setAttribute("aria-expanded", "false");
  }

  function choose(option) {
    const lookup = lookupOf(option);
    lookup.querySelector("[data-lookup-id]").value = option.dataset.id;
    const title = lookup.querySelector("[data-lookup-title]");
    title.value = option.dataset.title;
    close(lookup);
    title.focus();
  }

  function move(lookup, step) {
    const all = options(lookup);
    if (!all.length) return;
    const current = all.findIndex(function (o) { return o.getAttribute("aria-selected") === "true"; });
    const next = all[(current + step + all.length) % all.length];
    all.forEach(function (o) { o.setAttribute("aria-selected", String(o === next)); });
    const title = lookup.querySelector("[data-lookup-title]");
    title.setAttribute("aria-activedescendant", next.id);
    next.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("click", function (event) {
    const option = event.target.closest("[data-lookup-option]");
    if (option) { event.preventDefault(); choose(option); }
  });

  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-lookup-title]")) {
      // typing replaces the choice: the id follows what the box says
      lookupOf(event.target).querySelector("[data-lookup-id]").value = "";
    }
  });

  document.addEventListener("keydown", function (event) {
    if (!event.target.matches("[data-lookup-title]")) return;
    const lookup = lookupOf(event.target);
    if (event.key === "ArrowDown") { event.preventDefault(); move(lookup, 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); move(lookup, -1); }
    else if (event.key === "Escape") { close(lookup); }
    else if (event.key === "Enter") {
      const selected = lookup.querySelector('[data-lookup-option][aria-selected="true"]');
      if (selected) { event.preventDefault(); choose(selected); }
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const lookup = lookupOf(event.target);
    if (lookup) {
      lookup.querySelector("[data-lookup-title]").setAttribute("aria-expanded", String(options(lookup).length > 0));
    }
  });

  document.addEventListener("focusout", function (event) {
    const lookup = event.target.closest && lookupOf(event.target);
    if (lookup) {
      setTimeout(function () { if (!lookup.contains(document.activeElement)) close(lookup); }, 150);
    }
  });
})();
