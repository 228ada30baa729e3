"""Looking inside models: the layer-by-layer summary table and receptive fields.

``summary(model, input_size)`` -> shapes, parameters, activation memory and multiply-adds per layer;
``receptive_field(model, input_size)`` -> receptive field size, jump and start per layer.
"""

from .receptive_field import ReceptiveField, RFRow, receptive_field
from .summary import LayerRow, Summary, count_parameters, summary

__all__ = ["summary", "Summary", "LayerRow", "count_parameters", "receptive_field", "ReceptiveField", "RFRow"]
