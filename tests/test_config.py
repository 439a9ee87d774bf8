from dataclasses import dataclass, field

import pytest

from imrkit.config import apply_overrides, from_dict, load_config, to_dict
from imrkit.errors import ConfigError


@dataclass
class Optim:
    lr: float = 0.1
    milestones: tuple[int, ...] = (10, 20)


@dataclass
class Run:
    name: str = "demo"
    epochs: int = 3
    mixed: bool = False
    size: tuple[int, int] = (112, 112)
    mode: str | None = None
    optim: Optim = field(default_factory=Optim)


def test_overrides_parse_types_and_nested_keys():
    config = apply_overrides(Run(), ["epochs=5", "optim.lr=1e-3", "size=[64, 96]", "name=x"])
    assert config.epochs == 5 and config.optim.lr == pytest.approx(1e-3)
    assert config.size == (64, 96) and config.name == "x"
    assert Run().epochs == 3  # the defaults are untouched


def test_a_list_of_bare_words_is_a_list_of_strings_as_a_bare_word_is_a_string():
    @dataclass
    class Suite:
        only: tuple[str, ...] = ()
        seeds: tuple[int, ...] = (0,)

    config = apply_overrides(Suite(), ["only=[scratch, pmsp+ctp,scratch/none]", "seeds=[0,1]"])
    assert config.only == ("scratch", "pmsp+ctp", "scratch/none") and config.seeds == (0, 1)
    assert apply_overrides(Suite(), ['only=["scratch","aot"]']).only == ("scratch", "aot")
    assert apply_overrides(Suite(), ["only=[]"]).only == ()
    with pytest.raises(ConfigError, match=r"seeds\[1\]: expected an integer"):
        apply_overrides(Suite(), ["seeds=[0, one]"])
    with pytest.raises(ConfigError, match="expected a sequence"):
        apply_overrides(Suite(), ["only=[scratch, [aot]"])  # unbalanced: left a string


@pytest.mark.parametrize(
    "override, message",
    [
        ("epochs=two", "epochs"),
        ("epoch=2", "unknown key"),
        ("optim.momentum=0.9", "unknown key"),
        ("mixed=1", "true/false"),
        ("size=[1, 2, 3]", "expected 2 items"),
        ("epochs", "key=value"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(Run(), [override])


def test_int_promotes_to_float_but_not_the_reverse():
    assert apply_overrides(Run(), ["optim.lr=1"]).optim.lr == 1.0
    with pytest.raises(ConfigError):
        apply_overrides(Run(), ["epochs=1.5"])


def test_file_then_overrides(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("epochs = 7\n[optim]\nlr = 0.5\n")
    config = load_config(Run, path, ["optim.lr=0.25"])
    assert (config.epochs, config.optim.lr, config.optim.milestones) == (7, 0.25, (10, 20))
    path.write_text("[optim]\nwarmup = 1\n")
    with pytest.raises(ConfigError, match="warmup"):
        load_config(Run, path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(Run, tmp_path / "missing.toml")


def test_round_trip_through_dict():
    config = Run(mode="fast", optim=Optim(lr=0.01))
    assert from_dict(Run, to_dict(config)) == config
