"""The ``cnnlab`` command: a thin layer that parses arguments and calls library functions.

Every command has ``--help``. Errors in what the user gave (unknown names, unreadable files, a checkpoint
of another model) print one line and exit with status 2.

Each ``cmd_*`` function imports the parts it uses when it runs, so ``cnnlab --help`` or a mistyped
option answers without loading Numba, the trainer or the inspection code (0.34 s against 0.73 s).
"""

import argparse
import os
import sys

import numpy as np

from .validation import cli_int, cli_real, raised_on_purpose

EXIT_USAGE = 2
EXIT_DIVERGED = 3      # training stopped on a non-finite loss, gradient or statistic
EXIT_INTERRUPTED = 130  # as a shell reports a program stopped by Ctrl-C
EXIT_SOFTWARE = 70     # an internal error, a defect of cnnlab (BSD sysexits' EX_SOFTWARE)


class UserError(Exception):
    """A problem with the command's input: reported in one line, exit status 2."""


# The command line's numbers, checked as they are parsed: finite, in range, one line each.
COUNT = cli_int(0)                             # --epochs: 0 trains nothing, and says so
POSITIVE = cli_int(1)                          # sizes, limits, steps, counts of things shown
NON_NEGATIVE = cli_int(0)                      # padding, a class index
SEED = cli_int(0)                              # NumPy's generators take non-negative seeds
PORT = cli_int(0, 65535)                       # --live: 0 picks a free port
RATE = cli_real(0)                             # learning rate, momentum, weight decay
FRACTION = cli_real(0, 1, high_open=True)      # --val-split


