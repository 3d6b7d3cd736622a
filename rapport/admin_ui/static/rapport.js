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

// List pages (templates/records/list.html): a select marked data-autosubmit (the list view)
// submits its form on change. In a filter row, choosing another field asks the page again for
// that field's conditions and value input (the old ones no longer fit, so they are not sent);
// choosing another condition asks again for the value input that fits it, keeping the value
// unless the change is to or from "is empty", which takes yes/no instead.
(function () {
  "use strict";

  function drop(row, selector) {
    row.querySelectorAll(selector).forEach(function (control) { control.disabled = true; });
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (!target.form) return;
    if (target.matches("[data-autosubmit]")) { target.form.requestSubmit(); return; }
    const row = target.closest("[data-filter-row]");
    if (!row) return;
    if (target.matches("[data-filter-field]")) {
      drop(row, "[data-filter-op], [data-filter-value]");
    } else if (target.matches("[data-filter-op]")) {
      if ((target.dataset.op === "is_null") !== (target.value === "is_null")) drop(row, "[data-filter-value]");
    } else {
      return;
    }
    target.form.requestSubmit();
  });

  // Text typed into a filter value while the page was being asked again is kept: the answer
  // was made from what was sent, so a box that still shows what was sent takes what was typed.
  let sent = {};
  let typed = {};
  function values() {
    const found = {};
    document.querySelectorAll("input[data-filter-value]").forEach(function (box) { found[box.id] = box.value; });
    return found;
  }
  document.addEventListener("htmx:beforeRequest", function () { sent = values(); });
  document.addEventListener("htmx:beforeSwap", function () { typed = values(); });
  document.addEventListener("htmx:afterSwap", function () {
    Object.keys(typed).forEach(function (id) {
      const box = document.getElementById(id);
      if (box && box.matches("input[data-filter-value]") && typed[id] !== sent[id] && box.value === (sent[id] || "")) {
        box.value = typed[id];
      }
    });
    sent = {};
    typed = {};
  });

  // A swapped-in list page keeps the focus on the control that had it (by id), or else puts
  // it where its markup asks (autofocus: a new filter row's field), as a loaded page would.
  let focused = null;
  document.addEventListener("htmx:beforeSwap", function () {
    focused = (document.activeElement && document.activeElement.id) || null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    const wanted = (focused && document.getElementById(focused)) || document.querySelector("[data-filter-row] [autofocus]");
    if (wanted && document.activeElement !== wanted) wanted.focus();
    focused = null;
  });
})();

// Copy buttons: <button data-copy="ID" hidden> copies the value of the input with that id
// (a new API key's secret). The button is hidden until this script shows it, so a page
// without JavaScript offers only the selectable text.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    if (!navigator.clipboard) return;
    document.querySelectorAll("button[data-copy]").forEach(function (button) { button.hidden = false; });
  });

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    navigator.clipboard.writeText(source.value).then(function () {
      button.textContent = "Copied";
      source.select();
    });
  });
})();

// API names from labels (Setup's object and field editors): an input marked
// data-name-from="<id of the label input>" follows that label as a snake_case suggestion
// ("Close date" → close_date) until the admin types a name of their own; emptying the name
// makes it follow the label again. The server makes the same suggestion for an empty name.
(function () {
  "use strict";

  function suggest(label) {
    return label.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, "_").replace(/^[^a-z]+/, "").slice(0, 40).replace(/^_+|_+$/g, "");
  }

  document.addEventListener("input", function (event) {
    const target = event.target;
    if (target.matches("[data-name-from]")) {
      target.dataset.typed = target.value ? "true" : "";
      return;
    }
    if (!target.id) return;
    document.querySelectorAll('[data-name-from="' + target.id + '"]').forEach(function (name) {
      if (!name.dataset.typed) name.value = suggest(target.value);
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    // a name already there (the form shown again after an error) is the admin's own
    document.querySelectorAll("[data-name-from]").forEach(function (name) {
      const label = document.getElementById(name.dataset.nameFrom);
      if (name.value && (!label || name.value !== suggest(label.value))) name.dataset.typed = "true";
    });
  });
})();
