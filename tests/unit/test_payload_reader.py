"""The compiled reader of a wire section agrees with the generic, field-by-field one.

:class:`~orderflow.aggregates.payload_reader.Fields` compiles a straight-line
reader for the common case (issue 10); it must give the same values as the
generic loop whenever that loop finds no problem, and give up (None) whenever
it would find one, so that every problem is still named the same way.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orderflow.aggregates.draft import HEADER_FIELDS, SECTIONS
from orderflow.aggregates.lines import LINE_FIELDS
from orderflow.aggregates.payload_reader import Fields, Reader
from orderflow.aggregates.values import CheckoutType, CustomerType, LineType
from tests.strategies import b2b_payloads, wire_lines

ALL_FIELDS = {"order": HEADER_FIELDS, "lines[0]": LINE_FIELDS, **{name: fields for name, (_, fields) in SECTIONS.items()}}

values = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=5),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True),
    st.decimals(allow_nan=True).map(str),
    st.sampled_from(["1", " 2.50 ", "x", "NaN", "Infinity", "2026-02-03", "2026-13-01", "-1"]),
    st.dates(),
    st.sampled_from([*CustomerType, *CheckoutType, *LineType, "OK", "FAILURE", "B2B Customer"]),
    st.builds(Decimal, st.integers(-100, 100)),
    st.lists(st.integers(), max_size=2),
)


def well_typed(kind: type) -> st.SearchStrategy[Any]:
    """Values a section accepts for a field of this kind (wire form, or already converted)."""
    if kind is Decimal:
        return st.one_of(st.sampled_from(["0", "1.5", " 2 ", "100"]), st.builds(Decimal, st.integers(0, 99)), st.integers(0, 9))
    if kind is date:
        return st.one_of(st.dates().map(date.isoformat), st.dates())
    if kind is int:
        return st.integers(1, 9)
    if kind is bool:
        return st.booleans()
    if kind is str:
        return st.one_of(st.text(max_size=3), st.sampled_from(list(CustomerType)))  # a StrEnum member is a str too
    return st.sampled_from(list(kind))


@st.composite
def sections(draw: st.DrawFn) -> tuple[str, Fields, Any]:
    where = draw(st.sampled_from(sorted(ALL_FIELDS)))
    fields = ALL_FIELDS[where]
    data: dict[Any, Any] = {}
    for name, (kind, _) in fields.spec.items():
        if draw(st.booleans()):
            data[name] = draw(well_typed(kind) if draw(st.integers(0, 5)) else values)
    if not draw(st.integers(0, 5)):
        data[draw(st.sampled_from(["unknown", "Ünknown@x", "lines", 0]))] = draw(values)
    return where, fields, draw(st.one_of(st.just(data), st.none(), st.integers(), st.lists(st.integers())) if not draw(st.integers(0, 9)) else st.just(data))


@settings(max_examples=400)
@given(sections())
def test_the_compiled_reader_reads_what_the_generic_reader_reads(case: tuple[str, Fields, Any]) -> None:
    where, fields, data = case
    compiled, generic = Reader(), Reader()
    assert compiled.section(data, fields, where) == generic.section_generically(data, fields, where)
    assert compiled.problems == generic.problems
    if isinstance(data, dict) and generic.problems:
        assert fields.read(data) is None


@settings(max_examples=50)
@given(b2b_payloads(), wire_lines())
def test_well_typed_wire_sections_take_the_compiled_path(payload: dict[str, Any], line: dict[str, Any]) -> None:
    header = {k: v for k, v in payload.items() if k not in ("lines", "shipping", "b2c_customer", "payment")}
    assert HEADER_FIELDS.read(header) == Reader().section_generically(header, HEADER_FIELDS, "order")
    assert LINE_FIELDS.read(line) == Reader().section_generically(line, LINE_FIELDS, "lines[0]")


def test_a_value_of_a_subclass_of_its_kind_is_read_generically_and_alike() -> None:
    class Text(str):
        pass

    data = {"name": Text("Ann"), "requested_delivery_date": date(2026, 3, 1)}
    fields = SECTIONS["shipping"][1]
    assert fields.read(data) is None
    assert Reader().section(data, fields, "shipping")["name"] == "Ann"


@settings(max_examples=50)
@given(wire_lines())
def test_a_line_s_dict_form_holds_exactly_its_fields_in_order(wire: dict[str, Any]) -> None:
    from orderflow.aggregates.lines import LINE_NAMES, Line, read_lines

    (line,) = read_lines(Reader(), [wire])
    data = line.to_dict()
    assert list(data) == list(LINE_NAMES)
    assert data == {name: getattr(line, name) for name in LINE_NAMES} | {"type": line.type.value}
    assert type(data["type"]) is str and Line.from_dict(data) == line