# ---------------------------------------------------------------------------- train
def _share_cores_between_ranks():
    """Under ``mpiexec``, each rank takes its share of the cores (unless the user chose a count)."""
    from .distributed import local_size

    ranks_here = local_size()
    if ranks_here > 1:
        threads = str(max(1, (os.cpu_count() or 1) // ranks_here))
        for name in ("CNNLAB_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
                     "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(name, threads)


def _data_parallel(command):
    """Run ``command`` as one rank of an MPI job when launched by ``mpiexec``: the cores are shared
    between the ranks, an error on one rank stops them all (``distributed.abort_on_error``), and
    the ranks return together (after rank 0's last write) with the same status."""

    def run(args):
        from . import distributed

        _share_cores_between_ranks()
        distributed.init()   # several ranks without mpi4py: an ImportError naming the pip command
        with distributed.abort_on_error(f"cnnlab {args.command}"):
            status = command(args)
            distributed.barrier()
            return status

    run.__doc__, run.__name__ = command.__doc__, command.__name__
    return run


@_data_parallel
def cmd_train(args):
    from . import distributed
    from .train.run import recipe_settings, train_job

    # The model's recipe fills what was not given, here already: an error message names the value used.
    args.epochs, args.batch_size, args.lr = recipe_settings(args.model, args.epochs, args.batch_size, args.lr,
                                                            log=print if distributed.is_main() else None)
    callbacks, server = [], None
    if args.live is not None:
        feed, server = _start_live(args.live, args.live_host)
        callbacks.append(feed)
    try:
        result = train_job(model=args.model, dataset=args.dataset, epochs=args.epochs, batch_size=args.batch_size,
                           lr=args.lr, optimizer=args.optimizer, momentum=args.momentum,
                           weight_decay=args.weight_decay, schedule=args.schedule, seed=args.seed,
                           data_dir=args.data_dir, out=args.out, resume=args.resume,
                           progress=not args.no_progress, fallback=not args.no_fallback, augment=args.augment,
                           force=args.force, allow_changes=args.allow_changes, train_limit=args.train_limit,
                           val_split=args.val_split, early_stop=args.early_stop, resize=args.resize,
                           callbacks=callbacks)
    finally:
        if server is not None:
            server.close()
    if distributed.is_main():  # under mpiexec, rank 0 alone writes the report
        from .inspect.report import report_for_job  # never raises: a report problem is logged

        result.report = report_for_job(result)
    return EXIT_INTERRUPTED if result.interrupted else 0


def _start_live(port, host):
    """The live view's feed and server (``cnnlab train --live``); prints the page's address."""
    from .live.server import start_live

    if not 0 <= port <= 65535:
        raise UserError(f"train: --live PORT must be in 0..65535 (0 picks a free port). Received: {port}")
    try:
        feed, server = start_live(port, host)
    except OSError as e:
        raise UserError(f"train: cannot serve the live view on {host}:{port} ({e.strerror or e}); choose "
                        f"another port, or --live 0 for a free one") from None
    print(f"live view: {server.url} (updates while training runs)", flush=True)
    return feed, server


# ---------------------------------------------------------------------------- evaluate
def cmd_evaluate(args):
    from .metrics import precision_recall_f1, top_k_accuracy
    from .runs.saved import eval_dataset, evaluate_trained, load_trained

    if len(args.checkpoint) > 1:
        return _evaluate_ensemble(args)
    model, meta = load_trained(args.checkpoint[0])
    ds = eval_dataset(meta, args.dataset, args.data_dir)
    if len(ds.classes) != len(meta["classes"]):
        raise UserError(f"evaluate: the checkpoint's model predicts {len(meta['classes'])} classes but dataset "
                        f"{args.dataset or meta['dataset']!r} has {len(ds.classes)}")
    if args.retrieval:
        return _evaluate_retrieval(model, meta, ds, args)
    result = evaluate_trained(model, meta, ds, args.batch_size)
    title = f"{meta['model']} on {args.dataset or meta['dataset']} test set ({len(ds):,} images)"
    task = meta.get("task", "classify")
    if task == "detect":
        from .inspect.detection import format_detection

        print(format_detection(result, meta["classes"][1:], title))
        return 0
    if task == "caption":
        return _print_captions(result, title)
    if task == "segment":
        from .inspect.segmentation import format_segmentation

        print(format_segmentation(result, ds.classes, title))
        return 0
    prf = precision_recall_f1(result["scores"], result["targets"], len(ds.classes))
    k = min(5, len(ds.classes))
    print(title)
    print(f"loss {result['loss']:.4f} | accuracy {result['accuracy'] * 100:.2f}% | "
          f"top-{k} accuracy {top_k_accuracy(result['scores'], result['targets'], k) * 100:.2f}%")
    width = max(len(c) for c in ds.classes)
    print(f"\n{'class':<{width}}  accuracy  precision  recall     f1  support")
    for i, name in enumerate(ds.classes):
        print(f"{name:<{width}}  {result['per_class_accuracy'][i] * 100:7.2f}%  {prf['precision'][i]:9.4f}  "
              f"{prf['recall'][i]:6.4f}  {prf['f1'][i]:.4f}  {prf['support'][i]:7d}")
    for avg in ("macro", "weighted"):
        m = prf[avg]
        print(f"{avg + ' avg':<{width}}  {'':8}  {m['precision']:9.4f}  {m['recall']:6.4f}  {m['f1']:.4f}")
    return 0


def _print_captions(result, title):
    """``cnnlab evaluate`` for a captioner: greedy captions of the test scenes, scored as in training."""
    from .runs.caption import CAPTION, accuracy_by_length

    print(title)
    print(f"{CAPTION.headline(result)} | loss {result['loss']:.4f} (teacher-forced)")
    by_length = accuracy_by_length(result).items()
    print("exact captions by digit count: " + ", ".join(
        f"{k} digit{'s' if k > 1 else ''} {acc * 100:.1f}% of {n:,}" for k, (acc, n) in by_length))
    return 0


def _evaluate_retrieval(model, meta, ds, args):
    """``cnnlab evaluate --retrieval``: precision@k of the test images' nearest test images, by the
    model's penultimate features and by raw pixels."""
    from .inspect.retrieval import retrieval_precision

    if meta.get("task", "classify") != "classify":
        raise UserError(f"evaluate: --retrieval compares images by a classifier's features; {meta['model']} "
                        f"is not a classifier")
    if not 1 <= args.k < len(ds):
        raise UserError(f"evaluate: --k must be in 1..{len(ds) - 1} (the other test images). Received: {args.k}")
    r = retrieval_precision(model, ds, args.k)
    print(f"{meta['model']} on {args.dataset or meta['dataset']} test set ({len(ds):,} images, each querying "
          f"the others; relevant = same class)")
    print(f"retrieval precision@{args.k} {r['features'] * 100:.1f}% (penultimate features, {r['dims']:,} "
          f"dimensions, cosine) | raw pixels {r['pixels'] * 100:.1f}%")
    return 0


def _evaluate_ensemble(args):
    from .runs.ensemble import evaluate_ensemble, format_ensemble

    print(format_ensemble(evaluate_ensemble(args.checkpoint, args.mode, args.dataset, args.data_dir,
                                            args.batch_size)))
    return 0


# ---------------------------------------------------------------------------- predict
def load_image(path, channels, size):
    """An image file of any mode as a float array (C, H, W) in [0, 1], ``channels`` and resized."""
    from .data.image_folder import read_image_array

    try:
        a = read_image_array(path, channels, size, fn="predict")
    except ImportError:
        raise UserError("predict: reading images needs Pillow: pip install Pillow") from None
    return a.transpose(2, 0, 1)


def cmd_predict(args):
    from . import Tensor, no_grad
    from .functional.activation import softmax
    from .runs.saved import load_trained

    model, meta = load_trained(args.checkpoint)
    c, h, w = meta["input_size"]
    mean = np.asarray(meta["normalize"]["mean"], np.float32).reshape(-1, 1, 1)
    std = np.asarray(meta["normalize"]["std"], np.float32).reshape(-1, 1, 1)
    batch = np.stack([(load_image(p, c, (h, w)) - mean) / std for p in args.images])
    if meta.get("task", "classify") == "segment":
        return _predict_masks(model, meta, batch, args)
    if meta.get("task", "classify") == "detect":
        return _predict_boxes(model, meta, batch, batch * std + mean, args)
    if meta.get("task", "classify") == "caption":
        return _predict_captions(model, meta, batch, args)
    with no_grad():
        probs = softmax(model(Tensor(batch)), 1).numpy()
    k = min(args.top, probs.shape[1])
    for path, p in zip(args.images, probs):
        top = np.argsort(-p)[:k]
        print(f"{path}: " + ", ".join(f"{meta['classes'][i]} {p[i] * 100:.1f}%" for i in top))
    return 0


def _output_files(path, count):
    """``cnnlab predict --out PATH`` for ``count`` images: PATH, or PATH-0.png, PATH-1.png, ...; checked."""
    outs = [path] if count == 1 else [f"{os.path.splitext(path)[0]}-{i}.png" for i in range(count)]
    for out in outs:
        _check_output_file(out, "predict")
    return outs


def _predict_masks(model, meta, batch, args):
    """``cnnlab predict`` for a segmentation model: each image's colour mask, and the classes it shows."""
    from .inspect.segmentation import mask_picture, predict_masks, write_masks

    if not args.out:
        raise UserError(f"predict: {meta['model']} predicts a mask per image; give --out MASK.png")
    outs = _output_files(args.out, len(args.images))
    masks = predict_masks(model, batch)
    for path, out, mask in zip(args.images, outs, masks):
        write_masks(out, mask_picture(mask))
        counts = np.bincount(mask.ravel(), minlength=len(meta["classes"]))
        seen = [f"{meta['classes'][c]} {counts[c]} px" for c in np.argsort(-counts) if c and counts[c]]
        print(f"{path}: {', '.join(seen) or 'background only'} -> {out}")
    return 0


def _predict_boxes(model, meta, batch, raw, args):
    """``cnnlab predict`` for a detector: each image's boxes printed and, with --out, drawn."""
    from .inspect.detection import boxes_picture, detect, format_detections
    from .inspect.images import write_png

    outs = _output_files(args.out, len(args.images)) if args.out else [None] * len(args.images)
    names = meta["classes"][1:]
    for path, out, image, found in zip(args.images, outs, raw, detect(model, batch)):
        if out:
            write_png(out, boxes_picture(image, found, names))
        print(format_detections(path, found, names) + (f" -> {out}" if out else ""))
    return 0


def _predict_captions(model, meta, batch, args):
    """``cnnlab predict`` for a captioner: each image's greedy caption."""
    from .runs.caption import caption_text

    if args.out:
        raise UserError(f"predict: {meta['model']} prints a caption per image; --out (a mask or boxes "
                        f"picture) does not apply to it")
    for path, tokens in zip(args.images, model.generate(batch)):
        print(f"{path}: {caption_text(tokens, model.end) or '(no digits)'}")
    return 0


def cmd_retrieve(args):
    """The training images nearest each query image by the penultimate layer's features."""
    from .data import TensorDataset, get_dataset
    from .data.resized import ResizedDataset
    from .inspect.images import write_png
    from .inspect.retrieval import cosine_neighbours, neighbours_picture, penultimate_features
    from .runs.saved import load_trained, set_normalize

    if args.out:
        _check_output_file(args.out, "retrieve")
    model, meta = load_trained(args.checkpoint)
    if meta.get("task", "classify") != "classify":
        raise UserError(f"retrieve: {meta['model']} is not a classifier; retrieval uses a classifier's features")
    c, h, w = meta["input_size"]
    mean = np.asarray(meta["normalize"]["mean"], np.float32).reshape(-1, 1, 1)
    std = np.asarray(meta["normalize"]["std"], np.float32).reshape(-1, 1, 1)
    raw = np.stack([load_image(p, c, (h, w)) for p in args.images])
    gallery = get_dataset(meta["dataset"], root=args.data_dir, train=True)
    if not 1 <= args.k <= len(gallery):
        raise UserError(f"retrieve: --k must be in 1..{len(gallery)}. Received: {args.k}")
    set_normalize(gallery, meta["normalize"]["mean"], meta["normalize"]["std"])
    shown = gallery
    if meta.get("resize"):
        gallery = ResizedDataset(gallery, meta["resize"])
    queries = TensorDataset(((raw - mean) / std).astype(np.float32), np.zeros(len(raw), np.int64))
    index, distance = cosine_neighbours(penultimate_features(model, queries),
                                        penultimate_features(model, gallery), args.k)
    for path, row, dist in zip(args.images, index, distance):
        print(f"{path}: " + ", ".join(f"#{i} {meta['classes'][shown.targets[i]]} {d:.3f}"
                                      for i, d in zip(row, dist)))
    if args.out:
        pictures = [[shown.data[i] / shown.max_value for i in row] for row in index]
        write_png(args.out, neighbours_picture(list(raw), [[np.asarray(p, np.float32) for p in r]
                                                           for r in pictures]))
        print(f"{args.out}: each query (left) and its {args.k} nearest training images")
    return 0


def _standardised_image(path, meta):
    """An image file as the checkpoint's model input (1, C, H, W), and as read, in [0, 1]."""
    c, h, w = meta["input_size"]
    mean = np.asarray(meta["normalize"]["mean"], np.float32).reshape(-1, 1, 1)
    std = np.asarray(meta["normalize"]["std"], np.float32).reshape(-1, 1, 1)
    raw = load_image(path, c, (h, w))
    return ((raw - mean) / std)[None].astype(np.float32), raw


def cmd_saliency(args):
    """Simonyan et al. 2014's class saliency map of an image, drawn beside and over it."""
    from .inspect.images import write_png
    from .inspect.visualize import heatmap_picture, saliency
    from .runs.saved import load_trained

    _check_output_file(args.out, "saliency")
    model, meta = load_trained(args.checkpoint)
    if meta.get("task", "classify") != "classify":
        raise UserError(f"saliency: {meta['model']} is not a classifier; the map is the gradient of a class score")
    x, raw = _standardised_image(args.image, meta)
    if args.target is not None and not 0 <= args.target < len(meta["classes"]):
        raise UserError(f"saliency: --target must be a class index in 0..{len(meta['classes']) - 1}. "
                        f"Received: {args.target}")
    from . import Tensor, no_grad

    with no_grad():
        predicted = int(model(Tensor(x)).numpy()[0].argmax())
    target = predicted if args.target is None else args.target
    heat = saliency(model, x, target)
    write_png(args.out, heatmap_picture(raw[None], heat))
    print(f"{args.image}: predicted {meta['classes'][predicted]}; saliency of {meta['classes'][target]} "
          f"(max over channels of |d score / d pixel|) -> {args.out}")
    return 0


def cmd_dream(args):
    """DeepDream: amplify a layer's activations (or a class score) in an image, or in noise."""
    from .inspect.dream import dream
    from .inspect.images import fit_scale, to_rgb, upscale, write_png
    from .runs.saved import load_trained

    _check_output_file(args.out, "dream")
    if (args.layer is None) == (args.target_class is None):
        raise UserError("dream: give --layer NAME (amplify its activations) or --class N (a class score), "
                        "exactly one")
    for name in ("steps", "octaves"):
        if getattr(args, name) < 1:
            raise UserError(f"dream: --{name} must be a positive int. Received: {getattr(args, name)}")
    model, meta = load_trained(args.checkpoint)
    c, h, w = meta["input_size"]
    mean = np.asarray(meta["normalize"]["mean"], np.float32).reshape(-1, 1, 1)
    std = np.asarray(meta["normalize"]["std"], np.float32).reshape(-1, 1, 1)
    if args.target_class is not None and not 0 <= args.target_class < len(meta["classes"]):
        raise UserError(f"dream: --class must be a class index in 0..{len(meta['classes']) - 1}. "
                        f"Received: {args.target_class}")
    if args.image:
        raw = load_image(args.image, c, (h, w))
    else:  # grey noise
        raw = np.clip(0.5 + 0.1 * np.random.default_rng(args.seed).standard_normal((c, h, w)), 0, 1)
    start = ((raw - mean) / std).astype(np.float32)
    result = dream(model, start, layer=args.layer, target=args.target_class, steps=args.steps,
                   octaves=args.octaves, seed=args.seed)
    picture = np.clip(result.image[0] * std + mean, 0, 1)
    write_png(args.out, upscale(to_rgb(picture), fit_scale(max(h, w), 160)))
    what = f"layer {args.layer}" if args.layer else f"class {meta['classes'][args.target_class]}"
    print(f"{what}: objective {result.start:.4g} -> {result.end:.4g} after {len(result.objectives)} steps "
          f"over {args.octaves} octave(s) -> {args.out}")
    return 0


# ---------------------------------------------------------------------------- filter, visualize, report
def cmd_filter(args):
    from .inspect import filters, images

    try:
        image = images.read_image(args.image, fn="filter")
    except ImportError as e:
        raise UserError(str(e)) from None
    _check_output_file(args.out, "filter")
    picture = filters.filter_picture(image, args.kernel, padding_mode=args.padding_mode)
    images.write_png(args.out, picture)
    k = filters.make_kernel(args.kernel)
    print(f"{args.out}: {args.image} (left) filtered with {args.kernel} ({k.shape[0]}x{k.shape[1]} kernel, right)")
    return 0


def cmd_visualize(args):
    from .inspect.visualize import visualize_checkpoint
    from .runs.rundir import check_output_dir

    check_output_dir(args.out, "visualize")
    try:
        paths = visualize_checkpoint(args.checkpoint, args.what, args.out, image=args.image, layer=args.layer,
                                     channel=args.channel, k=args.k, target=args.target, patch=args.patch,
                                     stride=args.stride, data_dir=args.data_dir, limit=args.limit)
    except ImportError as e:
        raise UserError(str(e)) from None
    for path in paths:
        print(path)
    return 0


def cmd_report(args):
    from .inspect.report import write_report
    from .runs.rundir import check_output_dir

    if args.png is not None:
        check_output_dir(args.png, "report")
    folder = args.run_dir if os.path.isdir(args.run_dir) else os.path.dirname(args.run_dir) or "."
    _check_output_file(args.out or os.path.join(folder, "report.html"), "report")
    try:
        print(write_report(args.run_dir, out=args.out, checkpoint=args.checkpoint, data_dir=args.data_dir,
                           png_dir=args.png))
    except ImportError as e:
        raise UserError(str(e)) from None
    return 0


# ---------------------------------------------------------------------------- models, arith
def cmd_models(args):
    from . import models

    names = models.list_models()
    if args.family:
        names = [n for n in names if n.startswith(args.family)]
        if not names:
            raise UserError(f"models: no model family {args.family!r}. Families are the names' stems, e.g. "
                            f"efficientnet, resnet, vgg")
        if args.family == "efficientnet":
            print(_efficientnet_scaling())
            return 0
    for name in names:
        with models.skip_init():  # counting needs the shapes only, not the random fills
            net = models.get(name)
        size = models.input_size(name)
        n = sum(p.numel() for p in net.parameters())
        print(f"{name:<20} {n:>13,} parameters   input {'x'.join(map(str, size)) if size else '-'}")
    return 0


def _efficientnet_scaling():
    """The compound-scaling table of `cnnlab models --family efficientnet`."""
    from .models.efficientnet import ALPHA, B0_RESOLUTION, BETA, GAMMA, scaling_table

    lines = [f"EfficientNet compound scaling: depth {ALPHA}^phi, width {BETA}^phi, resolution "
             f"{B0_RESOLUTION} x {GAMMA}^phi.",
             "B1-B7 are B0's table scaled by the released coefficients; phi is read off the depth,",
             "the rule's width and resolution for that phi are in brackets.", "",
             f"{'model':<16} {'phi':>4} {'depth':>5} {'width':>11} {'resolution':>12} {'dropout':>7} "
             f"{'blocks':>6} {'head':>5} {'parameters':>11}"]
    for r in scaling_table():
        lines.append(f"{'efficientnet_' + r['variant']:<16} {r['phi']:4.2f} {r['depth']:5.1f} "
                     f"{r['width']:4.2f} ({r['rule_width']:4.2f}) {r['resolution']:5d} ({r['rule_resolution']:4.0f})"
                     f" {r['dropout']:7.1f} {r['layers']:6d} {r['head']:5d} {r['params']:11,}")
    return "\n".join(lines)


def cmd_arith(args):
    from .functional.conv import explain_fit

    w, f, s, p, d = args.input, args.kernel, args.stride, args.padding, args.dilation
    report = explain_fit(w, f, stride=s, padding=p, dilation=d)
    print(f"output size: {report.output_size}")
    print(f"formula: floor((W - D(F-1) - 1 + 2P) / S) + 1 = floor(({w} - {d}*({f}-1) - 1 + 2*{p}) / {s}) + 1"
          f" = {report.output_size}")
    print(f"fit: {report.text}")
    if args.trace or args.trace_input or args.trace_kernel or args.trace_out:
        print()
        print(_arith_trace(args))
    return 0


def _arith_trace(args):
    """The window-by-window trace of ``arith``'s convolution on a random (or the given) input and kernel."""
    from .inspect import filters, images, trace

    w, f = args.input, args.kernel
    if args.trace_input is None and w > 16:
        raise UserError(f"arith: --trace is for small inputs (at most 16 wide, to read every window). "
                        f"Received: --input {w}")
    rng = np.random.default_rng(args.seed)
    x = (filters.parse_matrix(args.trace_input, "arith") if args.trace_input
         else rng.integers(0, 4, size=(w, w)).astype(float))
    k = (filters.parse_matrix(args.trace_kernel, "arith") if args.trace_kernel
         else rng.integers(-1, 2, size=(f, f)).astype(float))
    if x.shape[1] != w or k.shape[1] != f:
        raise UserError(f"arith: --trace-input is {x.shape[0]}x{x.shape[1]} and --trace-kernel {k.shape[0]}x"
                        f"{k.shape[1]}, but --input says W={w} and --kernel F={f}")
    t = trace.trace_conv2d(x, k, stride=args.stride, padding=args.padding, dilation=args.dilation)
    if args.trace_out:
        try:
            images.write_png(args.trace_out, t.picture())
        except ImportError as e:
            raise UserError(str(e)) from None
    return t.text() + (f"\npicture: {args.trace_out}" if args.trace_out else "")


# ---------------------------------------------------------------------------- summary
def cmd_summary(args):
    """Print the layer-by-layer table of a zoo model: shapes, parameters, activation memory, multiply-adds."""
    from . import models
    from .inspect import summary

    default = models.input_size(args.model)  # an unknown name lists the known ones
    size = default
    if args.input:
        try:
            dims = tuple(int(v) for v in args.input.lower().split("x"))
        except ValueError:
            dims = ()
        if not dims or len(dims) > 3 or min(dims) < 1:
            raise UserError(f"summary: --input must be CxHxW, HxW or a side, e.g. 3x224x224. Received: {args.input!r}")
        channels = default[0] if default else 3
        size = dims if len(dims) == 3 else (channels,) + (dims * 2 if len(dims) == 1 else dims)
    if size is None:
        raise UserError(f"summary: model {args.model!r} has no default input size; give --input CxHxW")
    with models.skip_init():  # the table needs shapes, not trained or random weights
        model = models.get(args.model)
    table = summary(model, tuple(size), batch_size=args.batch_size)
    print({"table": str, "markdown": lambda t: t.to_markdown(), "json": lambda t: t.to_json()}[args.format](table))
    return 0


# ---------------------------------------------------------------------------- bench
BENCH_SCRIPT = os.path.join("benchmarks", "bench_vs_torch.py")


def cmd_bench(args):
    """The benchmark is a program beside the package: run it from a checkout, else say how."""
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = os.path.join(checkout, BENCH_SCRIPT)
    if not os.path.isfile(script):
        raise UserError(f"the benchmark is not part of the installed package; from a checkout of cnnlab run "
                        f"`python {BENCH_SCRIPT} --help` (it needs PyTorch)")
    import subprocess

    return subprocess.call([sys.executable, script, *args.bench_args])


# ---------------------------------------------------------------------------- parser
# ---------------------------------------------------------------------------- finetune, export
def _state_dict_weights(path, model):
    """The weights of a PyTorch or safetensors state-dict file as ``{name: array}`` under zoo model
    ``model``'s names (read and checked by ``cnnlab.interop``; training only sees arrays)."""
    from . import backend, models
    from .interop import load_torch_state_dict

    if model is None:
        raise UserError(f"finetune: {path!r} is a state dict; name the architecture with --model "
                        f"(one of {', '.join(models.list_models())})")
    net = models.get(model)
    load_torch_state_dict(net, path)
    return {k: backend.asnumpy(v._data) for k, v in net.state_dict().items()}


def cmd_finetune(args):
    from .train.transfer import STATE_DICT_SUFFIXES, finetune_job

    weights = None
    if os.path.splitext(str(args.checkpoint))[1].lower() in STATE_DICT_SUFFIXES:
        weights = _state_dict_weights(args.checkpoint, args.model)
    result = finetune_job(args.checkpoint, weights=weights, dataset=args.dataset, model=args.model,
                          epochs=args.epochs,
                          batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer, momentum=args.momentum,
                          weight_decay=args.weight_decay, freeze=args.freeze, lr_mult=args.lr_mult,
                          new_head=True if args.new_head else None, augment=args.augment, seed=args.seed,
                          data_dir=args.data_dir, out=args.out, progress=not args.no_progress,
                          force=args.force, val_split=args.val_split)
    return EXIT_INTERRUPTED if result["interrupted"] else 0


def cmd_export(args):
    from .interop import export_onnx, save_torch_state_dict
    from .runs.saved import load_trained

    stem = os.path.splitext(args.checkpoint)[0]
    out = args.out or stem + "." + args.format
    _check_output_file(out, "export")
    model, meta = load_trained(args.checkpoint)
    if args.format == "onnx":
        out = export_onnx(model, out, meta["input_size"], opset=args.opset)
    else:
        out = save_torch_state_dict(model, out)
    print(f"wrote {out} ({meta['model']}, input {'x'.join(map(str, meta['input_size']))})")
    return 0


def _check_output_file(path, fn):
    """One line (exit 2) now, not a traceback after the work, when ``path`` cannot be written."""
    from .runs.rundir import check_output_file

    check_output_file(path, fn)


class _Parser(argparse.ArgumentParser):
    """argparse with the CLI's one-line errors (``cnnlab train: error: argument --lr: ...``)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    """The ``cnnlab`` parser: one subcommand per ``_add_*`` function below, listed by ``--help`` in
    ``COMMANDS``' order."""
    parser = _Parser(prog="cnnlab", description="Convolutional neural networks from first "
                                     "principles: train, evaluate, inspect.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def _command(sub, name, run, help, description, **options):
    """The parser of the command ``name``: ``cnnlab --help`` lists it with ``help``, its own ``--help``
    opens with ``description``, and parsing it selects ``run`` (``args.func``)."""
    p = sub.add_parser(name, help=help, description=description, **options)
    p.set_defaults(func=run)
    return p


# ---------------------------------------------------------------------------- options shared by commands
OPTIMIZERS = ["sgd", "adam", "adamw", "rmsprop"]


def _add_optimization(p, epochs, batch_size, lr, optimizer, helps):
    """``--epochs`` to ``--weight-decay``: how ``train`` and ``finetune`` optimise, with their defaults;
    ``helps``: the help text by option (``epochs``, ``batch_size``, ``lr``, ``momentum``)."""
    p.add_argument("--epochs", type=COUNT, default=epochs, help=helps.get("epochs"))
    p.add_argument("--batch-size", type=POSITIVE, default=batch_size, help=helps.get("batch_size"))
    p.add_argument("--lr", type=RATE, default=lr, help=helps.get("lr"))
    p.add_argument("--optimizer", default=optimizer, choices=OPTIMIZERS)
    p.add_argument("--momentum", type=RATE, default=0.9, help=helps.get("momentum"))
    p.add_argument("--weight-decay", type=RATE, default=0.0)


def _add_force(p):
    p.add_argument("--force", action="store_true",
                   help="take over OUT's lock file even if another training seems to hold it")


def _add_no_progress(p):
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_val_split(p, help):
    p.add_argument("--val-split", type=FRACTION, default=0.1, metavar="FRACTION", help=help)


def _add_data_dir(p):
    """``--data-dir``, as every command that reads a dataset takes it."""
    p.add_argument("--data-dir", default=None, help="dataset directory (default: $CNNLAB_DATA, else ~/.cache/cnnlab)")


def _add_checkpoint_and_images(p, one=False):
    """``CHECKPOINT IMAGE [IMAGE ...]``: a trained model and the image files it is run on (``one``:
    exactly one, as ``args.image``)."""
    p.add_argument("checkpoint")
    if one:
        p.add_argument("image", metavar="IMAGE")
    else:
        p.add_argument("images", nargs="+", metavar="IMAGE")


# ---------------------------------------------------------------------------- one function per command
def _add_train(sub):
    p = _command(sub, "train", cmd_train, help="train a zoo model on a dataset",
                 description="Train a model, print a progress bar per epoch and the test accuracy, and "
                 "checkpoint every epoch (Ctrl-C saves one and stops; --resume continues).")
    p.add_argument("--model", default="fashion_cnn", help="zoo model name (see `cnnlab models`)")
    p.add_argument("--dataset", default="fashion-mnist",
                   help="fashion-mnist, mnist, cifar10, digits, fashion-mnist-mini (bundled) or mnist-scenes "
                   "(64x64 scenes of MNIST digits, for segmentation, detection and captioning)")
    # None: the model's recipe (models.registry.default_recipe) chooses, else train's defaults.
    _add_optimization(p, epochs=None, batch_size=None, lr=None, optimizer="adam", helps={
        "epochs": "default: the model's recipe, else 10", "batch_size": "default: the model's recipe, else 64",
        "lr": "learning rate (default: the model's recipe, else 1e-3 for adam, 0.01 for sgd)",
        "momentum": "momentum for sgd and rmsprop"})
    p.add_argument("--schedule", default="cosine", choices=["cosine", "plateau", "none"],
                   help="learning-rate schedule over the epochs")
    p.add_argument("--seed", type=SEED, default=0)
    _add_data_dir(p)
    p.add_argument("--out", default=None, help="run directory for checkpoints (default: runs/MODEL-DATASET)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.npz")
    p.add_argument("--allow-changes", action="store_true",
                   help="with --resume: continue with settings that differ from the checkpoint's "
                   "(another optimizer starts from a fresh state)")
    _add_force(p)
    _add_no_progress(p)
    p.add_argument("--no-fallback", action="store_true",
                   help="fail instead of training on the bundled fashion-mnist-mini when the dataset "
                   "is unavailable")
    p.add_argument("--train-limit", type=POSITIVE, default=None, metavar="N",
                   help="train on N training images drawn at random (quick runs and tests)")
    _add_train_extras(p)


def _add_train_extras(p):
    """``train``'s augmentation, live view, validation split, early stopping and resizing."""
    from .data.transforms.recipes import describe_augmentations

    p.add_argument("--augment", default=None, metavar="NAMES",
                   help="training augmentations, comma-separated, each NAME or NAME:VALUE (e.g. flip,crop:4,pca): "
                   + describe_augmentations())
    p.add_argument("--live", type=PORT, nargs="?", const=8765, default=None, metavar="PORT",
                   help="serve a live view of the training at http://127.0.0.1:PORT/ (default port 8765; "
                   "0 picks a free one): curves, learning rate, filters, activation maps, confusion matrix")
    p.add_argument("--live-host", default="127.0.0.1", metavar="HOST",
                   help="address the live view binds to (default 127.0.0.1: this machine only)")
    _add_val_split(p, "share of the training set held out, class-balanced and drawn with --seed, as the "
                   "validation set that picks best.npz, drives --schedule plateau and --early-stop; the test "
                   "set is evaluated once, after training (default 0.1; 0: train on everything, no selection)")
    p.add_argument("--early-stop", type=POSITIVE, default=None, metavar="N",
                   help="stop after N epochs without a better validation accuracy")
    p.add_argument("--resize", type=POSITIVE, default=None, metavar="N",
                   help="resize every image to NxN as it is read, for models that need larger inputs than the "
                   "dataset's (e.g. --model alexnet --dataset mnist --resize 67)")


def _add_evaluate(sub):
    p = _command(sub, "evaluate", cmd_evaluate, help="loss, accuracy and per-class metrics of a checkpoint",
                 description="Evaluate a checkpoint on its dataset's test split; several checkpoints: "
                 "each one and their ensemble, with the ensemble's gain.")
    p.add_argument("checkpoint", nargs="+", metavar="CHECKPOINT")
    p.add_argument("--mode", default="mean", choices=["mean", "vote"],
                   help="how several checkpoints are combined: mean of softmax outputs or majority vote")
    p.add_argument("--dataset", default=None, help="dataset to evaluate on (default: the one it was trained on)")
    _add_data_dir(p)
    p.add_argument("--batch-size", type=POSITIVE, default=500)
    p.add_argument("--retrieval", action="store_true",
                   help="image retrieval instead: precision@K of each test image's K nearest other test "
                   "images by the penultimate layer's features (cosine), beside raw pixels")
    p.add_argument("--k", type=int, default=8, help="--retrieval: neighbours per query (default 8)")


def _add_predict(sub):
    p = _command(sub, "predict", cmd_predict, help="classify image files with a checkpoint",
                 description="Print the most likely classes for each image (PNG/JPEG), converted to the "
                 "model's channels and size and standardised as in training.")
    _add_checkpoint_and_images(p)
    p.add_argument("--top", type=POSITIVE, default=3, help="how many classes to show per image")
    p.add_argument("--out", default=None, metavar="PNG",
                   help="segmentation models: the colour mask to write; detectors: the image with its boxes "
                   "(several images: PNG-0.png, ...)")


def _add_retrieve(sub):
    p = _command(sub, "retrieve", cmd_retrieve, help="the training images nearest image files by a model's features",
                 description="Print, for each image, the K training images whose penultimate-layer "
                 "features are nearest (cosine distance), with index, class and distance; --out writes "
                 "a grid of each query and its neighbours (Krizhevsky et al. 2012, Figure 4).")
    _add_checkpoint_and_images(p)
    p.add_argument("--k", type=int, default=8, help="neighbours per image (default 8)")
    p.add_argument("--out", default=None, metavar="PNG", help="grid picture of queries and neighbours")
    _add_data_dir(p)


def _add_saliency(sub):
    p = _command(sub, "saliency", cmd_saliency, help="class saliency map of an image (Simonyan et al. 2014)",
                 description="Write the gradient of the top class score (or --target's) with respect to "
                 "the input pixels, max over channels, beside and over the image.")
    _add_checkpoint_and_images(p, one=True)
    p.add_argument("--out", required=True, metavar="PNG")
    p.add_argument("--target", type=int, default=None, help="class index (default: the predicted class)")


def _add_dream(sub):
    p = _command(sub, "dream", cmd_dream, help="DeepDream: amplify what a layer (or a class) sees in an image",
                 description="Gradient ascent on the input (DeepDream's jitter, octaves and normalised "
                 "steps) to raise the mean square of a layer's activations, or a class score; starts "
                 "from --image or grey noise.")
    p.add_argument("checkpoint")
    p.add_argument("--layer", default=None, help="layer name, e.g. features.4")
    p.add_argument("--class", dest="target_class", type=int, default=None, metavar="N",
                   help="instead of --layer: raise class N's score")
    p.add_argument("--image", default=None, help="start image (default: grey noise)")
    p.add_argument("--steps", type=int, default=10, help="gradient steps per octave")
    p.add_argument("--octaves", type=int, default=3, help="image scales, each 1.4 times the previous")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise and the jitter")
    p.add_argument("--out", required=True, metavar="PNG")


def _add_filter(sub):
    p = _command(sub, "filter", cmd_filter, help="apply a classic filter (blur, edges, Gabor, ...) to an image",
                 description="Convolve every channel of an image with a hand-made kernel (through the "
                 "network's own conv2d) and write the original and the result side by side.")
    p.add_argument("image", help="image file (PNG, JPEG, ...)")
    p.add_argument("--kernel", required=True,
                   help="identity, box[:SIZE], gaussian[:SIGMA], sharpen, sobel-x, sobel-y, prewitt-x, prewitt-y, "
                   "laplacian, gabor:theta=45,wavelength=6,sigma=3,phase=0,aspect=0.5, or rows like "
                   "'1 0 -1; 2 0 -2; 1 0 -1'")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--padding-mode", default="replicate", choices=["replicate", "reflect", "circular", "zeros"],
                   help="how the border is extended")


def _add_visualize(sub):
    p = _command(sub, "visualize", cmd_visualize,
                 help="pictures of a trained model: filters, activations, top patches, ...",
                 description="Write PNG pictures of a checkpoint: first-layer filters, activation maps, the "
                 "test patches that excite each channel most, occlusion sensitivity or saliency.")
    p.add_argument("checkpoint")
    p.add_argument("--what", required=True, choices=["filters", "activations", "top-patches", "occlusion",
                                                      "saliency"])
    p.add_argument("--image", default=None,
                   help="image file, or test:N for test image N (default test:0); for activations, occlusion, saliency")
    p.add_argument("--layer", default=None, help="layer name, e.g. features.4 (default: the first convolution)")
    p.add_argument("--channel", default=None,
                   help="top-patches: channels like 5, 0-7 or 1,4,9 (default: every channel)")
    p.add_argument("--k", type=POSITIVE, default=9, help="top-patches: patches per channel")
    p.add_argument("--limit", type=POSITIVE, default=None, help="top-patches: scan at most this many test images")
    p.add_argument("--target", type=NON_NEGATIVE, default=None, help="occlusion, saliency: class index (default: predicted)")
    p.add_argument("--patch", type=POSITIVE, default=None, help="occlusion: square side in pixels (default: side/4)")
    p.add_argument("--stride", type=POSITIVE, default=None, help="occlusion: step in pixels (default: side/8)")
    _add_data_dir(p)
    p.add_argument("--out", required=True, help="folder for the PNG files")


def _add_report(sub):
    p = _command(sub, "report", cmd_report, help="write a run's report.html: curves, metrics, mistakes, filters",
                 description="Write one self-contained HTML page (pictures embedded) for a training run: "
                 "model summary, training curves, test metrics, confusion matrix, misclassified examples, "
                 "first-layer filters and activation maps.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder of cnnlab train (or a checkpoint file)")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (default: RUN_DIR/last.npz)")
    p.add_argument("--out", default=None, help="HTML file (default: RUN_DIR/report.html)")
    _add_data_dir(p)
    p.add_argument("--png", default=None, metavar="DIR",
                   help="also write the plots (training curves, confusion matrix, precision/recall) as PNG files")


def _add_models(sub):
    p = _command(sub, "models", cmd_models, help="list the model zoo with parameter counts",
                 description="Every registered model with its parameter count and expected input size.")
    p.add_argument("--family", default=None, help="only the models whose names start with FAMILY; "
                   "efficientnet prints its compound-scaling table")


def _add_arith(sub):
    p = _command(sub, "arith", cmd_arith, help="output size of a convolution or pooling, with the formula",
                 description="Print floor((W - D(F-1) - 1 + 2P) / S) + 1 with the numbers filled in and "
                 "whether the windows tile the input exactly.")
    p.add_argument("--input", type=POSITIVE, required=True, help="input width W")
    p.add_argument("--kernel", type=POSITIVE, required=True, help="kernel size F")
    p.add_argument("--stride", type=POSITIVE, default=1)
    p.add_argument("--padding", type=NON_NEGATIVE, default=0)
    p.add_argument("--dilation", type=POSITIVE, default=1)
    p.add_argument("--trace", action="store_true",
                   help="also print every window: its values, the products with the kernel and their sum")
    p.add_argument("--trace-input", default=None, metavar="ROWS",
                   help="input values for --trace, rows separated by ';' (default: random integers 0..3)")
    p.add_argument("--trace-kernel", default=None, metavar="ROWS",
                   help="kernel values for --trace, e.g. '1 0 -1; 2 0 -2; 1 0 -1' (default: random -1..1)")
    p.add_argument("--trace-out", default=None, metavar="PNG", help="also draw the trace, one frame per window")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the random trace input and kernel")


def _add_bench(sub):
    # Every argument, options included, is the benchmark's: none are parsed here (prefix "+").
    p = _command(sub, "bench", cmd_bench, help="benchmark cnnlab against PyTorch, side by side (from a checkout)",
                 description="Runs benchmarks/bench_vs_torch.py of a checkout with the arguments given "
                 "(`python benchmarks/bench_vs_torch.py --help` lists them); the benchmark is not part of the "
                 "installed package.", prefix_chars="+", add_help=False)
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments for benchmarks/bench_vs_torch.py")


def _add_summary(sub):
    p = _command(sub, "summary", cmd_summary,
                 help="layer-by-layer table of a model: shapes, parameters, memory, mult-adds",
                 description="Run one forward pass of a zoo model and print, per layer, the output shape, "
                 "parameters, activation memory and multiply-adds, with the totals (per image).")
    p.add_argument("model", help="zoo model name (see `cnnlab models`)")
    p.add_argument("--input", default=None, help="input size CxHxW (default: the model's, e.g. 3x224x224)")
    p.add_argument("--format", default="table", choices=["table", "markdown", "json"])
    p.add_argument("--batch-size", type=POSITIVE, default=1, help="images in the traced batch (totals are per image)")


def _add_finetune(sub):
    p = _command(sub, "finetune", cmd_finetune, help="fine-tune a trained model on another dataset (transfer learning)",
                 description="Load a checkpoint (or a PyTorch/safetensors state dict with --model), replace "
                 "its classifier when the dataset has other classes, freeze layers, and train with per-layer "
                 "learning rates.")
    p.add_argument("checkpoint", help="a cnnlab checkpoint (.npz) or a .pt/.pth/.safetensors state dict")
    p.add_argument("--dataset", default="cifar10", help="dataset to fine-tune on")
    p.add_argument("--model", default=None, help="zoo model of a state-dict file (not needed for checkpoints)")
    p.add_argument("--freeze", default=None, metavar="GLOBS",
                   help="comma-separated globs of layers to freeze, e.g. 'features.*' or 'conv1,bn1,layer1'")
    p.add_argument("--lr-mult", default=None, metavar="GLOB=MULT,...",
                   help="per-layer learning-rate multipliers, e.g. 'features.*=0.01,classifier.0=0.1'")
    p.add_argument("--new-head", action="store_true",
                   help="replace the classifier even when the class count is unchanged")
    _add_optimization(p, epochs=5, batch_size=64, lr=0.01, optimizer="sgd",
                      helps={"lr": "base learning rate (a multiplier of 1)"})
    p.add_argument("--augment", default=None, metavar="NAMES", help="as for `cnnlab train --augment`")
    p.add_argument("--seed", type=SEED, default=0)
    _add_data_dir(p)
    p.add_argument("--out", default=None, help="run directory (default: runs/MODEL-DATASET-finetune)")
    _add_force(p)
    _add_val_split(p, "as for `cnnlab train`: the held-out validation share (the test set is evaluated once)")
    _add_no_progress(p)


def _add_export(sub):
    p = _command(sub, "export", cmd_export, help="export a checkpoint to ONNX or a PyTorch state dict",
                 description="Write a trained model as an ONNX graph (needs the onnx package) or as a "
                 "torchvision-named state dict (.safetensors, or .pt with PyTorch).")
    p.add_argument("checkpoint")
    p.add_argument("--format", default="onnx", choices=["onnx", "safetensors", "pt"])
    p.add_argument("--out", default=None, help="output file (default: the checkpoint's name with the format's suffix)")
    p.add_argument("--opset", type=POSITIVE, default=17, help="ONNX opset version")


# The commands in the order ``cnnlab --help`` lists them.
COMMANDS = (_add_train, _add_evaluate, _add_predict, _add_retrieve, _add_saliency, _add_dream, _add_filter,
            _add_visualize, _add_report, _add_models, _add_arith, _add_bench, _add_summary, _add_finetune,
            _add_export)


def missing_package_message(error):
    """One line for an ImportError: cnnlab's messages name the pip command; a bare one gets one."""
    name = getattr(error, "name", None)
    if isinstance(error, ModuleNotFoundError) and name and "pip install" not in str(error):
        package = PIP_NAMES.get(name.split(".")[0], name.split(".")[0])
        return f"this needs the {package} package, which is not installed: pip install {package}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


# Import names whose pip package is called differently.
PIP_NAMES = {"sklearn": "scikit-learn", "PIL": "Pillow"}


def main(argv=None):
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:   # said by the command's parser: "cnnlab train: error: unrecognized arguments: ..."
        commands = parser._subparsers._group_actions[0].choices
        commands.get(getattr(args, "command", None), parser).error(
            f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    from .backend import ConfigError, check_settings
    from .data.download import DownloadError
    from .train.trainer import TrainingDiverged

    try:
        check_settings()   # a bad CNNLAB_* variable is one line, exit 2, in every command
        with _sigterm_as_interrupt(), _file_size_limit_as_error():
            return args.func(args)
    except (UserError, ConfigError, ValueError, TypeError, FileNotFoundError, DownloadError) as e:
        if os.environ.get("CNNLAB_DEBUG"):
            raise
        if not (isinstance(e, (UserError, ConfigError, OSError)) or raised_on_purpose(e)):
            return _internal_error(args.command, e)
        print(f"cnnlab {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except TrainingDiverged as e:
        if os.environ.get("CNNLAB_DEBUG"):
            raise
        print(f"cnnlab {args.command}: error: {e}", file=sys.stderr)
        return EXIT_DIVERGED
    except KeyboardInterrupt as e:
        detail = f" ({e})" if str(e) else ""
        print(f"cnnlab {args.command}: interrupted{detail}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ImportError as e:  # an optional package is missing: one line with the pip command
        if os.environ.get("CNNLAB_DEBUG"):
            raise
        print(f"cnnlab {args.command}: error: {missing_package_message(e)}", file=sys.stderr)
        return 1
    except (MemoryError, OSError) as e:  # the machine ran out (memory, disk): one line, a hint
        if os.environ.get("CNNLAB_DEBUG"):
            raise
        print(f"cnnlab {args.command}: error: {resource_message(args, e)}", file=sys.stderr)
        return EXIT_RESOURCES
    except Exception as e:  # anything else is a defect of cnnlab, not the user's mistake
        if os.environ.get("CNNLAB_DEBUG"):
            raise
        return _internal_error(args.command, e)


def _internal_error(command, error):
    """One line for a defect: what failed and where to report it (CNNLAB_DEBUG=1: traceback)."""
    first = str(error).splitlines()[0] if str(error) else ""
    print(f"cnnlab {command}: internal error (a bug in cnnlab, not in what was given): "
          f"{type(error).__name__}: {first}; please report it with the command that failed and the "
          f"traceback that CNNLAB_DEBUG=1 prints", file=sys.stderr)
    return EXIT_SOFTWARE


def resource_message(args, error):
    """One line for running out of memory or disk: what ran out, where, and what to change."""
    import errno

    command = getattr(args, "command", "")
    if isinstance(error, MemoryError) or getattr(error, "errno", None) == errno.ENOMEM:
        detail = str(error).splitlines()[0] if str(error) else ""
        detail = f" ({detail[:1].lower() + detail[1:]})" if detail else ""
        knobs = [f"--{name.replace('_', '-')} (now {getattr(args, name)})"
                 for name in ("batch_size", "resize") if getattr(args, name, None)]
        change = f"lower {' or '.join(knobs)}" if knobs else "use smaller inputs"
        return f"out of memory{detail}; {change}, or free memory for it"
    where = f" writing {error.filename!r}" if getattr(error, "filename", None) else ""
    out = "--out" if hasattr(args, "out") else "output path"
    kept = ("; the last checkpoint written is intact" if command in ("train", "finetune")
            else "; files already in place are intact")
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        what = ("no space left on the device" if error.errno == errno.ENOSPC
                else "disk quota exceeded")
        return f"{what}{where}: free some space there or choose another {out}{kept}"
    if error.errno == errno.EFBIG:
        return (f"file too large{where}: it exceeds the file-size limit (ulimit -f) or the file "
                f"system's largest file; raise the limit or choose another {out}{kept}")
    reason = error.strerror or str(error) or type(error).__name__
    return f"{reason[:1].lower() + reason[1:]}{where}"


EXIT_RESOURCES = 1  # out of memory or disk: the machine ran out, not a mistake in what was given


class _file_size_limit_as_error:
    """While a command runs, a write beyond ``ulimit -f`` fails with EFBIG (one line) instead of
    SIGXFSZ killing the process; the previous disposition is restored after."""

    def __enter__(self):
        import signal
        import threading

        self.previous = None
        if hasattr(signal, "SIGXFSZ") and threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        return self

    def __exit__(self, *exc):
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGXFSZ, self.previous)
        return False


class _sigterm_as_interrupt:
    """While a command runs, SIGTERM (what schedulers send) stops it as Ctrl-C does: one line.

    The CLI opts in here, for the command's duration only; the previous handler is restored after.
    """

    def __enter__(self):
        import signal
        import threading

        self.previous = None
        if hasattr(signal, "SIGTERM") and threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        return self

    def __exit__(self, *exc):
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        return False


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
