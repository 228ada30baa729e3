"""A property of the whole command line: whatever values it is given, every command either works or
says what is wrong in one line with exit status 2 (3 for a diverging training), never a traceback.

Hypothesis draws the argument values (numbers with nan, inf, huge and negative ones, strings, paths
of every kind) and the environment (``CNNLAB_DATA``) for each command, which runs in this process
through ``cnnlab.cli.main``. Training is capped at a few steps: at most one epoch of at most 64
``digits`` images. The draws are derandomized, so CI runs the same fixed examples every time.
"""

import contextlib
import os
import shutil
import tempfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnnlab.cli import main  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore")

# Examples per command; fixed draws (derandomize) keep CI fast and repeatable. A longer hunt:
# CNNLAB_PROPERTY_EXAMPLES=200 pytest tests/test_cli_property.py
EXAMPLES = int(os.environ.get("CNNLAB_PROPERTY_EXAMPLES", 12))

# ---------------------------------------------------------------------------- values
NUMBER_TEXTS = ["0", "-1", "1", "2", "nan", "-nan", "inf", "-inf", "1e400", "1e-400", "1e30", "-0",
                "0.5", "1_000", "0x10", "", " 3 ", "\u0663", "9" * 30, "-" + "9" * 30, "1e", "x"]
numbers = st.one_of(st.sampled_from(NUMBER_TEXTS),
                    st.integers(-10 ** 30, 10 ** 30).map(str),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.text(max_size=6).filter(lambda s: "\x00" not in s))
small_counts = st.one_of(st.sampled_from(["-1", "0", "1", "2", "nan", "x", "1e30", str(2 ** 63)]))
strings = st.one_of(st.sampled_from(["", " ", "-", "none", "x" * 200, "..", "\u00e9\u00e8", "a,b"]),
                    st.text(max_size=12).filter(lambda s: "\x00" not in s))
PATH_KINDS = ["missing", "missing-dir/x", "dir", "file", "empty-file", "under-a-file", "dev-null",
              "checkpoint", "run-dir", "image", "dot", "trailing-slash"]
AUGMENTS = ["flip", "vflip", "crop", "resized-crop", "rotate", "affine", "elastic", "jitter", "pca",
            "erase", "spin", ""]


@st.composite
def augment_specs(draw):
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(AUGMENTS))
        parts.append(name + (f":{draw(numbers)}" if draw(st.booleans()) else ""))
    return ",".join(parts)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A trained checkpoint, an image and the other things a drawn path may name."""
    pytest.importorskip("sklearn")
    from PIL import Image

    root = tmp_path_factory.mktemp("assets")
    run = root / "run"
    assert main(["train", "--dataset", "digits", "--no-progress", "--epochs", "1",
                 "--train-limit", "64", "--out", str(run)]) == 0
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(root / "image.png")
    return root


def make_path(kind, assets, work):
    """A path of ``kind`` in the example's own folder ``work`` (copies: nothing is shared)."""
    if kind == "checkpoint":
        return str(shutil.copy(assets / "run" / "last.npz", work / "ckpt.npz"))
    if kind == "run-dir":
        if not (work / "run").exists():
            shutil.copytree(assets / "run", work / "run")
        return str(work / "run")
    if kind == "image":
        return str(shutil.copy(assets / "image.png", work / "image.png"))
    if kind in ("file", "under-a-file"):
        (work / "a-file").write_text("not what you think")
        return str(work / "a-file" / "x") if kind == "under-a-file" else str(work / "a-file")
    if kind == "empty-file":
        (work / "empty").write_bytes(b"")
        return str(work / "empty")
    if kind == "dir":
        (work / "a-dir").mkdir(exist_ok=True)
        return str(work / "a-dir")
    return {"missing": str(work / "missing"), "missing-dir/x": str(work / "nowhere" / "x"),
            "dev-null": os.devnull, "dot": str(work / "."),
            "trailing-slash": str(work / "out") + os.sep}[kind]


paths = st.sampled_from(PATH_KINDS)


@st.composite
def options(draw, table):
    """A drawn subset of ``table``'s options (name -> strategy of a value, or None for a flag)."""
    argv = []
    for name, values in table.items():
        if draw(st.booleans()):
            argv += [name] if values is None else [name, draw(values)]
    return argv


TRAIN = {"--epochs": small_counts, "--batch-size": numbers, "--lr": numbers,
         "--momentum": numbers, "--weight-decay": numbers, "--seed": numbers,
         "--val-split": numbers, "--early-stop": numbers, "--optimizer": st.sampled_from(
             ["sgd", "adam", "adamw", "rmsprop", "lbfgs"]),
         "--schedule": st.sampled_from(["cosine", "plateau", "none", "step"]),
         "--resize": st.sampled_from(["-1", "0", "1", "7", "8", "12", "x", "nan", "1e30"]),
         "--model": st.sampled_from(["fashion_cnn", "lenet5", "nosuchnet", "", "alexnet"]),
         "--augment": augment_specs(), "--live": st.sampled_from(["-1", "70000", "x", "nan"]),
         "--resume": None, "--allow-changes": None, "--force": None}
