"""analytics.privacy: the k rule, the shop rules and secondary suppression."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.analytics import privacy
from loyalty.analytics.privacy import Cell


def cell(key: str = "a", shoppers: int = 50, shops: int = 5, amount: int = 10_000,
         top: int = 2_000) -> Cell:
    return Cell(key=key, label=key, purchases=shoppers * 2, amount_cents=amount,
                shoppers=shoppers, shops=shops, top_shop_amount_cents=top)


def test_nine_shoppers_are_hidden_and_ten_are_shown() -> None:
    assert privacy.suppress([cell(shoppers=9)], 10)[0].suppressed
    shown = privacy.suppress([cell(shoppers=10)], 10)[0]
    assert not shown.suppressed and shown.shoppers == 10 and shown.amount_cents == 10_000
    # k comes from the scheme: with k = 5, nine shoppers are enough.
    assert not privacy.suppress([cell(shoppers=9)], 5)[0].suppressed


def test_two_shops_are_hidden_three_are_shown_except_in_the_per_shop_report() -> None:
    assert privacy.suppress([cell(shops=2)], 10)[0].suppressed
    assert not privacy.suppress([cell(shops=3)], 10)[0].suppressed
    assert not privacy.suppress([cell(shops=1, top=10_000)], 10, per_shop=True)[0].suppressed
    # The per-shop report still hides a shop with too few shoppers.
    assert privacy.suppress([cell(shops=1, shoppers=9)], 10, per_shop=True)[0].suppressed


def test_a_shop_with_more_than_half_of_the_amount_hides_the_cell() -> None:
    assert privacy.suppress([cell(amount=10_000, top=5_001)], 10)[0].suppressed
    assert not privacy.suppress([cell(amount=10_000, top=5_000)], 10)[0].suppressed


def test_hidden_cells_carry_no_figures() -> None:
    hidden = privacy.suppress([Cell("a", "a", 3, 900, 3, 5, 100, points=9,
                                    extra={"returning": 2})], 10)[0]
    assert hidden.suppressed
    assert (hidden.purchases, hidden.amount_cents, hidden.shoppers, hidden.points) == (
        None, None, None, None)
    assert hidden.extra == {"returning": None}
    assert privacy.public_row(hidden)["amount_cents"] is None


def test_one_hidden_cell_takes_the_smallest_visible_one_with_it() -> None:
    cells = [cell("a", amount=50_000, top=1), cell("b", shoppers=4, amount=900),
             cell("c", amount=20_000, top=1), cell("d", amount=30_000, top=1)]
    out = {c.key: c.suppressed for c in privacy.suppress(cells, 10)}
    assert out == {"a": False, "b": True, "c": True, "d": False}


def test_a_hidden_cell_knows_which_rule_hid_it() -> None:
    """The page says why: a sector with 316 shoppers is not "too few shoppers"."""
    cells = [cell("few", shoppers=4), cell("one-shop", shoppers=316, shops=2),
             cell("dominated", shoppers=316, amount=10_000, top=6_000),
             cell("big", amount=90_000, top=1), cell("small", amount=20_000, top=1)]
    out = {c.key: c.hidden_by for c in privacy.suppress(cells, 10)}
    assert out == {"few": "shoppers", "one-shop": "shops", "dominated": "shops",
                   "big": None, "small": None}
    lone = [cell("x", shoppers=316, shops=1), cell("y", amount=5_000, top=1),
            cell("z", amount=90_000, top=1)]
    out = {c.key: c.hidden_by for c in privacy.suppress(lone, 10)}
    assert out == {"x": "shops", "y": "secondary", "z": None}
    assert "hidden_by" not in privacy.public_row(privacy.suppress(lone, 10)[0])


def test_exports_refuse_personal_fields() -> None:
    bad = Cell("a", "a", 1, 1, 10, 3, 0, extra={"shopper_key": 1})
    try:
        privacy.public_row(bad)
    except privacy.PrivacyError:
        pass
    else:
        raise AssertionError("a pseudonym went into an export")
    assert "shops" not in privacy.public_row(cell())
    assert "top_shop_amount_cents" not in privacy.public_row(cell())


cells_strategy = st.lists(
    st.builds(
        lambda shoppers, shops, amount, share: cell(
            shoppers=shoppers, shops=shops, amount=amount, top=int(amount * share)
        ),
        st.integers(0, 40), st.integers(1, 8), st.integers(1, 10**7), st.floats(0.05, 1.0),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(cells=cells_strategy, k=st.integers(2, 20), per_shop=st.booleans())
def test_the_total_minus_the_visible_cells_never_gives_back_one_hidden_cell(
    cells: list[Cell], k: int, per_shop: bool
) -> None:
    cells = [Cell(**{**c.__dict__, "key": str(i)}) for i, c in enumerate(cells)]
    out = privacy.suppress(cells, k, per_shop=per_shop)
    hidden = [c for c, o in zip(cells, out, strict=True) if o.suppressed]
    visible = [o for o in out if not o.suppressed]
    total = sum(c.amount_cents or 0 for c in cells)
    leftover = total - sum(o.amount_cents or 0 for o in visible)
    if len(cells) > 1:
        # Never exactly one hidden cell: the leftover is a sum of at least two.
        assert len(hidden) != 1
    if len(cells) == 1:
        # A report of one cell: its total is that cell, and the total passes the same rules.
        assert privacy.suppress_total(cells[0], k, per_shop=per_shop).suppressed == bool(hidden)
    elif hidden:
        # The leftover sums at least two positive hidden amounts, so it is larger
        # than any one of them: subtraction recovers no single cell.
        assert all(leftover > (h.amount_cents or 0) for h in hidden)
    # Every cell that breaks a rule is hidden, whatever else happens.
    for c, o in zip(cells, out, strict=True):
        if privacy.violates(c, k, per_shop=per_shop):
            assert o.suppressed
        if not o.suppressed:
            assert o.amount_cents == c.amount_cents and o.shoppers == c.shoppers


def test_a_change_within_the_noise_of_two_released_figures_is_not_shown() -> None:
    # Exact figures: any change.
    assert privacy.change_pct(110, 100) == 10.0
    assert privacy.change_pct(None, 100) is None and privacy.change_pct(110, 0) is None
    # Released figures with margins of 30 and 40: the difference's margin is 50.
    assert privacy.change_pct(150, 100, 30, 40) is None
    assert privacy.change_pct(151, 100, 30, 40) == 51.0
    assert privacy.change_pct(49, 100, 30, 40) == -51.0
    # A noisy figure at or below zero is no base for a percentage.
    assert privacy.change_pct(5_000, -200, 30, 40) is None
