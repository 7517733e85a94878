"""Driving Prefect's web UI with Playwright and Debian's Chromium, for the browser test.

    with chromium() as browser:                              # /usr/bin/chromium, no browser download
        page = browser.new_page()
        page.goto(f"{server.ui_url}/deployments/deployment/{deployment_id}/run")   # the Custom run form
        controls = form_controls(page)                        # every rendered field: label path, kind, value
        set_number(page, ["config", "Cycles"], 1)
        choose(page, ["config", "Evaluation", "Dataset"], "digits")

Prefect renders a flow's parameters from their JSON schema: each field is a `.schema-form-property`
with its label (Prefect appends " (Optional)" to fields with a default) and one control. A field is
found by its path of labels from the parameter down (["config", "Evaluation", "Dataset"]), so that
"Seed" in one section is never confused with "Seed" in another. `expected_controls` says, from the
RunConfig schema, what every field must render as; the test compares both.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package `chromium` (make test installs it as root)

# Each rendered field: the labels from the top parameter down, the kind of its control and its value;
# for a field that may take several forms (anyOf), the switch's buttons and which one is selected.
_FORM_CONTROLS_JS = """() => [...document.querySelectorAll('.schema-form-property')].map(p => {
  const label = el => el.querySelector(':scope > .p-label__header .schema-form-property__label')
      .textContent.trim().replace(/ \\(Optional\\)$/, '');
  const path = [];
  for (let n = p; n; n = n.parentElement) if (n.classList && n.classList.contains('schema-form-property')) path.unshift(label(n));
  const body = p.querySelector(':scope > .p-label__body');
  const field = body.querySelector(':scope > fieldset');
  const q = selector => field && field.querySelector(':scope > ' + selector);
  const options = [...body.querySelectorAll(':scope > .p-button-group > button')]
      .map(b => ({text: b.textContent.trim(), selected: b.getAttribute('aria-selected') === 'true'}));
  let kind = null, value = null;
  if (q('.schema-form-property-object')) kind = 'object';
  else if (q('.p-select')) { kind = 'select'; value = q('.p-select').querySelector('.p-select-button__value')?.textContent.trim() ?? ''; }
  else if (q('.p-number-input')) { kind = 'number'; value = q('.p-number-input').querySelector('input').value; }
  else if (q('.p-textarea')) { kind = 'text'; value = q('.p-textarea').querySelector('textarea').value; }
  else if (q('.p-toggle')) { kind = 'toggle'; value = q('.p-toggle').querySelector('[role=switch]').getAttribute('aria-checked'); }
  else if (q('.schema-form-property-array')) {
    kind = 'list';
    value = [...q('.schema-form-property-array').querySelectorAll('.schema-form-property-array-item textarea')].map(c => c.value);
  }
  else if (q('.schema-form-property-kind-json')) {  // the editor's text, without its gutter (line numbers, fold markers)
    kind = 'json';
    const editor = q('.schema-form-property-kind-json');
    value = (editor.querySelector('.cm-content') || editor).innerText;
  }
  else if (q('.schema-form-property-null')) kind = 'empty';
  return {path, kind, value, options};
})"""


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium from the distribution, driven by Playwright (no `playwright install`)."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} not found: install the 'chromium' package (make test does, as root)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def page_kept_on_failure(page, directory: Path) -> Iterator[None]:
    """When the block fails, save what the browser showed (failure.png, failure.html) beside the screenshots."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(directory / "failure.png"))
            (directory / "failure.html").write_text(page.content())
        raise


def form_controls(page) -> dict[tuple[str, ...], dict[str, Any]]:
    """Every field the page's schema form renders, by its label path."""
    page.wait_for_selector(".schema-form-property")
    return {tuple(item["path"]): item for item in page.evaluate(_FORM_CONTROLS_JS)}