COMMANDS = {   # command -> (positional path kinds, options table, paths given as options)
    "train": ([], TRAIN, ["--out"]),
    "evaluate": (["ckpt"], {"--batch-size": numbers, "--dataset": st.sampled_from(
        ["digits", "mnist-ish", ""]), "--mode": st.sampled_from(["mean", "vote", "max"])}, []),
    "predict": (["ckpt", "img"], {"--top": numbers}, []),
    "arith": ([], {"--input": numbers, "--kernel": numbers, "--stride": numbers,
                   "--padding": numbers, "--dilation": numbers, "--seed": numbers,
                   "--trace": None, "--trace-input": strings, "--trace-kernel": strings}, []),
    "summary": ([], {"--input": st.sampled_from(["3x32x32", "1x8x8", "0", "x", "8", "1x1",
                                                 "2x3x4x5", "-1x8x8", "", "nan"]),
                     "--format": st.sampled_from(["table", "json", "markdown", "xml"])}, []),
    "models": ([], {"--family": strings}, []),
    "filter": (["img"], {"--kernel": st.one_of(strings, st.sampled_from(
        ["box:3", "box:0", "box:nan", "gaussian:inf", "gabor:theta=nan", "1 0; 0", "sobel-x"])),
        "--padding-mode": st.sampled_from(["zeros", "reflect", "wrap"])}, ["--out"]),
    "export": (["ckpt"], {"--format": st.sampled_from(["safetensors", "onnx", "pt", "tf"]),
                          "--opset": numbers}, ["--out"]),
    "visualize": (["ckpt"], {"--what": st.sampled_from(["filters", "activations", "saliency"]),
                             "--layer": strings, "--image": st.sampled_from(
                                 ["test:0", "test:-1", "test:x", "test:99999"]),
                             "--target": numbers, "--k": numbers}, ["--out"]),
    "report": (["run"], {}, ["--out"]),
    "finetune": (["ckpt"], {"--epochs": small_counts, "--lr": numbers, "--momentum": numbers,
                            "--weight-decay": numbers, "--seed": numbers,
                            "--val-split": numbers, "--freeze": strings, "--lr-mult": strings,
                            "--new-head": None}, ["--out"]),
}
# What keeps a drawn training small: appended last, so they win over valid drawn values (a bad
# drawn value is still refused: argparse checks every occurrence).
CAPS = {"train": ["--dataset", "digits", "--no-progress", "--train-limit", "64", "--epochs", "1"],
        "finetune": ["--dataset", "digits", "--no-progress", "--epochs", "1", "--batch-size",
                     "256"],
        "visualize": ["--limit", "8"], "summary": ["--batch-size", "1"]}


@contextlib.contextmanager
def environment(data_dir, cwd):
    saved, saved_cwd = os.environ.get("CNNLAB_DATA"), os.getcwd()
    if data_dir is not None:
        os.environ["CNNLAB_DATA"] = data_dir
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        if saved is None:
            os.environ.pop("CNNLAB_DATA", None)
        else:
            os.environ["CNNLAB_DATA"] = saved


@pytest.mark.parametrize("command", COMMANDS)
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_command_works_or_says_what_is_wrong_in_one_line(command, data, assets, capfd):
    positional, table, path_options = COMMANDS[command]
    with tempfile.TemporaryDirectory() as tmp:
        work = __import__("pathlib").Path(tmp)
        argv = [command]
        for slot in positional:
            kind = data.draw(st.sampled_from({"ckpt": ["checkpoint"] * 4 + PATH_KINDS,
                                              "img": ["image"] * 4 + PATH_KINDS,
                                              "run": ["run-dir"] * 4 + PATH_KINDS}[slot]))
            argv.append(make_path(kind, assets, work))
        argv += data.draw(options(table))
        for name in path_options:
            argv += [name, make_path(data.draw(paths), assets, work)]
        argv += CAPS.get(command, [])
        if command == "arith":   # the two required options, drawn or plain
            if "--input" not in argv:
                argv += ["--input", data.draw(st.sampled_from(["7", "0", "nan"]))]
            argv += ["--kernel", "3"] * ("--kernel" not in argv)
        if command == "summary":
            argv.insert(1, data.draw(st.sampled_from(["lenet5", "fashion_cnn", "nosuchnet", ""])))
        if command == "filter" and "--kernel" not in argv:
            argv += ["--kernel", "sobel-x"]
        if command == "visualize" and "--what" not in argv:
            argv += ["--what", "filters"]
        data_dir = data.draw(st.one_of(st.none(), paths.map(lambda k: make_path(k, assets, work))))
        capfd.readouterr()
        with environment(data_dir, work):
            try:
                code = main(argv)
            except SystemExit as e:   # argparse refuses a value from inside parse_args
                code = e.code
        out, err = capfd.readouterr()
    assert "Traceback" not in out + err, (argv, err)
    allowed = {"train": (0, 2, 3), "finetune": (0, 2, 3)}.get(command, (0, 2))
    assert code in allowed, (argv, code, err)
    if code != 0:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"cnnlab {command}: error: "), (argv, err)
