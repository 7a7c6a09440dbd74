"""The settings table: every setting round-trips through the page's input text, the wire, the stats,
the address, the autosave and the command line, under the names the table gives it."""
from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest
from setting_samples import SAMPLES  # a non-default value per setting, shared with the browser test

from inkling.cli import FLAGS, _parser
from inkling.messages import protocol as p
from inkling.messages.saved_state import SavedState, TrainingSettings, from_bytes, to_bytes
from inkling.messages.tunables import BATCH_SIZE, DEFAULTS, KEPT, LEARNING_RATE, TUNABLES, SettingError, Tunable
from inkling.network.mlp import MLP
from inkling.page.link import link_query, read_link
from inkling.page.settings_markup import fill_page
from inkling.page.stats import stat_texts

ROOT = Path(__file__).resolve().parents[2]
# A signal with every setting at its default.
BASE = dict(seq=1, iteration=0, training=False, loss=None, acc=None, data_len=0, data_futures_len=0,
            samples_per_s=0.0, cache_waits=0, data_errors=0, test_acc=None, samples_seen=0, epoch=0.0, **DEFAULTS)
IDS = [t.field for t in TUNABLES]


class _Elements(HTMLParser):
    """Every element of the page with a data-testid: its tag and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.by_testid: dict[str, tuple[str, dict[str, str | None]]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if named.get("data-testid"):
            self.by_testid[str(named["data-testid"])] = (tag, named)


def _page() -> dict[str, tuple[str, dict[str, str | None]]]:
    elements = _Elements()
    elements.feed(fill_page((ROOT / "web" / "index.html").read_text()))  # as the build writes it
    return elements.by_testid


def test_the_table_covers_every_setting_once() -> None:
    assert set(SAMPLES) == {t.field for t in TUNABLES}  # a new setting needs a sample (tests/setting_samples.py)
    assert all(SAMPLES[t.field] != t.default for t in TUNABLES)
    for name in ("field", "testid", "stat", "cli"):
        assert len({getattr(t, name) for t in TUNABLES}) == len(TUNABLES), name
    assert set(TrainingSettings.__dataclass_fields__) == {t.field for t in KEPT}  # the autosave keeps them all


@pytest.mark.parametrize("setting", TUNABLES, ids=IDS)
def test_the_page_has_an_input_and_a_stat_of_the_right_kind(setting: Tunable) -> None:
    page = _page()
    tag, attrs = page[setting.testid]
    expected = {"choice": ("select", None), "switch": ("input", "checkbox")}.get(setting.kind, ("input", "text"))
    assert (tag, attrs.get("type")) == expected
    assert setting.stat in page


@pytest.mark.parametrize("setting", TUNABLES, ids=IDS)
def test_typed_text_the_wire_and_the_stat_agree(setting: Tunable) -> None:
    value = SAMPLES[setting.field]
    text = setting.text(value)
    assert setting.parse(f" {text} ") == value
    command = p.setting_command_from_text(setting, text)
    assert command.type == setting.command and getattr(command, setting.field) == value
    assert p.decode_command(p.encode_command(command)) == command
    signal = p.decode_signal(p.encode_signal(p.ResponseSignal(**{**BASE, setting.field: value})))
    assert getattr(signal, setting.field) == value
    assert stat_texts(signal)[setting.stat] == text
    with pytest.raises(SettingError, match=setting.label):
        setting.parse("")


def test_a_refused_value_is_named_as_it_was_typed() -> None:
    with pytest.raises(SettingError, match=r"^Learning rate: NaN is refused: must be finite"):
        p.setting_command_from_text(LEARNING_RATE, " NaN ")
    with pytest.raises(SettingError, match=r"^Batch size: 0 is refused: must be between 1 and 4096"):
        p.setting_command_from_text(BATCH_SIZE, "0")


@pytest.mark.parametrize("setting", TUNABLES, ids=IDS)
def test_the_address_carries_it_and_reads_it_back(setting: Tunable) -> None:
    value = SAMPLES[setting.field]
    query = link_query(p.ResponseSignal(**{**BASE, setting.field: value}), "")
    link = read_link(query)
    assert link.refused == []
    if setting.live:
        assert p.setting_command(setting, value) in link.commands
    else:
        assert link.run[setting.field] == value


@pytest.mark.parametrize("setting", KEPT, ids=[t.field for t in KEPT])
def test_the_autosave_keeps_it(setting: Tunable) -> None:
    settings = TrainingSettings(**{**{t.field: BASE[t.field] for t in KEPT}, setting.field: SAMPLES[setting.field]})
    state = from_bytes(to_bytes(SavedState(MLP((784, 4, 10)).get_weights(), settings, 1.7e9)))
    assert getattr(state.settings, setting.field) == SAMPLES[setting.field]
    assert p.setting_command(setting, SAMPLES[setting.field]) in state.settings.commands()


@pytest.mark.parametrize("setting", FLAGS, ids=[t.field for t in FLAGS])
def test_the_command_line_reads_it_the_pages_way(setting: Tunable) -> None:
    value = SAMPLES[setting.field]
    given = [setting.cli] if setting.kind == "switch" else [setting.cli, setting.text(value)]
    args = _parser().parse_args(["train", *given])
    assert getattr(args, setting.field) == value


@pytest.mark.parametrize("setting", TUNABLES, ids=IDS)
def test_the_page_guide_documents_its_input_and_stat(setting: Tunable) -> None:
    guide = (ROOT / "docs" / "page.md").read_text()
    assert f"| `{setting.testid}` |" in guide and f"`{setting.stat}`" in guide
