"""The docs test's own parts: the block extractor, the shape checks, and that a broken doc would fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs.blocks import find_blocks
from tests.docs.runner import Shell, make_recipe
from tests.docs.shape import check_json, check_sample, check_text

pytestmark = pytest.mark.xdist_group("docs")

DOC = """# Title

Text before.

<!-- docs-test: skip "make test" runs the suite -->

    make demo    # builds it
    make test

<!-- docs-test: setup
csmetrics demo --out d
-->
<!-- docs-test: output-of csmetrics feedback --data d -->

    0 billing  complaint  12

```python
import csmetrics
```

    csmetrics health --data DIR [--as-of DATE]
                     [--format table|json]
    curl -H "Authorization: Bearer $TOKEN" \\
      'http://127.0.0.1:8000/api/v1/metrics?last=1'
    [{"metric": "mrr", "value": 1.0}, ...]
"""


def test_blocks_markers_and_commands_are_found(tmp_path: Path) -> None:
    path = tmp_path / "doc.md"
    path.write_text(DOC, encoding="utf-8")
    make, sample, py, mixed = find_blocks(path)
    assert (make.kind, make.line, make.runnable) == ("shell", 7, True)
    demo, test = make.commands
    assert (demo.text, make.skipped(demo), make.skipped(test)) == ("make demo", None, "runs the suite")
    output_of, setup = sample.marker("output-of"), sample.marker("setup")
    assert sample.kind == "other" and output_of is not None and setup is not None
    assert (output_of.arg, setup.arg.strip()) == ("csmetrics feedback --data d", "csmetrics demo --out d")
    assert py.kind == "python" and py.text == "import csmetrics"
    synopsis, curl = mixed.commands
    assert synopsis.is_synopsis and synopsis.text.endswith("[--format table|json]")
    assert not curl.is_synopsis and curl.program == "curl"
    assert curl.text.endswith("'http://127.0.0.1:8000/api/v1/metrics?last=1'")
    assert curl.output == ['[{"metric": "mrr", "value": 1.0}, ...]']


def test_ids_are_not_placeholders(tmp_path: Path) -> None:
    path = tmp_path / "doc.md"
    path.write_text("Run:\n\n    csmetrics survey link --account A000042 --survey nps\n", encoding="utf-8")
    (block,) = find_blocks(path)
    assert not block.commands[0].is_synopsis and block.runnable


def test_json_shape_needs_the_keys_and_the_type_shown() -> None:
    assert check_json('[{"metric": "mrr", ...}]', '[{"metric": "mrr", "period": "2025-01"}]') == []
    assert check_json('{"as_of": "x", "groups": [{"median_months": 1}]}',
                      '{"as_of": "2026-05-31", "groups": [{"median": 1}]}') == [
        "keys shown in the doc but not in the output: median_months"]
    assert check_json('{"a": 1}', "[]")[0] == "the doc shows a JSON object, the output is a JSON list"
    assert check_json("", "not json")[0].startswith("the output is not JSON")


def test_text_shape_takes_rows_with_fewer_columns_and_wrapped_messages() -> None:
    table = "┃ # ┃ theme ┃ kind ┃ comments ┃\n│ 0 │ billing │ complaint │ 12 │ 3% │\n"
    assert check_text(["0 billing  complaint  12"], table) == []
    assert check_text(["0 billing  complaint  13"], table) != []  # a stale figure
    wrapped = "note: the fit is degenerate: it finds\nalmost no drop-out.\n"
    assert check_text(["note: the fit is degenerate: it finds almost no drop-out."], wrapped) == []
    assert check_sample(["https://cs.example.com/survey/eyJh..."], "https://cs.example.com/survey/eyJhIjoi.x", "") == []


def test_make_demo_runs_the_makefiles_csmetrics_commands() -> None:
    recipe = make_recipe("demo")
    assert recipe[0] == "csmetrics demo --out demo-data"
    assert all(line.startswith("csmetrics ") for line in recipe)
    with pytest.raises(AssertionError, match="cannot run"):
        make_recipe("test")


def test_an_id_that_does_not_exist_fails(shell: Shell) -> None:
    """What the README's tour did before: `A-00001` is not a demo id, and the command says so (exit 2)."""
    (bad,) = shell.run("csmetrics survey link --account A-00001 --survey nps")
    assert bad.exit_code == 2, bad.describe()
    (good,) = shell.run("csmetrics survey link --account A000001 --survey nps")
    assert good.exit_code == 0 and good.stdout.startswith("http://127.0.0.1:8000/survey/"), good.describe()
