"""Looking inside models: the layer-by-layer summary table and receptive fields, pictures and reports.
May import runs (a finished run's checkpoint and model), models, nn, optim, data and below; never train.

``summary(model, input_size)`` -> shapes, parameters, activation memory and multiply-adds per layer;
``receptive_field(model, input_size)`` -> receptive field size, jump and start per layer;
``filters`` (classic kernels through conv2d), ``trace_conv2d`` (a convolution window by window),
``show_filters``, ``activation_maps``, ``top_patches``, ``occlusion_map``, ``saliency`` (pictures of a
trained network), ``plots`` (training curves, confusion matrix), ``write_report`` (report.html) and
retrieval by a network's features (``penultimate_features``, ``cosine_neighbours``, ``precision_at_k``);
``detect`` (a detector's boxes, scores and classes per image).
"""

from .receptive_field import ReceptiveField, RFRow, receptive_field
from .summary import LayerRow, Summary, count_parameters, summary
from . import filters, images, plots
from .filters import apply_filter, make_kernel
from .report import build_report, write_report
from .detection import detect
from .dream import Dream, dream
from .retrieval import cosine_neighbours, penultimate_features, precision_at_k, retrieval_precision
from .trace import ConvTrace, trace_conv2d
from .visualize import (TopPatches, activation_maps, activations, heatmap_picture, occlusion_map, saliency,
                        show_filters, top_patches)

__all__ = ["summary", "Summary", "LayerRow", "count_parameters", "receptive_field", "ReceptiveField", "RFRow",
           "filters", "images", "plots", "apply_filter", "make_kernel", "trace_conv2d", "ConvTrace",
           "show_filters", "activation_maps", "activations", "top_patches", "TopPatches", "occlusion_map",
           "saliency", "heatmap_picture", "build_report", "write_report",
           "dream", "Dream", "penultimate_features", "cosine_neighbours", "precision_at_k", "retrieval_precision",
           "detect"]
