"""Shared task helpers: the depth rule, surface names, alpha compositing."""

import pytest
from PIL import Image

from harness.errors import UserError
from tasks.taxonomy import derive_depths, parents, surface, to_rgb

RELATIONS = {
    "eagle": ("animal", "bird", "raptor"),
    "owl": ("animal", "bird", "raptor"),
    "duck": ("animal", "bird"),
    "dog": ("animal", "mammal", "pet"),
    "cat": ("animal", "mammal", "pet"),
    "goldfish": ("animal", "pet"),
    "apple": ("food", "fruit"),
    "bread": ("food",),
}


def test_strict_subsets_nest_and_depth_is_longest_chain():
    depths = derive_depths(RELATIONS)
    assert depths["animal"] == 1 and depths["food"] == 1
    assert depths["bird"] == 2 and depths["fruit"] == 2 and depths["pet"] == 2
    assert depths["raptor"] == 3  # raptor < bird < animal
    assert depths["mammal"] == 3  # {dog, cat} < pet {dog, cat, goldfish} < animal: the longest chain counts
    assert set(parents(RELATIONS)["mammal"]) == {"animal", "pet"}


def test_equal_leaf_sets_do_not_nest():
    rel = {"a": ("x", "y"), "b": ("x", "y")}
    assert derive_depths(rel) == {"x": 1, "y": 1}


def test_containment_below_one_nests_near_subsets():
    rel = {
        "a": ("big", "small"),
        "b": ("big", "small"),
        "c": ("big", "small"),
        "d": ("small",),
        "e": ("big",),
    }
    rel["f"] = ("big",)
    assert derive_depths(rel)["small"] == 1
    assert derive_depths(rel, containment=0.75)["small"] == 2
    with pytest.raises(UserError):
        derive_depths(rel, containment=0)


def test_surface_names():
    assert surface("air_conditioner") == "air conditioner"
    assert surface("bat1") == "bat"
    assert surface("flip_flop", {"flip_flop": "flip-flop"}) == "flip-flop"
    assert surface("musical instrument") == "musical instrument"


def test_alpha_is_composited_on_white():
    im = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    im.putpixel((0, 0), (255, 0, 0, 255))
    rgb = to_rgb(im)
    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == (255, 0, 0)
    assert rgb.getpixel((3, 3)) == (255, 255, 255)
    half = to_rgb(Image.new("LA", (1, 1), (0, 128)))
    assert 120 <= half.getpixel((0, 0))[0] <= 135
