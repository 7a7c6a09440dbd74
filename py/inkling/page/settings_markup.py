"""The page's settings inputs and their stats, written from the settings table into ``index.html``
by the build (`inkling_build.site`), so a new setting appears on the page from its row alone.

Pure text: it runs in CPython at build time (and in tests), never in the browser.
"""

from __future__ import annotations

from html import escape

from ..messages.tunables import DASH, TUNABLES, Tunable

SETTINGS_MARK = "<!-- SETTINGS: written by the build from inkling.messages.tunables -->"
STATS_MARK = "<!-- SETTING STATS: written by the build from inkling.messages.tunables -->"
_INPUT_MODES = {"whole": "numeric", "real": "decimal", "layers": "text"}


def _title(tooltip: str) -> str:
    return f' title="{escape(tooltip)}"' if tooltip else ""


def setting_input(setting: Tunable, indent: str = "") -> str:
    """The labelled input of one setting: a text input, a select of its choices or a checkbox."""
    page, testid = setting.page, escape(setting.testid)
    name = escape(page.name or setting.label)
    hint = f" <small>{escape(page.hint)}</small>" if page.hint else ""
    if setting.kind == "switch":
        return (f'{indent}<label for="{testid}" class="switch"{_title(page.tooltip)}>\n'
                f'{indent}  <input id="{testid}" data-testid="{testid}" type="checkbox"> {name}{hint}\n'
                f"{indent}</label>")
    if setting.kind == "choice":
        names = page.choice_names or setting.choices
        options = "".join(f'\n{indent}    <option value="{escape(value)}">{escape(shown)}</option>'
                          for value, shown in zip(setting.choices, names))
        field = f'<select id="{testid}" data-testid="{testid}">{options}\n{indent}  </select>'
    else:
        placeholder = f' placeholder="{escape(page.placeholder)}"' if page.placeholder else ""
        field = (f'<input id="{testid}" data-testid="{testid}" type="text" inputmode="{_INPUT_MODES[setting.kind]}" '
                 f'autocomplete="off" spellcheck="false"{placeholder}>')
    return (f'{indent}<label for="{testid}"{_title(page.tooltip)}>{name}{hint}\n'
            f"{indent}  {field}\n{indent}</label>")


def setting_stat(setting: Tunable, indent: str = "") -> str:
    """The stats panel's line of one setting (``–`` until the worker reports it)."""
    name = escape(setting.page.name or setting.label)
    about = escape(setting.about[:1].upper() + setting.about[1:])
    return f'{indent}<div><dt title="{about}">{name}</dt><dd data-testid="{escape(setting.stat)}">{DASH}</dd></div>'


def fill_page(html: str) -> str:
    """``index.html`` with every setting's input and stat written in at the marks, in the table's order
    (the inputs' switches last: each spans a row of the two-column form).

    Raises:
        ValueError: A mark is missing (the page would have no settings).
    """
    inputs = sorted(TUNABLES, key=lambda t: t.kind == "switch")
    for mark, render, settings in ((SETTINGS_MARK, setting_input, inputs), (STATS_MARK, setting_stat, TUNABLES)):
        at = html.find(mark)
        if at < 0:
            raise ValueError(f"index.html has no {mark!r} to write the settings at")
        indent = html[html.rfind("\n", 0, at) + 1:at]
        written = "\n".join(render(t, indent) for t in settings).lstrip()
        html = html.replace(mark, written, 1)
    return html
