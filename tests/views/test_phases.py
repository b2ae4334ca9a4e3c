"""``display_names``: the one phase name → shown name mapping every view and page uses."""

from __future__ import annotations

from ebsdlib.views.phases import display_names, phases_from_names


def test_display_names_map_stored_names_to_shown_names_in_phase_order():
    phases = phases_from_names(["Ni", "Ni3Al", "Ni3Fe", "Cu"])
    names = display_names(phases)
    assert names == {"Ni": "Ni", "Ni3Al": "Ni₃Al", "Ni3Fe": "Ni₃Fe", "Cu": "Cu"}
    assert list(names) == ["Ni", "Ni3Al", "Ni3Fe", "Cu"]
    assert display_names([]) == {}