def expected_controls(schema: dict[str, Any], parameter: str, default: dict[str, Any], title) -> dict[tuple[str, ...], dict[str, Any]]:
    """What each field of a pydantic parameter must render as (kind, value shown, switch labels), from its
    JSON schema and the form's initial value `default`; `title(name)` is a field's label."""
    expected: dict[tuple[str, ...], dict[str, Any]] = {(parameter,): {"kind": "object"}}

    def walk(node: dict[str, Any], values: dict[str, Any], path: tuple[str, ...]) -> None:
        for name, prop in node["properties"].items():
            here, value = (*path, title(name)), values[name]
            if "$ref" in prop:
                expected[here] = {"kind": "object"}
                walk(schema["$defs"][prop["$ref"].rsplit("/", 1)[1]], value, here)
            elif "anyOf" in prop:
                branches = prop["anyOf"]
                chosen = next(i for i, b in enumerate(branches) if _fits(b, value))
                expected[here] = {"options": [b["title"] for b in branches], "selected": branches[chosen]["title"],
                                  **_control(branches[chosen], value)}
            else:
                expected[here] = _control(prop, value)

    walk(schema, default, (parameter,))
    return expected


def _fits(branch: dict[str, Any], value: Any) -> bool:
    if value is None:
        return branch.get("type") == "null"
    if "enum" in branch:
        return value in branch["enum"]
    if "pattern" in branch:
        return re.match(branch["pattern"], str(value)) is not None
    return branch.get("type") != "null"


def _control(prop: dict[str, Any], value: Any) -> dict[str, Any]:
    kind = prop.get("type")
    if "enum" in prop:
        return {"kind": "select", "value": str(value)}
    if kind == "null":
        return {"kind": "empty"}
    if kind == "boolean":
        return {"kind": "toggle", "value": "true" if value else "false"}
    if kind in ("integer", "number"):
        return {"kind": "number", "value": float(value)}
    if kind == "array":
        return {"kind": "list", "value": [str(item) for item in value]}
    if kind == "object":
        return {"kind": "json", "value": value}
    return {"kind": "text", "value": str(value)}


def _parsed(text: str) -> object:
    """The JSON an editor shows; what does not parse stays text, so the comparison reports it."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def compare_controls(rendered: dict[tuple[str, ...], dict[str, Any]], expected: dict[tuple[str, ...], dict[str, Any]]) -> list[str]:
    """The differences between what the form shows and what it should; empty when they agree."""
    import json

    problems = []
    for path, want in expected.items():
        got = rendered.get(path)
        if got is None:
            problems.append(f"{' / '.join(path)}: not in the form")
            continue
        if got["kind"] != want["kind"]:
            problems.append(f"{' / '.join(path)}: a {got['kind']} control, expected a {want['kind']}")
        elif want["kind"] == "number" and float(got["value"]) != want["value"]:
            problems.append(f"{' / '.join(path)}: shows {got['value']}, expected {want['value']}")
        elif want["kind"] == "json" and _parsed(got["value"]) != want["value"]:
            problems.append(f"{' / '.join(path)}: shows {got['value']!r}, expected {want['value']}")
        elif want["kind"] in ("select", "text", "toggle", "list") and got["value"] != want["value"]:
            problems.append(f"{' / '.join(path)}: shows {got['value']!r}, expected {want['value']!r}")
        if "options" in want:
            labels = [option["text"] for option in got["options"]]
            selected = [option["text"] for option in got["options"] if option["selected"]]
            if labels != want["options"] or selected != [want["selected"]]:
                problems.append(f"{' / '.join(path)}: switch {labels} on {selected}, expected {want['options']} on {want['selected']}")
    return problems


def form_field(page, path: list[str]):
    """The `.schema-form-property` at a label path (["config", "Evaluation", "Dataset"])."""
    scope = page
    for label in path:
        exact = re.compile(rf"^{re.escape(label)}( \(Optional\))?$")
        own_label = page.locator(":scope > .p-label__header .schema-form-property__label", has_text=exact)
        scope = scope.locator(".schema-form-property").filter(has=own_label).first
    return scope


def set_number(page, path: list[str], value: float) -> None:
    control = form_field(page, path).locator(":scope > .p-label__body > fieldset input[type=number]")
    control.fill(str(value))
    control.blur()


def choose(page, path: list[str], option: str) -> None:
    """Pick `option` in the select of the field at `path`: focus it, open it with the space bar (a mouse
    click on Prefect's select does not open its list in headless Chromium), click the option."""
    form_field(page, path).locator(":scope > .p-label__body > fieldset .p-select-button__control").focus()
    page.keyboard.press(" ")
    page.get_by_role("listbox").get_by_role("option", name=option, exact=True).click()
